//! Events a projection could not apply (migration 0012): recorded by the
//! runner when it skips one, listed and retried by `roster projections`,
//! counted by `/health`, and looked up by a write waiting for its own events.

use super::log::{decode_row, CommitPoint, LogEntry, PG_COLUMNS, SQLITE_COLUMNS};
use super::Db;
use crate::on_pool;

/// Records (or, on a second failure, updates) one skipped event:
/// `$1` projection, `$2` position, `$3` transaction id, `$4` aggregate type,
/// `$5` aggregate id, `$6` sequence, `$7` event type, `$8` error, `$9` now.
pub(crate) const RECORD_FAILED_EVENT: &str = "INSERT INTO failed_projection_events \
    (projection, position, transaction_id, aggregate_type, aggregate_id, sequence, event_type, error, attempts, \
     failed_at, last_tried_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $9) \
    ON CONFLICT (projection, position) DO UPDATE SET error = EXCLUDED.error, \
    attempts = failed_projection_events.attempts + 1, last_tried_at = EXCLUDED.last_tried_at";

/// Binds `RECORD_FAILED_EVENT`'s arguments for one `LogEntry` (any backend).
#[macro_export]
macro_rules! record_failed_event {
    ($name:expr, $entry:expr, $description:expr, $now:expr) => {
        sqlx::query($crate::storage::failed_events::RECORD_FAILED_EVENT)
            .bind($name)
            .bind($entry.event.position)
            .bind($entry.point.txid)
            .bind(&$entry.event.aggregate_type)
            .bind(&$entry.event.aggregate_id)
            .bind($entry.event.sequence)
            .bind(&$entry.event.event_type)
            .bind($description)
            .bind($now)
    };
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct FailedEvent {
    pub projection: String,
    pub position: i64,
    pub transaction_id: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub error: String,
    pub attempts: i64,
    pub failed_at: String,
    pub last_tried_at: String,
}

impl Db {
    /// Every recorded failure, optionally of one projection, in log order.
    pub async fn failed_events(&self, projection: Option<&str>) -> Result<Vec<FailedEvent>, sqlx::Error> {
        on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT projection, position, transaction_id, aggregate_type, aggregate_id, sequence, event_type, \
                 error, attempts, failed_at, last_tried_at FROM failed_projection_events \
                 WHERE $1 IS NULL OR projection = $1 ORDER BY position, projection",
            )
            .bind(projection)
            .fetch_all(pool)
            .await
        })
    }

    /// How many events each projection has skipped (only projections with some).
    pub async fn failed_event_counts(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT projection, count(*) FROM failed_projection_events GROUP BY projection ORDER BY projection",
            )
            .fetch_all(pool)
            .await
        })
    }

    /// The projections that skipped an event of the write that ended at
    /// `last` and wrote `events` events. A write's events share one
    /// transaction id on PostgreSQL; on SQLite (no transaction ids) writes
    /// are serialised, so its positions are the `events` ones up to `last`.
    pub async fn projections_that_skipped(&self, last: CommitPoint, events: u64) -> Result<Vec<String>, sqlx::Error> {
        let first = last.position - (events.max(1) as i64 - 1);
        on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT DISTINCT projection FROM failed_projection_events \
                 WHERE transaction_id = $1 AND position BETWEEN $2 AND $3 ORDER BY projection",
            )
            .bind(last.txid)
            .bind(first)
            .bind(last.position)
            .fetch_all(pool)
            .await
        })
    }

    /// Forgets a failure (the event now applies, or a rebuild re-read it).
    pub async fn forget_failed_event(&self, projection: &str, position: i64) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => {
            sqlx::query("DELETE FROM failed_projection_events WHERE projection = $1 AND position = $2")
                .bind(projection)
                .bind(position)
                .execute(pool)
                .await
                .map(|_| ())
        })
    }

    /// The event at `position`, opened like every other read of the log.
    pub async fn event_at(&self, position: i64) -> Result<Option<LogEntry>, sqlx::Error> {
        let columns = if matches!(self, Db::Postgres(_)) { PG_COLUMNS } else { SQLITE_COLUMNS };
        let sql = format!("SELECT {columns} FROM events WHERE position = $1");
        let entry = on_pool!(self, pool => {
            sqlx::query(&sql).bind(position).fetch_optional(pool).await?.as_ref().map(decode_row).transpose()?
        });
        match entry {
            Some(entry) => Ok(self.reveal(vec![entry]).await?.pop()),
            None => Ok(None),
        }
    }
}
