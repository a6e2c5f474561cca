-- Short search terms (one or two characters) match the start of a word of
-- the name or the start of the email (README, "Search"); the trigram table
-- (0010) needs three characters. Same table as on PostgreSQL (its migration
-- 0012 says more): for every ACTIVE user, one row per distinct first one or
-- two characters of each space-separated word of `search_text`, once with
-- role_id 0 and once per role held, read in order from
-- `user_search_prefixes_order`.
--
-- Kept in step by the triggers below. A replay parks them with the other
-- triggers of `users` and `user_roles`, empties the table and refills it
-- from `user_search_prefixes_source` at its end
-- (src/storage/parked_indexes.rs).

CREATE TABLE user_search_prefixes (
    role_id integer NOT NULL,
    prefix  text    NOT NULL,
    name    text,
    id      integer NOT NULL,
    PRIMARY KEY (id, role_id, prefix)
) WITHOUT ROWID;
CREATE INDEX user_search_prefixes_order ON user_search_prefixes (role_id, prefix, name, id);

-- The words of each ACTIVE user's search text, split on single spaces (as
-- PostgreSQL's `string_to_array`): SQLite has no split function, so the
-- text is made into a JSON array of strings. Tabs and line breaks count as
-- spaces; a text that still is not valid JSON (other control characters)
-- yields no words rather than an error that would stop the projection.
CREATE VIEW user_search_words AS
SELECT u.id, u.user_uuid, u.name, w.value AS word
FROM users u, json_each(CASE WHEN json_valid('["' || replace(replace(replace(replace(replace(replace(u.search_text,
        '\', '\\'), '"', '\"'), char(9), ' '), char(10), ' '), char(13), ' '), ' ', '","') || '"]')
    THEN '["' || replace(replace(replace(replace(replace(replace(u.search_text,
        '\', '\\'), '"', '\"'), char(9), ' '), char(10), ' '), char(13), ' '), ' ', '","') || '"]' ELSE '[]' END) w
WHERE u.status = 'ACTIVE' AND w.value <> '';

-- What the table must hold; the refill after a replay reads it, and tests
-- compare with it.
CREATE VIEW user_search_prefixes_source AS
SELECT 0 AS role_id, substr(w.word, 1, k.n) AS prefix, w.name, w.id
FROM user_search_words w, (SELECT 1 AS n UNION ALL SELECT 2) k
UNION
SELECT ur.role_id, substr(w.word, 1, k.n), w.name, w.id
FROM user_search_words w JOIN user_roles ur ON ur.user_uuid = w.user_uuid, (SELECT 1 AS n UNION ALL SELECT 2) k;

CREATE TRIGGER users_search_prefixes_insert AFTER INSERT ON users WHEN NEW.status = 'ACTIVE' BEGIN
    INSERT OR IGNORE INTO user_search_prefixes (role_id, prefix, name, id)
    SELECT r.role_id, substr(w.word, 1, k.n), w.name, w.id
    FROM user_search_words w, (SELECT 1 AS n UNION ALL SELECT 2) k,
         (SELECT 0 AS role_id UNION SELECT role_id FROM user_roles WHERE user_uuid = NEW.user_uuid) r
    WHERE w.id = NEW.id;
END;

CREATE TRIGGER users_search_prefixes_update AFTER UPDATE OF id, user_uuid, status, name, search_text ON users BEGIN
    DELETE FROM user_search_prefixes WHERE id = OLD.id;
    INSERT OR IGNORE INTO user_search_prefixes (role_id, prefix, name, id)
    SELECT r.role_id, substr(w.word, 1, k.n), w.name, w.id
    FROM user_search_words w, (SELECT 1 AS n UNION ALL SELECT 2) k,
         (SELECT 0 AS role_id UNION SELECT role_id FROM user_roles WHERE user_uuid = NEW.user_uuid) r
    WHERE w.id = NEW.id;
END;

CREATE TRIGGER users_search_prefixes_delete AFTER DELETE ON users BEGIN
    DELETE FROM user_search_prefixes WHERE id = OLD.id;
END;

CREATE TRIGGER user_roles_search_prefixes_insert AFTER INSERT ON user_roles BEGIN
    INSERT OR IGNORE INTO user_search_prefixes (role_id, prefix, name, id)
    SELECT NEW.role_id, substr(w.word, 1, k.n), w.name, w.id
    FROM user_search_words w, (SELECT 1 AS n UNION ALL SELECT 2) k
    WHERE w.user_uuid = NEW.user_uuid;
END;

-- A (user, role) pair leaves once no user_roles row holds it (a role may be
-- held in several organisations).
CREATE TRIGGER user_roles_search_prefixes_delete AFTER DELETE ON user_roles
WHEN NOT EXISTS (SELECT 1 FROM user_roles WHERE user_uuid = OLD.user_uuid AND role_id = OLD.role_id) BEGIN
    DELETE FROM user_search_prefixes
    WHERE role_id = OLD.role_id AND id IN (SELECT id FROM users WHERE user_uuid = OLD.user_uuid);
END;

CREATE TRIGGER user_roles_search_prefixes_update AFTER UPDATE OF user_uuid, role_id ON user_roles BEGIN
    DELETE FROM user_search_prefixes
    WHERE role_id = OLD.role_id AND id IN (SELECT id FROM users WHERE user_uuid = OLD.user_uuid)
      AND NOT EXISTS (SELECT 1 FROM user_roles WHERE user_uuid = OLD.user_uuid AND role_id = OLD.role_id);
    INSERT OR IGNORE INTO user_search_prefixes (role_id, prefix, name, id)
    SELECT NEW.role_id, substr(w.word, 1, k.n), w.name, w.id
    FROM user_search_words w, (SELECT 1 AS n UNION ALL SELECT 2) k
    WHERE w.user_uuid = NEW.user_uuid;
END;

-- Start from the rows already there.
INSERT OR IGNORE INTO user_search_prefixes (role_id, prefix, name, id)
SELECT role_id, prefix, name, id FROM user_search_prefixes_source;
