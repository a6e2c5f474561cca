-- Each projection reads only its own aggregate types, in log order from its
-- checkpoint: an index range scan, however long the rest of the log is.
CREATE INDEX events_type_position ON events (aggregate_type, position);
