-- ELEVATE's forms (`form/create`, `form/update`, `form/read`): one per type
-- and organisation (the claim `form_type` keeps that), read by id or by type
-- and sub-type, falling back to the default organisation's.
CREATE TABLE forms (
    id              bigint PRIMARY KEY,
    form_uuid       text   NOT NULL UNIQUE,
    organization_id bigint NOT NULL,
    type            text   NOT NULL,
    sub_type        text   NOT NULL,
    data            text   NOT NULL,
    version         bigint NOT NULL,
    created_at      text   NOT NULL,
    updated_at      text   NOT NULL
);
CREATE INDEX forms_by_type ON forms (organization_id, type, sub_type);
INSERT INTO id_counters (kind, last_id) VALUES ('form', 0);
