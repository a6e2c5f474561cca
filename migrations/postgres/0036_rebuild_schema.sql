-- A rebuild (`roster replay`) fills copies of a read model's tables here
-- and swaps them in at its end (src/storage/shadow_tables.rs). Empty
-- between rebuilds: the copies live only inside the rebuild's transaction.
CREATE SCHEMA IF NOT EXISTS roster_rebuild;
