-- The event log. Columns up to `metadata` are the ones postgres-es writes;
-- the rest have defaults the crate's INSERT leaves alone (GUIDE §2, §3).
CREATE TABLE events (
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    sequence       integer NOT NULL CHECK (sequence >= 0),
    event_type     text   NOT NULL,
    event_version  text   NOT NULL,
    payload        text   NOT NULL,
    metadata       text   NOT NULL,
    position       integer,
    recorded_at    text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE UNIQUE INDEX events_position ON events (position);

-- Where each projection has got to in the log.
CREATE TABLE projection_checkpoints (
    name           text PRIMARY KEY,
    transaction_id integer NOT NULL DEFAULT 0,
    position       integer NOT NULL DEFAULT 0,
    updated_at     text   NOT NULL DEFAULT ''
);

-- Stable numeric ids (ELEVATE surfaces use them); ids 1..7 are the default roles, 1 the default organisation.
CREATE TABLE id_counters (
    kind    text PRIMARY KEY,
    last_id integer NOT NULL
);
INSERT INTO id_counters (kind, last_id) VALUES ('user', 0), ('organization', 1), ('role', 7);

-- Server-side sessions: one per login, which is also the refresh-token family.
CREATE TABLE sessions (
    id             text PRIMARY KEY,
    user_uuid      text NOT NULL,
    refresh_jti    text NOT NULL,
    created_at     text NOT NULL,
    expires_at     text NOT NULL,
    revoked_at     text,
    revoked_reason text
);
CREATE INDEX sessions_user ON sessions (user_uuid);

-- The token signing key, created once on first start.
CREATE TABLE signing_keys (
    id         text PRIMARY KEY,
    kid        text NOT NULL,
    secret     text NOT NULL,
    created_at text NOT NULL
);

-- Read models (owned by projections; `roster replay` rebuilds them).
CREATE TABLE organizations (
    id          integer PRIMARY KEY,
    org_uuid    text NOT NULL UNIQUE,
    name        text NOT NULL,
    code        text NOT NULL,
    description text NOT NULL DEFAULT '',
    status      text NOT NULL,
    created_at  text NOT NULL,
    updated_at  text NOT NULL
);

CREATE TABLE roles (
    id              integer PRIMARY KEY,
    role_uuid       text NOT NULL UNIQUE,
    title           text NOT NULL,
    label           text NOT NULL,
    user_type       integer NOT NULL,
    status          text NOT NULL,
    visibility      text NOT NULL,
    organization_id integer NOT NULL,
    created_at      text NOT NULL,
    updated_at      text NOT NULL
);

CREATE TABLE users (
    user_uuid       text PRIMARY KEY,
    id              integer NOT NULL UNIQUE,
    email           text,
    name            text,
    phone           text,
    username        text,
    status          text NOT NULL,
    organization_id integer NOT NULL,
    about           text,
    gender          text,
    location        text,
    image           text,
    languages       text,
    share_link      text,
    preferred_language text,
    has_accepted_terms_and_conditions integer NOT NULL DEFAULT 0,
    search_text     text NOT NULL DEFAULT '',
    last_logged_in_at text,
    created_at      text NOT NULL,
    updated_at      text NOT NULL,
    deleted_at      text
);
CREATE INDEX users_email ON users (email);
CREATE INDEX users_listing ON users (status, name, id);

CREATE TABLE user_roles (
    user_uuid       text   NOT NULL,
    role_id         integer NOT NULL,
    organization_id integer NOT NULL,
    PRIMARY KEY (user_uuid, role_id, organization_id)
);
CREATE INDEX user_roles_role ON user_roles (role_id, user_uuid);

-- SQLite serialises writers, so assigning the next position inside the
-- writing transaction makes position order the commit order.
CREATE TRIGGER events_assign_position AFTER INSERT ON events WHEN NEW.position IS NULL
BEGIN
    UPDATE events SET position = (SELECT coalesce(max(position), 0) + 1 FROM events) WHERE rowid = NEW.rowid;
END;
