-- How far the log has been swept for orphaned claims (src/orphaned_claims.rs):
-- every unique-claim event at or below `swept_through` was looked at once it
-- was older than the sweep's cutoff. A start sweeps only what came after, so
-- it no longer reads every claim of the log (about 10 s of both cores at 1M
-- users, at every start).
CREATE TABLE orphaned_claims_sweep (
    id            integer PRIMARY KEY,
    swept_through bigint  NOT NULL
);
INSERT INTO orphaned_claims_sweep (id, swept_through) VALUES (1, 0);
