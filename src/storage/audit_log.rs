//! Searching the log for the audit API: filters over the `events` table,
//! with every entry passed through `Db::reveal` like any other log reader.
//!
//! `recorded_at` is shown with millisecond precision (and SQLite stores no
//! more), so instants are compared at that precision on both backends: an
//! upper bound `to` takes every event whose shown `recorded_at` is <= `to`.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use super::log::{decode_row, LogEntry, PG_COLUMNS, SQLITE_COLUMNS};
use super::query::Conditions;
use super::Db;
use crate::bind_values;

/// Which events, in which order. Every filter is optional; `limit` is not.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    pub aggregate_type: Option<String>,
    pub aggregate_id: Option<String>,
    pub event_type: Option<String>,
    /// The `actor_id` of the event's metadata (a user UUID or "system").
    pub actor_id: Option<String>,
    /// Inclusive bounds on `recorded_at`.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub after_position: Option<i64>,
    pub after_sequence: Option<i64>,
    pub order: LogOrder,
    pub limit: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogOrder {
    /// Global write order: the cursor of a log search.
    #[default]
    Position,
    /// Order within one aggregate: a history.
    Sequence,
}

/// The text form SQLite stores `recorded_at` in; PostgreSQL casts it back.
/// Clamped to the years both backends (and text comparison) handle.
fn log_time(at: DateTime<Utc>) -> String {
    let earliest = NaiveDate::from_ymd_opt(1, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc());
    let latest =
        NaiveDate::from_ymd_opt(9999, 12, 31).and_then(|d| d.and_hms_milli_opt(23, 59, 59, 999)).map(|t| t.and_utc());
    let at = match (earliest, latest) {
        (Some(earliest), Some(latest)) => at.clamp(earliest, latest),
        _ => at,
    };
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Cuts sub-millisecond digits, the precision `recorded_at` is shown with.
fn to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

impl LogQuery {
    /// The WHERE clause and its arguments; user input only ever goes into
    /// the arguments, bound as `$n`.
    fn where_clause(&self, postgres: bool) -> Conditions {
        let mut c = Conditions::new();
        let time = |mark: String| if postgres { format!("CAST({mark} AS timestamptz)") } else { mark };
        if let Some(t) = &self.aggregate_type {
            c.with("aggregate_type = $?", t.as_str());
        }
        if let Some(id) = &self.aggregate_id {
            c.with("aggregate_id = $?", id.as_str());
        }
        if let Some(t) = &self.event_type {
            c.with("event_type = $?", t.as_str());
        }
        if let Some(actor) = &self.actor_id {
            let actor_of = if postgres { "metadata->>'actor_id'" } else { "json_extract(metadata, '$.actor_id')" };
            c.with(&format!("{actor_of} = $?"), actor.as_str());
        }
        if let Some(from) = self.from {
            let mark = c.arg(log_time(to_millis(from)));
            c.push(format!("recorded_at >= {}", time(mark)));
        }
        if let Some(to) = self.to {
            // Inclusive at millisecond precision: before the next millisecond.
            let before = to_millis(to) + TimeDelta::milliseconds(1);
            let mark = c.arg(log_time(before));
            c.push(format!("recorded_at < {}", time(mark)));
        }
        if let Some(after) = self.after_position {
            c.with("position > $?", after);
        }
        if let Some(after) = self.after_sequence {
            c.with("sequence > $?", after);
        }
        c
    }
}

impl Db {
    /// Up to `query.limit` events matching `query`, revealed.
    pub async fn search_events(&self, query: &LogQuery) -> Result<Vec<LogEntry>, sqlx::Error> {
        let postgres = matches!(self, Db::Postgres(_));
        let mut conditions = query.where_clause(postgres);
        if postgres && matches!(query.order, LogOrder::Position) {
            // A position cursor must not pass an event that is still being
            // committed: only show transactions older than every running one
            // (as the commit-order reader does), so a later page cannot gain
            // an event below the cursor.
            conditions.push("transaction_id < (SELECT roster_commit_horizon())");
        }
        let limit = conditions.arg(query.limit);
        let clause = conditions.clause();
        let args = conditions.into_arguments();
        let order = match query.order {
            LogOrder::Position => "position",
            LogOrder::Sequence => "sequence, position",
        };
        let columns = if postgres { PG_COLUMNS } else { SQLITE_COLUMNS };
        let sql = format!("SELECT {columns} FROM events WHERE {clause} ORDER BY {order} LIMIT {limit}");
        let entries = match self {
            Db::Postgres(pool) => {
                let rows = bind_values!(sqlx::query(&sql), &args).fetch_all(pool).await?;
                rows.iter().map(decode_row).collect::<Result<Vec<_>, _>>()?
            }
            Db::Sqlite(pool) => {
                let rows = bind_values!(sqlx::query(&sql), &args).fetch_all(pool).await?;
                rows.iter().map(decode_row).collect::<Result<Vec<_>, _>>()?
            }
        };
        self.reveal(entries).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use projections::SqlValue;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn instants_take_the_stored_text_form() {
        assert_eq!(log_time(at("2026-03-01T10:00:00+02:00")), "2026-03-01T08:00:00.000Z");
        assert_eq!(log_time(to_millis(at("2026-03-01T08:00:00.123999Z"))), "2026-03-01T08:00:00.123Z");
        assert_eq!(log_time(at("0000-01-01T00:00:00Z")), "0001-01-01T00:00:00.000Z");
    }

    #[test]
    fn filters_are_bound_never_spliced() {
        let query = LogQuery {
            aggregate_type: Some("user' OR '1'='1".into()),
            actor_id: Some("a".into()),
            to: Some(at("2026-03-01T08:00:00.123999Z")),
            after_position: Some(5),
            limit: 10,
            ..LogQuery::default()
        };
        let conditions = query.where_clause(true);
        let (clause, args) = (conditions.clause(), conditions.arguments());
        assert_eq!(
            clause,
            "aggregate_type = $1 AND metadata->>'actor_id' = $2 AND recorded_at < CAST($3 AS timestamptz) AND position > $4"
        );
        assert_eq!(args[0], SqlValue::Text("user' OR '1'='1".into()));
        assert_eq!(args[2], SqlValue::Text("2026-03-01T08:00:00.124Z".into()));
        let clause = query.where_clause(false).clause();
        assert!(clause.contains("json_extract(metadata, '$.actor_id') = $2 AND recorded_at < $3"), "{clause}");
    }
}
