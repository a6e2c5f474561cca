-- P4: list and search users in time that does not grow with the table.
--
-- Two derived structures, kept in step with `users` and `user_roles` by
-- triggers in the same transaction as the projection's own writes (so they
-- are exact, and `roster replay` rebuilds them with the tables):
--
-- * `user_list_counts`: the exact number of ACTIVE users (role_id 0) and of
--   ACTIVE users holding each role (role_id > 0). The list endpoints return an
--   exact total; counting 10^6 index entries per request takes ~100 ms here.
-- * `role_listing`: one row per (role, ACTIVE user holding it) with the user's
--   name, so "first page of mentors by name" is a short index range scan
--   instead of a walk over every user checking roles.
--
-- Inserts and deletes are handled per statement (the runner folds a batch's
-- inserts into one statement; replay empties whole tables); updates, which
-- the projection makes one row at a time, per row.

CREATE TABLE user_list_counts (
    role_id bigint PRIMARY KEY,
    active  bigint NOT NULL
);

CREATE TABLE role_listing (
    role_id   bigint NOT NULL,
    user_uuid text   NOT NULL,
    name      text,
    id        bigint NOT NULL,
    PRIMARY KEY (role_id, user_uuid)
);
CREATE INDEX role_listing_order ON role_listing (role_id, name, id);
CREATE INDEX role_listing_user ON role_listing (user_uuid);

-- A replay empties `users` (TRUNCATE) and marks the listing stale: while a
-- row is here the triggers do nothing, and `roster_rebuild_listing()` builds
-- both tables once at the end (a million incremental upkeeps cost about as
-- much as the replay itself). A replay that dies leaves the mark, and the
-- next start of the projection runner rebuilds.
CREATE TABLE user_listing_stale (since text NOT NULL);

-- Moves each role's counter by `step` for every time the role appears in
-- `role_ids` (the role_listing rows a statement added or removed).
CREATE FUNCTION roster_count_roles(role_ids bigint[], step bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO user_list_counts (role_id, active)
    SELECT r, step * count(*) FROM unnest(role_ids) AS r GROUP BY r
    ON CONFLICT (role_id) DO UPDATE SET active = user_list_counts.active + EXCLUDED.active;
$$;

-- Recomputes one user's rows in role_listing and moves the role counters by
-- the difference.
CREATE FUNCTION roster_relist_user(target text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    moved bigint[];
BEGIN
    WITH gone AS (DELETE FROM role_listing WHERE user_uuid = target RETURNING role_id)
    SELECT array_agg(role_id) INTO moved FROM gone;
    PERFORM roster_count_roles(moved, -1);
    WITH added AS (
        INSERT INTO role_listing (role_id, user_uuid, name, id)
        SELECT DISTINCT ur.role_id, u.user_uuid, u.name, u.id
        FROM users u JOIN user_roles ur ON ur.user_uuid = u.user_uuid
        WHERE u.user_uuid = target AND u.status = 'ACTIVE'
        RETURNING role_id
    )
    SELECT array_agg(role_id) INTO moved FROM added;
    PERFORM roster_count_roles(moved, 1);
END $$;

-- A user's status, name or id changed (one-row statements from the projection).
CREATE FUNCTION roster_users_row_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta bigint := 0;
BEGIN
    IF EXISTS (SELECT 1 FROM user_listing_stale) THEN RETURN NULL; END IF;
    IF OLD.status = 'ACTIVE' THEN delta := delta - 1; END IF;
    IF NEW.status = 'ACTIVE' THEN delta := delta + 1; END IF;
    IF delta <> 0 THEN
        UPDATE user_list_counts SET active = active + delta WHERE role_id = 0;
    END IF;
    IF OLD.user_uuid <> NEW.user_uuid THEN
        PERFORM roster_relist_user(OLD.user_uuid);
    END IF;
    PERFORM roster_relist_user(NEW.user_uuid);
    RETURN NULL;
END $$;

-- New users, per statement: the runner folds a batch's registrations into
-- one multi-row INSERT, so this runs once per batch, not once per user.
CREATE FUNCTION roster_users_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM user_listing_stale) THEN RETURN NULL; END IF;
    UPDATE user_list_counts SET active = active + (SELECT count(*) FROM new_rows WHERE status = 'ACTIVE')
    WHERE role_id = 0;
    -- Roles are usually inserted after their user; those already there are
    -- listed now. EXECUTE plans afresh each time rather than keep a plan made
    -- while the tables were small.
    EXECUTE $q$
    WITH added AS (
        INSERT INTO role_listing (role_id, user_uuid, name, id)
        SELECT DISTINCT ur.role_id, n.user_uuid, n.name, n.id
        FROM new_rows n
        -- OFFSET 0 keeps this a per-row index probe whatever the statistics say.
        CROSS JOIN LATERAL (SELECT role_id FROM user_roles WHERE user_uuid = n.user_uuid OFFSET 0) ur
        WHERE n.status = 'ACTIVE'
        ON CONFLICT (role_id, user_uuid) DO NOTHING
        RETURNING role_id
    )
    SELECT roster_count_roles(array_agg(role_id), 1) FROM added
    $q$;
    RETURN NULL;
END $$;

CREATE FUNCTION roster_users_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moved bigint[];
BEGIN
    IF EXISTS (SELECT 1 FROM user_listing_stale) THEN RETURN NULL; END IF;
    UPDATE user_list_counts SET active = active - (SELECT count(*) FROM old_rows WHERE status = 'ACTIVE')
    WHERE role_id = 0;
    WITH gone AS (
        DELETE FROM role_listing l USING old_rows o WHERE l.user_uuid = o.user_uuid RETURNING l.role_id
    )
    SELECT array_agg(role_id) INTO moved FROM gone;
    PERFORM roster_count_roles(moved, -1);
    RETURN NULL;
END $$;

CREATE FUNCTION roster_user_roles_row_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM user_listing_stale) THEN RETURN NULL; END IF;
    IF OLD.user_uuid <> NEW.user_uuid THEN
        PERFORM roster_relist_user(OLD.user_uuid);
    END IF;
    PERFORM roster_relist_user(NEW.user_uuid);
    RETURN NULL;
