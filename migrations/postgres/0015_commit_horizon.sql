-- The commit-order horizon (src/storage/log.rs): readers take the events of
-- transactions below it. `pg_snapshot_xmin` is cluster-wide, so a long
-- transaction in any other database of the server (a dump, an index build,
-- another Roster's replay) held every reader here back until it ended.
-- Transaction ids are cluster-wide, but only this database's transactions
-- can write its events: the horizon is the oldest running transaction not
-- positively known to belong to another database (`pg_stat_activity`,
-- `pg_prepared_xacts`), else the snapshot's xmax. A transaction we cannot
-- place (another role's session without pg_read_all_stats) counts as ours,
-- which is what `pg_snapshot_xmin` did for all of them.
--
-- STABLE, so it sees the calling statement's snapshot: the events the
-- statement reads and the horizon it compares them with agree. Callers use
-- it as a scalar subquery, evaluated once per statement.
CREATE FUNCTION roster_commit_horizon() RETURNS xid8 LANGUAGE sql STABLE AS $$
    WITH snapshot AS (SELECT pg_current_snapshot() AS s),
    elsewhere AS (
        SELECT backend_xid::text::bigint AS xid FROM pg_stat_activity
        WHERE backend_xid IS NOT NULL AND datname IS NOT NULL AND datname <> current_database()
        UNION ALL
        SELECT transaction::text::bigint FROM pg_prepared_xacts WHERE database <> current_database()
    )
    SELECT coalesce(
        (SELECT min(running) FROM snapshot, pg_snapshot_xip(snapshot.s) AS running
         WHERE (running::text::bigint % 4294967296) NOT IN (SELECT xid FROM elsewhere)),
        (SELECT pg_snapshot_xmax(snapshot.s) FROM snapshot))
$$;
