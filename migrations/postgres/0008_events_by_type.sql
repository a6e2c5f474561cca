-- Each projection reads only its own aggregate types, in commit order from
-- its checkpoint: an index range scan, however long the rest of the log is.
CREATE INDEX events_type_commit_order ON events (aggregate_type, transaction_id, position);
