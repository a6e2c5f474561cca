-- Inline read models (issue 17) update the listing and search counters in
-- each command's own transaction, so every grant of one role (every rename
-- sharing a prefix) waited for the row lock of one counter until the
-- previous writer committed, and two renames could deadlock on prefix
-- counters taken in different orders. Each counter is now split in 16
-- shards: a writer moves the shard of its own connection
-- (pg_backend_pid() % 16), in key order, and a reader adds the shards up.
-- Rebuilds still write one row per key (shard 0). Role 0 (all active users)
-- is moved only by plain UPDATEs of its one row, as before.

ALTER TABLE user_list_counts ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE user_list_counts DROP CONSTRAINT user_list_counts_pkey;
ALTER TABLE user_list_counts ADD PRIMARY KEY (role_id, shard);

ALTER TABLE user_search_prefix_counts ADD COLUMN shard smallint NOT NULL DEFAULT 0;
ALTER TABLE user_search_prefix_counts DROP CONSTRAINT user_search_prefix_counts_pkey;
ALTER TABLE user_search_prefix_counts ADD PRIMARY KEY (role_id, prefix, shard);

CREATE OR REPLACE FUNCTION roster_count_roles(role_ids bigint[], step bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO user_list_counts (role_id, shard, active)
    SELECT r, pg_backend_pid() % 16, step * count(*) FROM unnest(role_ids) AS r GROUP BY r ORDER BY r
    ON CONFLICT (role_id, shard) DO UPDATE SET active = user_list_counts.active + EXCLUDED.active;
$$;

CREATE OR REPLACE FUNCTION roster_count_prefixes(role_ids bigint[], prefixes text[], names boolean[], step bigint)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO user_search_prefix_counts (role_id, prefix, shard, active, named)
    SELECT r, p, pg_backend_pid() % 16, step * count(*), step * count(*) FILTER (WHERE b)
    FROM unnest(role_ids, prefixes, names) AS t(r, p, b) GROUP BY r, p ORDER BY r, p
    ON CONFLICT (role_id, prefix, shard) DO UPDATE
    SET active = user_search_prefix_counts.active + EXCLUDED.active,
        named = user_search_prefix_counts.named + EXCLUDED.named;
$$;
