-- Permissions (ELEVATE's shape) and which roles hold them: authorisation is data.
CREATE TABLE permissions (
    id              integer PRIMARY KEY,
    permission_uuid text NOT NULL UNIQUE,
    code            text NOT NULL,
    module          text NOT NULL,
    request_type    text NOT NULL,
    api_path        text NOT NULL,
    status          text NOT NULL,
    created_at      text NOT NULL,
    updated_at      text NOT NULL
);

CREATE TABLE role_permissions (
    role_id       integer NOT NULL,
    permission_id integer NOT NULL,
    PRIMARY KEY (role_id, permission_id)
);

INSERT INTO id_counters (kind, last_id) VALUES ('permission', 100);
