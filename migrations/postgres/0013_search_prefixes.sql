-- Short search terms (one or two characters) match the start of a word of
-- the name or the start of the email (README, "Search"). pg_trgm needs three
-- characters, so without this a short term scans every user.
--
-- `user_search_prefixes` holds, for every ACTIVE user, one row per distinct
-- first one or two characters of each space-separated word of `search_text`
-- (the lower-cased name, a space, the email), once with role_id 0 and once
-- per role the user holds. So "mentees whose word starts with 'e', by name"
-- is one range of `user_search_prefixes_order`, read in order and stopped at
-- the page.
--
-- `user_search_prefix_counts` holds how many rows each (role, prefix) has:
-- the exact count of such a search, from one row, as `user_list_counts`
-- (0007) is for lists without a search.
--
-- Kept in step with `users` and `user_roles` by the triggers below, in the
-- same transaction as the projection's writes. Like `role_listing`
-- (migration 0007), upkeep stops while `user_listing_stale` holds a row (a
-- replay); `roster_rebuild_search_prefixes()` builds the table at its end.

-- Some 16 rows per user (8 prefixes, role 0 and one role), so no primary
-- key: its index would weigh as much as the table (1 GB at 1M users). A
-- user's rows are found by `id` (deduplicated, a few bytes a row), and the
-- functions below never insert a row that is there.
CREATE TABLE user_search_prefixes (
    role_id bigint NOT NULL,
    prefix  text   NOT NULL,
    name    text,
    id      bigint NOT NULL
);
CREATE INDEX user_search_prefixes_order ON user_search_prefixes (role_id, prefix, name, id);
CREATE INDEX user_search_prefixes_user ON user_search_prefixes (id);

CREATE TABLE user_search_prefix_counts (
    role_id bigint NOT NULL,
    prefix  text   NOT NULL,
    active  bigint NOT NULL,
    PRIMARY KEY (role_id, prefix)
);

