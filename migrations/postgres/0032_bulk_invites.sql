-- Bulk invite jobs (`org-admin/bulkUserCreate`): the list of
-- `org-admin/getBulkInvitesFilesList` and the worker's queue (jobs still
-- UPLOADED). Progress itself is the job's events: see src/bulk_invites.
CREATE TABLE bulk_invites (
    id              bigint PRIMARY KEY,
    job_uuid        text   NOT NULL UNIQUE,
    organization_id bigint NOT NULL,
    name            text   NOT NULL,
    input_path      text   NOT NULL,
    output_path     text,
    status          text   NOT NULL,
    failure         text,
    created_by      bigint NOT NULL,
    created_count   bigint NOT NULL,
    existing_count  bigint NOT NULL,
    invalid_count   bigint NOT NULL,
    created_at      text   NOT NULL,
    updated_at      text   NOT NULL
);
CREATE INDEX bulk_invites_by_organization ON bulk_invites (organization_id, status, id);
CREATE INDEX bulk_invites_by_status ON bulk_invites (status, id);
INSERT INTO id_counters (kind, last_id) VALUES ('bulk_invite', 0);
