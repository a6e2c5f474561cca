-- ELEVATE's notification templates (`notification/template`): one per code
-- and organisation, rendered for the outbox's messages; an organisation
-- without one of a code uses the default organisation's, else the built-in.
CREATE TABLE notification_templates (
    id              integer PRIMARY KEY,
    template_uuid   text   NOT NULL UNIQUE,
    organization_id integer NOT NULL,
    code            text   NOT NULL,
    type            text   NOT NULL,
    subject         text   NOT NULL,
    body            text   NOT NULL,
    email_header    text,
    email_footer    text,
    status          text   NOT NULL,
    created_by      integer NOT NULL,
    created_at      text   NOT NULL,
    updated_by      integer NOT NULL,
    updated_at      text   NOT NULL
);
CREATE UNIQUE INDEX notification_templates_by_code ON notification_templates (organization_id, code);
INSERT INTO id_counters (kind, last_id) VALUES ('notification_template', 0);
