-- Organisations can be related to others (set by system admins).
ALTER TABLE organizations ADD COLUMN related_orgs text NOT NULL DEFAULT '[]';

-- Role requests (ELEVATE's org requests), read model.
CREATE TABLE role_requests (
    id              integer PRIMARY KEY,
    request_uuid    text NOT NULL UNIQUE,
    requester_uuid  text NOT NULL,
    requester_id    integer NOT NULL,
    role_id         integer NOT NULL,
    organization_id integer NOT NULL,
    status          text NOT NULL,
    handled_by      integer,
    form_data       text NOT NULL DEFAULT '{}',
    created_at      text NOT NULL,
    updated_at      text NOT NULL
);
CREATE INDEX role_requests_org_status ON role_requests (organization_id, status, id);
CREATE INDEX role_requests_requester ON role_requests (requester_uuid);

CREATE TABLE role_request_comments (
    request_uuid text NOT NULL,
    sequence     integer NOT NULL,
    position     integer NOT NULL,
    comment      text NOT NULL,
    created_at   text NOT NULL,
    PRIMARY KEY (request_uuid, sequence, position)
);

-- Numeric ids of role requests.
INSERT INTO id_counters (kind, last_id) VALUES ('role_request', 0);
