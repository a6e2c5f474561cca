//! Reading the event log in commit order (GUIDE §3).
//!
//! PostgreSQL assigns `position` at insert but rows become visible at commit,
//! so a reader that only remembered the highest position would skip a lower
//! one that commits later. Readers therefore only take rows of transactions
//! older than every transaction of this database still running
//! (`roster_commit_horizon()`, migration 0015: `pg_snapshot_xmin` without
//! the other databases' transactions) and order by (transaction id,
//! position); that pair is the checkpoint. SQLite
//! serialises writers, so there position order is commit order.

use projections::StoredEvent;
use serde_json::Value;
use sqlx::Row;

use super::Db;
use crate::privacy::{self, PersonalKey};
use crate::upcasting;

/// A place in the log, comparable across the two orders above
/// (`txid` is always 0 on SQLite).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct CommitPoint {
    pub txid: i64,
    pub position: i64,
}

impl CommitPoint {
    /// How many events lie after `self` up to the event at `last_position`,
    /// counted as the difference of positions: gaps left by writes that
    /// rolled back count too, so it is an upper bound (exact when there are
    /// none). On PostgreSQL commit order and position order can disagree by
    /// a few events, hence the floor at zero.
    pub fn events_until(self, last_position: i64) -> i64 {
        (last_position - self.position).max(0)
    }
}

/// Where the log ends, for the lag gauges as well as the readers.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogEnds {
    /// What commit-order readers may read up to (`end_of_log`).
    pub readable: CommitPoint,
    /// The highest position committed. On PostgreSQL it runs ahead of
    /// `readable` while any older transaction is open anywhere in the
    /// cluster (readers wait below it), so lag counts what they wait for.
    pub last_position: i64,
}

pub struct LogEntry {
    pub point: CommitPoint,
    pub event: StoredEvent,
}

/// The columns `decode_row` reads, per backend; other log readers
/// (`storage::audit_log`) select the same ones.
macro_rules! pg_columns {
    () => {
        "position, transaction_id::text AS txid, aggregate_type, aggregate_id, sequence, event_type, \
        event_version, payload::text AS payload, metadata::text AS metadata, \
        to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS recorded_at"
    };
}
macro_rules! sqlite_columns {
    () => {
        "position, '0' AS txid, aggregate_type, aggregate_id, sequence, event_type, \
        event_version, payload, metadata, recorded_at"
    };
}
/// Moves a checkpoint from (`$5`, `$6`) to (`$2`, `$3`), only if nobody moved it first.
pub(crate) const ADVANCE_CHECKPOINT: &str = "UPDATE projection_checkpoints SET transaction_id = $2, position = $3, \
    updated_at = $4 WHERE name = $1 AND transaction_id = $5 AND position = $6";

pub(crate) const PG_COLUMNS: &str = pg_columns!();
pub(crate) const SQLITE_COLUMNS: &str = sqlite_columns!();

const PG_AFTER: &str = concat!(
    "SELECT ",
    pg_columns!(),
    " FROM events \
    WHERE (transaction_id, position) > ($1::text::xid8, $2) \
      AND transaction_id < (SELECT roster_commit_horizon()) \
    ORDER BY transaction_id, position LIMIT $3"
);

const SQLITE_AFTER: &str =
    concat!("SELECT ", sqlite_columns!(), " FROM events WHERE position > $1 ORDER BY position LIMIT $2");

/// An event as every reader gets it out of the log: personal fields, stored
/// encrypted, opened with the subject's `key` (or erased once it is
/// destroyed: `crate::privacy`), then the payload brought from its stored
/// version to its event type's current one (`crate::upcasting`).
pub(crate) fn bring_out(
    aggregate_type: &str,
    aggregate_id: &str,
    key: &PersonalKey,
    event_type: &str,
    event_version: &mut String,
    payload: &mut Value,
) {
    if privacy::carries_personal_data(aggregate_type) {
        privacy::open(aggregate_id, key, payload);
    }
    upcasting::upcast(aggregate_type, event_type, event_version, payload);
}

/// A point from the transaction id as text (xid8 has no Rust type in sqlx).
pub(crate) fn commit_point(txid: &str, position: i64) -> Result<CommitPoint, sqlx::Error> {
    Ok(CommitPoint { txid: txid.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))?, position })
}

