//! PostgreSQL keeps `role_listing` and `user_list_counts` (migration 0007)
//! and `user_search_prefixes` (migration 0013) by triggers. A replay marks
//! them stale and skips that upkeep; this builds them once when it is done,
//! or at the next start if a replay died midway.

use sqlx::PgPool;

use super::Db;

/// A freshly built `user_search_prefixes` has no visibility map, so each
/// "index-only" read of it visits the table as well: counting 10,001
/// mentees whose word starts with "a" took 420 ms instead of a few at 1M
/// users. VACUUM sets the map; it cannot run in the transaction that built
/// the table (a migration, or the rebuild below).
async fn vacuum_search_prefixes(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::raw_sql("VACUUM (ANALYZE) user_search_prefixes").execute(pool).await.map(|_| ())
}

/// After the migrations: vacuums the table if it never was (migration 0012
/// has just built it). Once vacuumed, autovacuum keeps it up.
pub(super) async fn vacuum_new_search_prefixes(pool: &PgPool) -> Result<(), sqlx::Error> {
    let never: bool = sqlx::query_scalar(
        "SELECT coalesce((SELECT last_vacuum IS NULL AND last_autovacuum IS NULL FROM pg_stat_user_tables \
         WHERE relid = 'user_search_prefixes'::regclass), false)",
    )
    .fetch_one(pool)
    .await?;
    if never {
        vacuum_search_prefixes(pool).await?;
    }
    Ok(())
}

impl Db {
    /// Rebuilds the listing tables if they are marked stale; a cheap no-op
    /// otherwise, and on SQLite (which has no listing tables, and refills
    /// its search prefixes with the parked triggers).
    pub async fn finish_stale_listing(&self) -> Result<(), sqlx::Error> {
        if let Db::Postgres(pool) = self {
            // One transaction: the prefixes are built before the mark that
            // says they must be goes.
            let mut tx = pool.begin().await?;
            let stale: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM user_listing_stale)").fetch_one(&mut *tx).await?;
            if stale {
                sqlx::query("SELECT roster_rebuild_search_prefixes()").execute(&mut *tx).await?;
                sqlx::query("SELECT roster_rebuild_listing()").execute(&mut *tx).await?;
            }
            tx.commit().await?;
            if stale {
                vacuum_search_prefixes(pool).await?;
            }
        }
        Ok(())
    }
}
