-- Statistics for the expression indexes of earlier migrations (0016's
-- `users_search_name_trgm` above all). PostgreSQL has none for an index
-- expression until the table is analyzed, and autovacuum analyzes only after
-- enough rows change: on an upgraded, quiet database a member's search for a
-- common term then chose the trigram bitmap and ran 10x slower
-- (docs/performance.md, "The seam's cost again"). About 9 s at 1M users.
ANALYZE users;
