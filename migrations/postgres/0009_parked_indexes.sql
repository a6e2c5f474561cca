-- Secondary indexes of read tables that a replay dropped and has yet to build
-- again (src/storage/parked_indexes.rs).
CREATE TABLE parked_indexes (
    name        text PRIMARY KEY,
    table_name  text NOT NULL,
    definition  text NOT NULL
);