pub(crate) fn decode_row<R: Row>(row: &R) -> Result<LogEntry, sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let txid: String = row.try_get("txid")?;
    let position: i64 = row.try_get("position")?;
    let payload: String = row.try_get("payload")?;
    let metadata: String = row.try_get("metadata")?;
    let json = |text: &str| serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)));
    Ok(LogEntry {
        point: commit_point(&txid, position)?,
        event: StoredEvent {
            position,
            aggregate_type: row.try_get("aggregate_type")?,
            aggregate_id: row.try_get("aggregate_id")?,
            sequence: row.try_get("sequence")?,
            event_type: row.try_get("event_type")?,
            event_version: row.try_get("event_version")?,
            payload: json(&payload)?,
            metadata: json(&metadata)?,
            recorded_at: row.try_get("recorded_at")?,
        },
    })
}

impl Db {
    /// Up to `limit` events after `after`, in commit order, all from finished transactions.
    pub async fn events_after(&self, after: CommitPoint, limit: i64) -> Result<Vec<LogEntry>, sqlx::Error> {
        match self {
            Db::Postgres(pool) => {
                let rows = sqlx::query(PG_AFTER)
                    .bind(after.txid.to_string())
                    .bind(after.position)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?;
                let entries = rows.iter().map(decode_row).collect::<Result<Vec<_>, _>>()?;
                self.reveal(entries).await
            }
            Db::Sqlite(pool) => {
                let rows = sqlx::query(SQLITE_AFTER).bind(after.position).bind(limit).fetch_all(pool).await?;
                let entries = rows.iter().map(decode_row).collect::<Result<Vec<_>, _>>()?;
                self.reveal(entries).await
            }
        }
    }

    /// Up to `limit` events of the given aggregate types after `after`, in
    /// commit order, and how far the log was read: the last event returned
    /// when the batch is full, else the end of the log as it stood before
    /// reading, so a reader of rare types still moves past everything else.
    pub async fn events_of_types_after(
        &self,
        after: CommitPoint,
        types: &[&str],
        limit: i64,
    ) -> Result<(Vec<LogEntry>, CommitPoint), sqlx::Error> {
        // The bound is taken first: every event at or below it is committed,
        // so nothing can appear below it once it has been read past.
        let bound = self.end_of_log().await?;
        self.events_of_types_up_to(after, bound, types, limit).await
    }

    /// As `events_of_types_after`, up to a `bound` the caller read from
    /// `end_of_log` (the projection runners share one reading per wake-up).
    pub async fn events_of_types_up_to(
        &self,
        after: CommitPoint,
        bound: CommitPoint,
        types: &[&str],
        limit: i64,
    ) -> Result<(Vec<LogEntry>, CommitPoint), sqlx::Error> {
        self.events_of_types_between(after, bound, types, limit, false).await
    }

    /// As `events_of_types_up_to`, without the events an inline read model
    /// applied in their own transaction: what a projection runner has left
    /// to apply.
    pub async fn unapplied_events_of_types_up_to(
        &self,
        after: CommitPoint,
        bound: CommitPoint,
        types: &[&str],
        limit: i64,
    ) -> Result<(Vec<LogEntry>, CommitPoint), sqlx::Error> {
        self.events_of_types_between(after, bound, types, limit, true).await
    }

