-- Case-insensitive substring search over name and email stays an index scan
-- at a million users: trigram GIN on the lower-cased search text.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_search_trgm ON users USING gin (search_text gin_trgm_ops);
