-- Role translations and meta (ELEVATE's userRole fields), modules.
ALTER TABLE roles ADD COLUMN translations text;
ALTER TABLE roles ADD COLUMN meta text;

CREATE TABLE modules (
    id          bigint PRIMARY KEY,
    module_uuid text NOT NULL UNIQUE,
    code        text NOT NULL,
    status      text NOT NULL,
    created_at  text NOT NULL,
    updated_at  text NOT NULL
);

INSERT INTO id_counters (kind, last_id) VALUES ('module', 0);