-- Moves the count of each (role_ids[i], prefixes[i]) by `step` per time it
-- appears (the rows a statement added or removed).
CREATE FUNCTION roster_count_prefixes(role_ids bigint[], prefixes text[], step bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO user_search_prefix_counts (role_id, prefix, active)
    SELECT r, p, step * count(*) FROM unnest(role_ids, prefixes) AS t(r, p) GROUP BY r, p
    ON CONFLICT (role_id, prefix) DO UPDATE SET active = user_search_prefix_counts.active + EXCLUDED.active;
$$;

-- The prefixes of one search text. SQLite's migration splits the same way
-- (on single spaces, empty words skipped), so both backends agree.
CREATE FUNCTION roster_search_prefixes(search_text text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT DISTINCT left(word, n)
    FROM unnest(string_to_array(translate(search_text, E'\t\n\r', '   '), ' ')) AS word, (VALUES (1), (2)) AS k(n)
    WHERE word <> ''
$$;

-- What the table must hold; the rebuild reads it, and tests compare with it.
CREATE VIEW user_search_prefixes_source AS
SELECT r.role_id, p.prefix, u.name, u.id
FROM users u
CROSS JOIN LATERAL roster_search_prefixes(u.search_text) AS p(prefix)
CROSS JOIN LATERAL (SELECT 0::bigint UNION SELECT ur.role_id FROM user_roles ur WHERE ur.user_uuid = u.user_uuid) AS r(role_id)
WHERE u.status = 'ACTIVE';

-- Removes the rows of the users `targets`, and counts them out.
CREATE FUNCTION roster_unlist_search_prefixes(targets bigint[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r_ids bigint[];
    p_ids text[];
BEGIN
    WITH gone AS (DELETE FROM user_search_prefixes WHERE id = ANY (targets) RETURNING role_id, prefix)
    SELECT array_agg(role_id), array_agg(prefix) INTO r_ids, p_ids FROM gone;
    PERFORM roster_count_prefixes(r_ids, p_ids, -1);
END $$;

-- Recomputes the rows of one user from `users` and `user_roles` as they are.
CREATE FUNCTION roster_relist_search_prefixes(target bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r_ids bigint[];
    p_ids text[];
BEGIN
    PERFORM roster_unlist_search_prefixes(ARRAY[target]);
    WITH added AS (
        INSERT INTO user_search_prefixes (role_id, prefix, name, id)
        SELECT r.role_id, p.prefix, u.name, u.id
        FROM users u
        CROSS JOIN LATERAL roster_search_prefixes(u.search_text) AS p(prefix)
        CROSS JOIN LATERAL (SELECT 0::bigint UNION SELECT ur.role_id FROM user_roles ur WHERE ur.user_uuid = u.user_uuid) AS r(role_id)
        WHERE u.id = target AND u.status = 'ACTIVE'
        RETURNING role_id, prefix
    )
    SELECT array_agg(role_id), array_agg(prefix) INTO r_ids, p_ids FROM added;
    PERFORM roster_count_prefixes(r_ids, p_ids, 1);
END $$;

-- New users, per statement (the runner folds a batch's registrations into
-- one INSERT). EXECUTE plans afresh each time, and OFFSET 0 keeps the role
-- lookup a per-row index probe, as in migration 0007.
CREATE FUNCTION roster_search_users_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM user_listing_stale) THEN RETURN NULL; END IF;
    EXECUTE $q$
    WITH added AS (
        INSERT INTO user_search_prefixes (role_id, prefix, name, id)
        SELECT r.role_id, p.prefix, n.name, n.id
        FROM new_rows n
        CROSS JOIN LATERAL roster_search_prefixes(n.search_text) AS p(prefix)
        CROSS JOIN LATERAL (SELECT 0::bigint UNION SELECT ur.role_id FROM user_roles ur WHERE ur.user_uuid = n.user_uuid OFFSET 0) AS r(role_id)
        WHERE n.status = 'ACTIVE'
          -- A new user has no rows yet; this keeps it so if one came twice.
          AND NOT EXISTS (SELECT 1 FROM user_search_prefixes s WHERE s.id = n.id)
        RETURNING role_id, prefix
    )
    SELECT roster_count_prefixes(array_agg(role_id), array_agg(prefix), 1) FROM added
    $q$;
    RETURN NULL;
END $$;

-- A user's status, name, search text or id changed (one-row statements).
CREATE FUNCTION roster_search_users_row_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM user_listing_stale) THEN RETURN NULL; END IF;
    IF OLD.id <> NEW.id THEN
        PERFORM roster_unlist_search_prefixes(ARRAY[OLD.id]);
    END IF;
    PERFORM roster_relist_search_prefixes(NEW.id);
    RETURN NULL;
END $$;

-- Users leave `users` only by a replay's TRUNCATE, but a DELETE is kept right.
CREATE FUNCTION roster_search_users_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM user_listing_stale) THEN RETURN NULL; END IF;
    PERFORM roster_unlist_search_prefixes((SELECT array_agg(id) FROM old_rows));
    RETURN NULL;
END $$;

-- Roles given, per statement. A role the user already holds (in another
-- organisation) has its rows already.
CREATE FUNCTION roster_search_user_roles_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM user_listing_stale) THEN RETURN NULL; END IF;
    EXECUTE $q$
    WITH added AS (
        INSERT INTO user_search_prefixes (role_id, prefix, name, id)
        SELECT g.role_id, p.prefix, g.name, g.id
        FROM (
            SELECT DISTINCT n.role_id, u.name, u.id, u.search_text
            FROM new_rows n
            CROSS JOIN LATERAL (SELECT id, name, search_text, status FROM users WHERE user_uuid = n.user_uuid OFFSET 0) u
            WHERE u.status = 'ACTIVE'
        ) g
        CROSS JOIN LATERAL roster_search_prefixes(g.search_text) AS p(prefix)
        WHERE NOT EXISTS (SELECT 1 FROM user_search_prefixes s WHERE s.id = g.id AND s.role_id = g.role_id)
        RETURNING role_id, prefix
    )
    SELECT roster_count_prefixes(array_agg(role_id), array_agg(prefix), 1) FROM added
    $q$;
    RETURN NULL;
END $$;

-- Roles revoked (or moved), for each user concerned: rare and few rows.
CREATE FUNCTION roster_search_user_roles_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    target bigint;
BEGIN
    IF EXISTS (SELECT 1 FROM user_listing_stale) THEN RETURN NULL; END IF;
    FOR target IN SELECT DISTINCT u.id FROM old_rows o JOIN users u ON u.user_uuid = o.user_uuid LOOP
        PERFORM roster_relist_search_prefixes(target);
    END LOOP;
    RETURN NULL;
END $$;

CREATE FUNCTION roster_search_user_roles_row_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    target bigint;
BEGIN
    IF EXISTS (SELECT 1 FROM user_listing_stale) THEN RETURN NULL; END IF;
    FOR target IN SELECT id FROM users WHERE user_uuid IN (OLD.user_uuid, NEW.user_uuid) LOOP
        PERFORM roster_relist_search_prefixes(target);
    END LOOP;
    RETURN NULL;
END $$;

-- A replay empties users and user_roles (0007's trigger marks the listing
-- stale); this table is emptied with them.
CREATE FUNCTION roster_search_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE user_search_prefixes, user_search_prefix_counts;
    RETURN NULL;
END $$;

CREATE TRIGGER users_search_prefixes_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION roster_search_users_inserted();
CREATE TRIGGER users_search_prefixes_update AFTER UPDATE ON users
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.name IS DISTINCT FROM NEW.name
                       OR OLD.search_text IS DISTINCT FROM NEW.search_text OR OLD.id <> NEW.id
                       OR OLD.user_uuid <> NEW.user_uuid)
    EXECUTE FUNCTION roster_search_users_row_changed();
