-- The server secret that keys unique-value claim ids (src/storage/claim_ids.rs):
-- HMAC-SHA256 of the older plain SHA-256 ids, so the log, its exports and
-- Kafka keys cannot be reversed by hashing candidate emails. One row, created
-- at the first start after this migration; `upgraded` once the claims
-- already in the log are renamed (in the same transaction).
CREATE TABLE claim_id_secret (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    secret TEXT NOT NULL,
    upgraded BOOLEAN NOT NULL DEFAULT false,
    created_at TEXT NOT NULL
);
