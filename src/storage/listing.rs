//! PostgreSQL keeps `role_listing` and `user_list_counts` (migration 0007)
//! by triggers. A replay marks them stale and skips that upkeep; this builds
//! them once when it is done, or at the next start if a replay died midway.

use super::Db;

impl Db {
    /// Rebuilds the listing tables if they are marked stale; a cheap no-op
    /// otherwise, and on SQLite (which has no listing tables).
    pub async fn finish_stale_listing(&self) -> Result<(), sqlx::Error> {
        if let Db::Postgres(pool) = self {
            sqlx::query("SELECT roster_rebuild_listing() WHERE EXISTS (SELECT 1 FROM user_listing_stale)")
                .execute(pool)
                .await?;
        }
        Ok(())
    }
}
