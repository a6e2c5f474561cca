-- Per-user keys for the personal fields of user events (crypto-shredding).
-- Kept outside the log; erasing a user sets `secret` to NULL for good.
CREATE TABLE personal_data_keys (
    subject      text PRIMARY KEY,
    secret       text,
    created_at   text NOT NULL,
    destroyed_at text
);
