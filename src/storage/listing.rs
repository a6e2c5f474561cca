//! PostgreSQL keeps `role_listing` and `user_list_counts` (migration 0007)
//! and `user_search_prefixes` (migration 0013) by triggers. A replay marks
//! them stale and skips that upkeep; this builds them once when it is done,
//! or at the next start if a replay died midway.

use super::Db;

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
        }
        Ok(())
    }
}