END $$;

-- Roles given to users, per statement (a whole batch at once). Rows that ON
-- CONFLICT skipped are not in new_rows.
CREATE FUNCTION roster_user_roles_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM user_listing_stale) THEN RETURN NULL; END IF;
    -- EXECUTE: planned afresh, as above.
    EXECUTE $q$
    WITH added AS (
        INSERT INTO role_listing (role_id, user_uuid, name, id)
        SELECT DISTINCT n.role_id, u.user_uuid, u.name, u.id
        FROM new_rows n
        -- OFFSET 0 keeps this a per-row index probe whatever the statistics say.
        CROSS JOIN LATERAL (SELECT user_uuid, name, id, status FROM users WHERE user_uuid = n.user_uuid OFFSET 0) u
        WHERE u.status = 'ACTIVE'
        ON CONFLICT (role_id, user_uuid) DO NOTHING
        RETURNING role_id
    )
    SELECT roster_count_roles(array_agg(role_id), 1) FROM added
    $q$;
    RETURN NULL;
END $$;

CREATE FUNCTION roster_user_roles_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moved bigint[];
BEGIN
    IF EXISTS (SELECT 1 FROM user_listing_stale) THEN RETURN NULL; END IF;
    -- A (user, role) pair leaves the listing once no user_roles row holds it.
    WITH gone AS (
        DELETE FROM role_listing l
        USING (SELECT DISTINCT user_uuid, role_id FROM old_rows) o
        WHERE l.user_uuid = o.user_uuid AND l.role_id = o.role_id
          AND NOT EXISTS (SELECT 1 FROM user_roles ur WHERE ur.user_uuid = o.user_uuid AND ur.role_id = o.role_id)
        RETURNING l.role_id
    )
    SELECT array_agg(role_id) INTO moved FROM gone;
    PERFORM roster_count_roles(moved, -1);
    RETURN NULL;
END $$;

CREATE FUNCTION roster_listing_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE role_listing;
    UPDATE user_list_counts SET active = 0;
    INSERT INTO user_listing_stale (since) VALUES (now()::text);
    RETURN NULL;
END $$;

CREATE TRIGGER users_listing_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION roster_users_inserted();
CREATE TRIGGER users_listing_update AFTER UPDATE ON users
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.name IS DISTINCT FROM NEW.name
                       OR OLD.id <> NEW.id OR OLD.user_uuid <> NEW.user_uuid)
    EXECUTE FUNCTION roster_users_row_changed();
CREATE TRIGGER users_listing_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION roster_users_deleted();
CREATE TRIGGER users_listing_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION roster_listing_truncated();
CREATE TRIGGER user_roles_listing_insert AFTER INSERT ON user_roles
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION roster_user_roles_inserted();
CREATE TRIGGER user_roles_listing_update AFTER UPDATE ON user_roles
    FOR EACH ROW WHEN (OLD.role_id <> NEW.role_id OR OLD.user_uuid <> NEW.user_uuid)
    EXECUTE FUNCTION roster_user_roles_row_changed();
CREATE TRIGGER user_roles_listing_delete AFTER DELETE ON user_roles
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION roster_user_roles_deleted();
CREATE TRIGGER user_roles_listing_truncate AFTER TRUNCATE ON user_roles
    FOR EACH STATEMENT EXECUTE FUNCTION roster_listing_truncated();

-- Builds both tables from `users` and `user_roles` as they are, and clears
-- the stale mark. The lock keeps the projection's writes out meanwhile.
CREATE FUNCTION roster_rebuild_listing() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE users, user_roles IN SHARE MODE;
    TRUNCATE role_listing;
    DELETE FROM user_list_counts;
    INSERT INTO role_listing (role_id, user_uuid, name, id)
    SELECT DISTINCT ur.role_id, u.user_uuid, u.name, u.id
    FROM users u JOIN user_roles ur ON ur.user_uuid = u.user_uuid WHERE u.status = 'ACTIVE';
    INSERT INTO user_list_counts (role_id, active)
    SELECT 0, count(*) FROM users WHERE status = 'ACTIVE';
    INSERT INTO user_list_counts (role_id, active)
    SELECT role_id, count(*) FROM role_listing GROUP BY role_id;
    DELETE FROM user_listing_stale;
END $$;

-- Start from the rows already there.
SELECT roster_rebuild_listing();
