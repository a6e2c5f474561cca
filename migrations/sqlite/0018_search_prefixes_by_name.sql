-- Each prefix row says whether a word of the name gives it (by_name) and
-- the user's organisation, so a caller who may not see other users' emails
-- reads the same ordered range as an admin, filtered on the row itself
-- (PostgreSQL migration 0018 says more).

ALTER TABLE user_search_prefixes ADD COLUMN by_name integer NOT NULL DEFAULT 1;
ALTER TABLE user_search_prefixes ADD COLUMN organization_id integer;

DROP TRIGGER users_search_prefixes_insert;
DROP TRIGGER users_search_prefixes_update;
DROP TRIGGER user_roles_search_prefixes_insert;
DROP TRIGGER user_roles_search_prefixes_update;
DROP VIEW user_search_prefixes_source;
DROP VIEW user_search_words;

-- The words of each ACTIVE user's search text (as before), each with
-- whether it is a word of the name part: the name is stored single-spaced,
-- so its words are the first (spaces in the name part + 1) of the text.
-- The name part is `SEARCH_NAME` in src/read_models.rs.
CREATE VIEW user_search_words AS
SELECT u.id, u.user_uuid, u.name, u.organization_id, w.value AS word,
       CAST(w.key AS integer) < (
           SELECT CASE WHEN np = '' THEN 0 ELSE length(np) - length(replace(np, ' ', '')) + 1 END
           FROM (SELECT substr(u.search_text, 1, CASE WHEN length(u.search_text) > length(coalesce(u.email, ''))
                     THEN length(u.search_text) - length(coalesce(u.email, '')) - 1 ELSE 0 END) AS np)
       ) AS by_name
FROM users u, json_each(CASE WHEN json_valid('["' || replace(replace(replace(replace(replace(replace(u.search_text,
        '\', '\\'), '"', '\"'), char(9), ' '), char(10), ' '), char(13), ' '), ' ', '","') || '"]')
    THEN '["' || replace(replace(replace(replace(replace(replace(u.search_text,
        '\', '\\'), '"', '\"'), char(9), ' '), char(10), ' '), char(13), ' '), ' ', '","') || '"]' ELSE '[]' END) w
WHERE u.status = 'ACTIVE' AND w.value <> '';

-- One row per user and prefix, by name if any name word gives it.
CREATE VIEW user_search_prefix_kinds AS
SELECT w.id, w.user_uuid, w.name, w.organization_id, substr(w.word, 1, k.n) AS prefix, max(w.by_name) AS by_name
FROM user_search_words w, (SELECT 1 AS n UNION ALL SELECT 2) k
GROUP BY w.id, substr(w.word, 1, k.n);

-- In the table's column order: the refill after a replay is
-- `INSERT ... SELECT *` (src/storage/parked_indexes.rs).
CREATE VIEW user_search_prefixes_source AS
SELECT 0 AS role_id, k.prefix, k.name, k.id, k.by_name, k.organization_id
FROM user_search_prefix_kinds k
UNION
SELECT ur.role_id, k.prefix, k.name, k.id, k.by_name, k.organization_id
FROM user_search_prefix_kinds k JOIN user_roles ur ON ur.user_uuid = k.user_uuid;

CREATE TRIGGER users_search_prefixes_insert AFTER INSERT ON users WHEN NEW.status = 'ACTIVE' BEGIN
    INSERT OR IGNORE INTO user_search_prefixes (role_id, prefix, name, id, by_name, organization_id)
    SELECT r.role_id, k.prefix, k.name, k.id, k.by_name, k.organization_id
    FROM (SELECT w.id, w.name, w.organization_id, substr(w.word, 1, n.n) AS prefix, max(w.by_name) AS by_name
          FROM user_search_words w, (SELECT 1 AS n UNION ALL SELECT 2) n WHERE w.id = NEW.id GROUP BY 1, 4) k,
         (SELECT 0 AS role_id UNION SELECT role_id FROM user_roles WHERE user_uuid = NEW.user_uuid) r;
END;

CREATE TRIGGER users_search_prefixes_update
AFTER UPDATE OF id, user_uuid, status, name, search_text, email, organization_id ON users BEGIN
    DELETE FROM user_search_prefixes WHERE id = OLD.id;
    INSERT OR IGNORE INTO user_search_prefixes (role_id, prefix, name, id, by_name, organization_id)
    SELECT r.role_id, k.prefix, k.name, k.id, k.by_name, k.organization_id
    FROM (SELECT w.id, w.name, w.organization_id, substr(w.word, 1, n.n) AS prefix, max(w.by_name) AS by_name
          FROM user_search_words w, (SELECT 1 AS n UNION ALL SELECT 2) n WHERE w.id = NEW.id GROUP BY 1, 4) k,
         (SELECT 0 AS role_id UNION SELECT role_id FROM user_roles WHERE user_uuid = NEW.user_uuid) r;
END;

CREATE TRIGGER user_roles_search_prefixes_insert AFTER INSERT ON user_roles BEGIN
    INSERT OR IGNORE INTO user_search_prefixes (role_id, prefix, name, id, by_name, organization_id)
    SELECT NEW.role_id, substr(w.word, 1, n.n), w.name, w.id, max(w.by_name), w.organization_id
    FROM user_search_words w, (SELECT 1 AS n UNION ALL SELECT 2) n
    WHERE w.user_uuid = NEW.user_uuid GROUP BY w.id, substr(w.word, 1, n.n);
END;

CREATE TRIGGER user_roles_search_prefixes_update AFTER UPDATE OF user_uuid, role_id ON user_roles BEGIN
    DELETE FROM user_search_prefixes
    WHERE role_id = OLD.role_id AND id IN (SELECT id FROM users WHERE user_uuid = OLD.user_uuid)
      AND NOT EXISTS (SELECT 1 FROM user_roles WHERE user_uuid = OLD.user_uuid AND role_id = OLD.role_id);
    INSERT OR IGNORE INTO user_search_prefixes (role_id, prefix, name, id, by_name, organization_id)
    SELECT NEW.role_id, substr(w.word, 1, n.n), w.name, w.id, max(w.by_name), w.organization_id
    FROM user_search_words w, (SELECT 1 AS n UNION ALL SELECT 2) n
    WHERE w.user_uuid = NEW.user_uuid GROUP BY w.id, substr(w.word, 1, n.n);
END;

-- The filter columns in the ordered index keep a member's page index-only.
DROP INDEX user_search_prefixes_order;
CREATE INDEX user_search_prefixes_order ON user_search_prefixes (role_id, prefix, name, id, by_name, organization_id);

-- Start again from the rows as they are.
DELETE FROM user_search_prefixes;
INSERT OR IGNORE INTO user_search_prefixes SELECT * FROM user_search_prefixes_source;
