-- SQLite's counterpart of the trigram GIN index on PostgreSQL (0002): an FTS5
-- index with the trigram tokenizer over `users.search_text`, keyed by the
-- numeric id. `LIKE '%term%'` on it is answered from the index for terms of
-- three characters or more. It holds no text of its own (`content = 'users'`)
-- and is kept in step by triggers; a replay parks the triggers and rebuilds
-- the index once at its end (src/storage/parked_indexes.rs, which finds it
-- by its name: the table's name and `_search`).
CREATE VIRTUAL TABLE users_search USING fts5(
    search_text, content = 'users', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO users_search (users_search) VALUES ('rebuild');

CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search (rowid, search_text) VALUES (NEW.id, NEW.search_text);
END;

CREATE TRIGGER users_search_update AFTER UPDATE OF id, search_text ON users BEGIN
    INSERT INTO users_search (users_search, rowid, search_text) VALUES ('delete', OLD.id, OLD.search_text);
    INSERT INTO users_search (rowid, search_text) VALUES (NEW.id, NEW.search_text);
END;

CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_search (users_search, rowid, search_text) VALUES ('delete', OLD.id, OLD.search_text);
END;
