-- A caller who may not see other users' emails (a member) finds them by
-- name only (README, "Field-level visibility"). With short terms that meant
-- joining every row of a prefix range to `users` to tell a name word from the
-- email: at 1M users a member's type-ahead cost 4x an admin's (p99 65 ms).
-- Each prefix row now says where it comes from and whose organisation the
-- user is in, so a member's page is the admins' index-only range read with a
-- filter on the row itself:
--
--   by_name          the prefix starts a word of the name (true), or only
--                    the email (false)
--   organization_id  the user's organisation (an org admin may match the
--                    emails of its users)
--
-- `user_search_prefix_counts.named` counts the by-name rows, so a member's
-- count is that row plus the few email-only rows in the member's scope
-- (`user_search_prefixes_email`).

ALTER TABLE user_search_prefixes ADD COLUMN by_name boolean NOT NULL DEFAULT true,
                                 ADD COLUMN organization_id bigint;
ALTER TABLE user_search_prefix_counts ADD COLUMN named bigint NOT NULL DEFAULT 0;

-- The name part of a search text (the lower-cased name, a space, the email):
-- `SEARCH_NAME` in src/read_models.rs.
CREATE FUNCTION roster_search_name(search_text text, email text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT substr(search_text, 1, CASE WHEN length(search_text) > length(coalesce(email, ''))
        THEN length(search_text) - length(coalesce(email, '')) - 1 ELSE 0 END)
$$;

-- The prefixes of one search text (the same set as `roster_search_prefixes`),
-- each with whether a word of the name gives it.
CREATE FUNCTION roster_search_prefix_kinds(search_text text, email text)
RETURNS TABLE (prefix text, by_name boolean)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    WITH parts AS (
        SELECT roster_search_name(search_text, email) AS name_part,
               substr(search_text, length(roster_search_name(search_text, email)) + 2) AS rest
    )
    SELECT left(w.word, k.n), bool_or(w.named)
    FROM parts,
         LATERAL (
             SELECT word, true AS named
             FROM unnest(string_to_array(translate(parts.name_part, E'\t\n\r', '   '), ' ')) AS word
             UNION ALL
             SELECT word, false
             FROM unnest(string_to_array(translate(parts.rest, E'\t\n\r', '   '), ' ')) AS word
         ) AS w,
         (VALUES (1), (2)) AS k(n)
    WHERE w.word <> ''
    GROUP BY 1
$$;

-- Moves the counts of each (role_ids[i], prefixes[i]) by `step` per row,
-- `named` by the rows whose `names[i]` holds.
DROP FUNCTION roster_count_prefixes(bigint[], text[], bigint) CASCADE;
CREATE FUNCTION roster_count_prefixes(role_ids bigint[], prefixes text[], names boolean[], step bigint)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO user_search_prefix_counts (role_id, prefix, active, named)
    SELECT r, p, step * count(*), step * count(*) FILTER (WHERE b)
    FROM unnest(role_ids, prefixes, names) AS t(r, p, b) GROUP BY r, p
    ON CONFLICT (role_id, prefix) DO UPDATE
    SET active = user_search_prefix_counts.active + EXCLUDED.active,
        named = user_search_prefix_counts.named + EXCLUDED.named;
$$;

DROP VIEW user_search_prefixes_source;
CREATE VIEW user_search_prefixes_source AS
SELECT r.role_id, p.prefix, u.name, u.id, p.by_name, u.organization_id
FROM users u
CROSS JOIN LATERAL roster_search_prefix_kinds(u.search_text, u.email) AS p(prefix, by_name)
CROSS JOIN LATERAL (SELECT 0::bigint UNION SELECT ur.role_id FROM user_roles ur WHERE ur.user_uuid = u.user_uuid) AS r(role_id)
WHERE u.status = 'ACTIVE';

CREATE OR REPLACE FUNCTION roster_unlist_search_prefixes(targets bigint[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r_ids bigint[];
    p_ids text[];
    b_ids boolean[];
BEGIN
    WITH gone AS (DELETE FROM user_search_prefixes WHERE id = ANY (targets) RETURNING role_id, prefix, by_name)
    SELECT array_agg(role_id), array_agg(prefix), array_agg(by_name) INTO r_ids, p_ids, b_ids FROM gone;
    PERFORM roster_count_prefixes(r_ids, p_ids, b_ids, -1);
END $$;

CREATE OR REPLACE FUNCTION roster_relist_search_prefixes(target bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    r_ids bigint[];
    p_ids text[];
    b_ids boolean[];
BEGIN
    PERFORM roster_unlist_search_prefixes(ARRAY[target]);
    WITH added AS (
        INSERT INTO user_search_prefixes (role_id, prefix, name, id, by_name, organization_id)
        SELECT r.role_id, p.prefix, u.name, u.id, p.by_name, u.organization_id
        FROM users u
        CROSS JOIN LATERAL roster_search_prefix_kinds(u.search_text, u.email) AS p(prefix, by_name)
        CROSS JOIN LATERAL (SELECT 0::bigint UNION SELECT ur.role_id FROM user_roles ur WHERE ur.user_uuid = u.user_uuid) AS r(role_id)
        WHERE u.id = target AND u.status = 'ACTIVE'
        RETURNING role_id, prefix, by_name
    )
    SELECT array_agg(role_id), array_agg(prefix), array_agg(by_name) INTO r_ids, p_ids, b_ids FROM added;
    PERFORM roster_count_prefixes(r_ids, p_ids, b_ids, 1);
END $$;

CREATE OR REPLACE FUNCTION roster_search_users_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM user_listing_stale) THEN RETURN NULL; END IF;
    EXECUTE $q$
    WITH added AS (
        INSERT INTO user_search_prefixes (role_id, prefix, name, id, by_name, organization_id)
        SELECT r.role_id, p.prefix, n.name, n.id, p.by_name, n.organization_id
        FROM new_rows n
        CROSS JOIN LATERAL roster_search_prefix_kinds(n.search_text, n.email) AS p(prefix, by_name)
        CROSS JOIN LATERAL (SELECT 0::bigint UNION SELECT ur.role_id FROM user_roles ur WHERE ur.user_uuid = n.user_uuid OFFSET 0) AS r(role_id)
        WHERE n.status = 'ACTIVE'
          AND NOT EXISTS (SELECT 1 FROM user_search_prefixes s WHERE s.id = n.id)
        RETURNING role_id, prefix, by_name
    )
    SELECT roster_count_prefixes(array_agg(role_id), array_agg(prefix), array_agg(by_name), 1) FROM added
    $q$;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION roster_search_user_roles_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM user_listing_stale) THEN RETURN NULL; END IF;
    EXECUTE $q$
    WITH added AS (
        INSERT INTO user_search_prefixes (role_id, prefix, name, id, by_name, organization_id)
        SELECT g.role_id, p.prefix, g.name, g.id, p.by_name, g.organization_id
        FROM (
            SELECT DISTINCT n.role_id, u.name, u.id, u.search_text, u.email, u.organization_id
            FROM new_rows n
            CROSS JOIN LATERAL (SELECT id, name, search_text, email, status, organization_id
                                FROM users WHERE user_uuid = n.user_uuid OFFSET 0) u
            WHERE u.status = 'ACTIVE'
        ) g
        CROSS JOIN LATERAL roster_search_prefix_kinds(g.search_text, g.email) AS p(prefix, by_name)
        WHERE NOT EXISTS (SELECT 1 FROM user_search_prefixes s WHERE s.id = g.id AND s.role_id = g.role_id)
        RETURNING role_id, prefix, by_name
    )
    SELECT roster_count_prefixes(array_agg(role_id), array_agg(prefix), array_agg(by_name), 1) FROM added
    $q$;
    RETURN NULL;
END $$;

-- A user who moves to another organisation moves its rows' organisation.
DROP TRIGGER users_search_prefixes_update ON users;
CREATE TRIGGER users_search_prefixes_update AFTER UPDATE ON users
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.name IS DISTINCT FROM NEW.name
                       OR OLD.search_text IS DISTINCT FROM NEW.search_text OR OLD.id <> NEW.id
                       OR OLD.user_uuid <> NEW.user_uuid
                       OR OLD.email IS DISTINCT FROM NEW.email
                       OR OLD.organization_id IS DISTINCT FROM NEW.organization_id)
    EXECUTE FUNCTION roster_search_users_row_changed();

-- Email-only rows by organisation: a member's or org admin's count adds the
-- ones in scope to `named`.
CREATE INDEX user_search_prefixes_email ON user_search_prefixes (role_id, prefix, organization_id, id)
    WHERE NOT by_name;

CREATE OR REPLACE FUNCTION roster_rebuild_search_prefixes() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE users, user_roles IN SHARE MODE;
    DROP INDEX IF EXISTS user_search_prefixes_order;
    DROP INDEX IF EXISTS user_search_prefixes_email;
    TRUNCATE user_search_prefixes, user_search_prefix_counts;
    INSERT INTO user_search_prefixes (role_id, prefix, name, id, by_name, organization_id)
    SELECT role_id, prefix, name, id, by_name, organization_id FROM user_search_prefixes_source;
    -- The filter columns ride in the ordered index, so a member's page is
    -- an index-only scan as an admin's.
    CREATE INDEX user_search_prefixes_order ON user_search_prefixes (role_id, prefix, name, id)
        INCLUDE (by_name, organization_id);
    CREATE INDEX user_search_prefixes_email ON user_search_prefixes (role_id, prefix, organization_id, id)
        WHERE NOT by_name;
    INSERT INTO user_search_prefix_counts (role_id, prefix, active, named)
    SELECT role_id, prefix, count(*), count(*) FILTER (WHERE by_name) FROM user_search_prefixes GROUP BY role_id, prefix;
    ANALYZE user_search_prefixes;
END $$;

SELECT roster_rebuild_search_prefixes();
