-- API keys issued to client applications (`admin/apiKey/*`, `roster api-key`):
-- the admin list. No hash of the secret here: a presented key is checked
-- against its `api_key` aggregate in the log, so a revocation counts at once.
CREATE TABLE api_keys (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    issued_by  text,
    issued_at  text NOT NULL,
    revoked_at text,
    revoked_by text
);
CREATE INDEX api_keys_by_issue ON api_keys (issued_at, id);