    async fn events_of_types_between(
        &self,
        after: CommitPoint,
        bound: CommitPoint,
        types: &[&str],
        limit: i64,
        unapplied_only: bool,
    ) -> Result<(Vec<LogEntry>, CommitPoint), sqlx::Error> {
        if bound <= after {
            return Ok((Vec::new(), after));
        }
        // `aggregate_type = $n` for one type (an index range scan on
        // `events_type_commit_order`), an IN list for several.
        let type_list = |first: usize| match types.len() {
            1 => format!("= ${first}"),
            n => format!("IN ({})", (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")),
        };
        let entries = match self {
            Db::Postgres(pool) => {
                let sql = format!(
                    "SELECT {PG_COLUMNS} FROM events \
                     WHERE (transaction_id, position) > ($1::text::xid8, $2) \
                       AND (transaction_id, position) <= ($3::text::xid8, $4) AND aggregate_type {}{} \
                     ORDER BY transaction_id, position LIMIT ${}",
                    type_list(5),
                    if unapplied_only { " AND NOT applied_inline" } else { "" },
                    5 + types.len()
                );
                let query = sqlx::query(&sql)
                    .bind(after.txid.to_string())
                    .bind(after.position)
                    .bind(bound.txid.to_string())
                    .bind(bound.position);
                let query = types.iter().fold(query, |query, t| query.bind(*t));
                let rows = query.bind(limit).fetch_all(pool).await?;
                rows.iter().map(decode_row).collect::<Result<Vec<_>, _>>()?
            }
            Db::Sqlite(pool) => {
                let sql = format!(
                    "SELECT {SQLITE_COLUMNS} FROM events \
                     WHERE position > $1 AND position <= $2 AND aggregate_type {}{} ORDER BY position LIMIT ${}",
                    type_list(3),
                    if unapplied_only { " AND applied_inline = 0" } else { "" },
                    3 + types.len()
                );
                let query = sqlx::query(&sql).bind(after.position).bind(bound.position);
                let query = types.iter().fold(query, |query, t| query.bind(*t));
                let rows = query.bind(limit).fetch_all(pool).await?;
                rows.iter().map(decode_row).collect::<Result<Vec<_>, _>>()?
            }
        };
        let reached = match entries.last() {
            Some(last) if entries.len() as i64 >= limit => last.point,
            _ => bound,
        };
        Ok((self.reveal(entries).await?, reached))
    }

    /// Every reader of the log passes its entries through here (the
    /// command bus's loads through `aggregate_events_after`), and so through
    /// `bring_out`.
    pub async fn reveal(&self, mut entries: Vec<LogEntry>) -> Result<Vec<LogEntry>, sqlx::Error> {
        let mut subjects: Vec<&str> = Vec::new();
        for entry in &entries {
            let event = &entry.event;
            if privacy::carries_personal_data(&event.aggregate_type) {
                subjects.push(&event.aggregate_id);
            }
            subjects.extend(privacy::sealed_subjects(&event.payload, &event.metadata));
        }
        subjects.sort_unstable();
        subjects.dedup();
        let keys = self.personal_keys(&subjects).await?;
        for entry in entries.iter_mut() {
            let event = &mut entry.event;
            privacy::open_foreign(&mut event.payload, &mut event.metadata, &keys);
            let key = keys.get(&event.aggregate_id).copied().flatten();
            bring_out(
                &event.aggregate_type,
                &event.aggregate_id,
                &key,
                &event.event_type,
                &mut event.event_version,
                &mut event.payload,
            );
        }
        Ok(entries)
    }

    pub async fn count_events(&self) -> Result<i64, sqlx::Error> {
        crate::on_pool!(self, pool => sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events").fetch_one(pool).await)
    }
}

impl Db {
    /// Where the worker `name` has got to in the log (created at zero).
    pub async fn checkpoint(&self, name: &str) -> Result<CommitPoint, sqlx::Error> {
        crate::on_pool!(self, pool => {
            sqlx::query("INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .execute(pool)
                .await?;
            let (txid, position): (i64, i64) =
                sqlx::query_as("SELECT transaction_id, position FROM projection_checkpoints WHERE name = $1")
                    .bind(name)
                    .fetch_one(pool)
                    .await?;
            Ok(CommitPoint { txid, position })
        })
    }

    /// Puts a checkpoint back to the start of the log (its worker re-reads
    /// everything; a running one notices at its next batch).
    pub async fn reset_checkpoint(&self, name: &str) -> Result<(), sqlx::Error> {
        self.checkpoint(name).await?;
        let now = chrono::Utc::now().to_rfc3339();
        crate::on_pool!(self, pool => {
            sqlx::query("UPDATE projection_checkpoints SET transaction_id = 0, position = 0, updated_at = $2 WHERE name = $1")
                .bind(name)
                .bind(&now)
                .execute(pool)
                .await
                .map(|_| ())
        })
    }

    /// Moves a checkpoint from `from` to `to`; false if someone else moved it first.
    pub async fn advance_checkpoint(
        &self,
        name: &str,
        from: CommitPoint,
        to: CommitPoint,
    ) -> Result<bool, sqlx::Error> {
        let now = chrono::Utc::now().to_rfc3339();
        let moved = crate::on_pool!(self, pool => {
            sqlx::query(ADVANCE_CHECKPOINT)
            .bind(name)
            .bind(to.txid)
            .bind(to.position)
            .bind(&now)
            .bind(from.txid)
            .bind(from.position)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(moved == 1)
    }

    /// The events of one aggregate before `sequence`, in order, opened.
    pub async fn aggregate_events_before(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        sequence: i64,
    ) -> Result<Vec<LogEntry>, sqlx::Error> {
        let columns = if matches!(self, Db::Postgres(_)) { PG_COLUMNS } else { SQLITE_COLUMNS };
        let sql = format!(
            "SELECT {columns} FROM events \
             WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence < $3 ORDER BY sequence"
        );
        let entries = crate::on_pool!(self, pool => {
            let rows = sqlx::query(&sql).bind(aggregate_type).bind(aggregate_id).bind(sequence).fetch_all(pool).await?;
            rows.iter().map(decode_row).collect::<Result<Vec<_>, _>>()?
        });
        self.reveal(entries).await
    }
}

impl Db {
    /// Where a reader starts to see only what commits from now on.
    pub async fn end_of_log(&self) -> Result<CommitPoint, sqlx::Error> {
        self.latest_point("WHERE transaction_id < (SELECT roster_commit_horizon())").await
    }

    /// `end_of_log` and the highest committed position, in one query.
    pub async fn log_ends(&self) -> Result<LogEnds, sqlx::Error> {
        match self {
            Db::Postgres(pool) => {
                // `max(position)` is read from the unique index on position.
                let (txid, position, last): (Option<String>, Option<i64>, Option<i64>) = sqlx::query_as(
                    "SELECT v.txid, v.position, (SELECT max(position) FROM events) AS last FROM (VALUES (1)) AS one(x) \
                     LEFT JOIN LATERAL (SELECT transaction_id::text AS txid, position FROM events \
                     WHERE transaction_id < (SELECT roster_commit_horizon()) \
                     ORDER BY transaction_id DESC, position DESC LIMIT 1) v ON true",
                )
                .fetch_one(pool)
                .await?;
                let readable = match (txid, position) {
                    (Some(txid), Some(position)) => commit_point(&txid, position)?,
                    _ => CommitPoint::default(),
                };
                Ok(LogEnds { readable, last_position: last.unwrap_or(0).max(readable.position) })
            }
            Db::Sqlite(_) => {
                let readable = self.end_of_log().await?;
                Ok(LogEnds { readable, last_position: readable.position })
            }
        }
    }

    /// The last event committed so far, whether or not older transactions are
    /// still running (`end_of_log` would stop below them). Waiting for this
    /// point makes sure the caller's own finished writes are in.
    pub async fn last_committed_point(&self) -> Result<CommitPoint, sqlx::Error> {
        self.latest_point("").await
    }

    /// The highest point in the log; on PostgreSQL among the rows `pg_filter` keeps.
    async fn latest_point(&self, pg_filter: &str) -> Result<CommitPoint, sqlx::Error> {
        let latest: Option<(String, i64)> = match self {
            Db::Postgres(pool) => {
                // The text column gets its own name: `ORDER BY transaction_id`
                // would otherwise sort by the text (no index, and "9" > "10").
                let sql = format!(
                    "SELECT transaction_id::text AS txid, position FROM events {pg_filter} \
                     ORDER BY transaction_id DESC, position DESC LIMIT 1"
                );
                sqlx::query_as(&sql).fetch_optional(pool).await?
            }
            Db::Sqlite(pool) => {
                sqlx::query_as("SELECT '0', position FROM events ORDER BY position DESC LIMIT 1")
                    .fetch_optional(pool)
                    .await?
            }
        };
        latest.map_or(Ok(CommitPoint::default()), |(txid, position)| commit_point(&txid, position))
    }

    /// A point from which reading in commit order meets every event above
    /// `position`, including those still being written. It may also meet
    /// some at or below `position`, which the reader skips.
    pub async fn commit_point_before(&self, position: i64) -> Result<CommitPoint, sqlx::Error> {
        match self {
            Db::Postgres(pool) => {
                // Every transaction still running is at or above xmin.
                let txid: String = sqlx::query_scalar(
                    "SELECT least(min(transaction_id), (SELECT roster_commit_horizon()))::text \
                     FROM events WHERE position > $1",
                )
                .bind(position)
                .fetch_one(pool)
                .await?;
                // Positions start at 1, so this takes all of transaction `txid`.
                commit_point(&txid, 0)
            }
            Db::Sqlite(_) => Ok(CommitPoint { txid: 0, position }),
        }
    }
}