CREATE TRIGGER users_search_prefixes_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION roster_search_users_deleted();
CREATE TRIGGER users_search_prefixes_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION roster_search_truncated();
CREATE TRIGGER user_roles_search_prefixes_insert AFTER INSERT ON user_roles
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION roster_search_user_roles_inserted();
CREATE TRIGGER user_roles_search_prefixes_update AFTER UPDATE ON user_roles
    FOR EACH ROW WHEN (OLD.role_id <> NEW.role_id OR OLD.user_uuid <> NEW.user_uuid)
    EXECUTE FUNCTION roster_search_user_roles_row_changed();
CREATE TRIGGER user_roles_search_prefixes_delete AFTER DELETE ON user_roles
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION roster_search_user_roles_deleted();
CREATE TRIGGER user_roles_search_prefixes_truncate AFTER TRUNCATE ON user_roles
    FOR EACH STATEMENT EXECUTE FUNCTION roster_search_truncated();

-- Builds the table from `users` and `user_roles` as they are. The ordered
-- index is built after the rows are in (several times faster than keeping
-- it up to date row by row; the index by user is small and cheap to keep). `finish_stale_listing` calls this before
-- `roster_rebuild_listing()` clears the stale mark, in one transaction.
CREATE FUNCTION roster_rebuild_search_prefixes() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE users, user_roles IN SHARE MODE;
    DROP INDEX IF EXISTS user_search_prefixes_order;
    TRUNCATE user_search_prefixes, user_search_prefix_counts;
    INSERT INTO user_search_prefixes (role_id, prefix, name, id)
    SELECT role_id, prefix, name, id FROM user_search_prefixes_source;
    CREATE INDEX user_search_prefixes_order ON user_search_prefixes (role_id, prefix, name, id);
    INSERT INTO user_search_prefix_counts (role_id, prefix, active)
    SELECT role_id, prefix, count(*) FROM user_search_prefixes GROUP BY role_id, prefix;
    -- Page and count plans, and the count estimate, need statistics at once.
    ANALYZE user_search_prefixes;
END $$;

-- Start from the rows already there.
SELECT roster_rebuild_search_prefixes();
