//! Appending events to the log: one statement for all of them, which also
//! reports where they landed. A command's events take one round trip
//! (postgres-es took BEGIN, an INSERT per event and COMMIT, and the commit
//! point was then a fourth query); a seeding batch takes one per few
//! thousand events. Personal fields are sealed on the way in.
//!
//! The events may belong to many aggregates (a unit of work's, or a seeding
//! batch): each aggregate's run of sequence numbers is the optimistic lock
//! on it, and guards extend that to aggregates the writer read but did not
//! change.

use serde_json::Value;

use super::log::{commit_point, CommitPoint};
use super::{values_placeholders, Db};
use crate::privacy;

/// SQLite binds at most 32,766 parameters per statement; 7 per row.
const SQLITE_ROWS_PER_STATEMENT: usize = 1_000;

/// PostgreSQL's unique-violation code: a sequence number is taken.
const UNIQUE_VIOLATION: &str = "23505";

/// An aggregate that must still be at `sequence` (no event after it) for
/// an append to go ahead: one the writer decided on without changing it.
#[derive(Debug, Clone)]
pub struct SequenceGuard {
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    pub sequence: i64,
}

/// An event to store: the row of `events` without what the database assigns
/// (position, transaction id, time).
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    pub metadata: Value,
}

const PG_APPEND_HEAD: &str = "INSERT INTO events \
    (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
    SELECT t, i, s, et, ev, p::json, m::json \
    FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[]) \
      AS batch(t, i, s, et, ev, p, m)";
/// Inserts nothing if a guarded aggregate has an event past its sequence.
const PG_GUARDED: &str = "WHERE NOT EXISTS (SELECT 1 \
    FROM unnest($8::text[], $9::text[], $10::bigint[]) AS guard(t, i, s) \
    JOIN events e ON e.aggregate_type = guard.t AND e.aggregate_id = guard.i AND e.sequence > guard.s)";
const PG_RETURNING: &str = "RETURNING transaction_id::text, position";

impl Db {
    /// Writes `events` atomically and returns the commit point of the last
    /// one, or `None`, with nothing written, if one of their sequence
    /// numbers is taken (another writer appended to that aggregate first, or
    /// a new aggregate exists already) or a guarded aggregate has moved on.
    pub async fn append_events(
        &self,
        mut events: Vec<NewEvent>,
        guards: &[SequenceGuard],
    ) -> Result<Option<CommitPoint>, sqlx::Error> {
        if events.is_empty() {
            return Ok(Some(CommitPoint::default()));
        }
        self.seal_all(&mut events).await?;
        let result = match self {
            Db::Postgres(pool) => {
                // One statement for the whole batch: arrays, unnested in order;
                // guards, if any, make it insert nothing.
                let column = |f: fn(&NewEvent) -> String| events.iter().map(f).collect::<Vec<String>>();
                let sequences: Vec<i64> = events.iter().map(|e| e.sequence).collect();
                let sql = match guards {
                    [] => format!("{PG_APPEND_HEAD} {PG_RETURNING}"),
                    _ => format!("{PG_APPEND_HEAD} {PG_GUARDED} {PG_RETURNING}"),
                };
                let query = sqlx::query_as::<_, (String, i64)>(&sql)
                    .bind(column(|e| e.aggregate_type.clone()))
                    .bind(column(|e| e.aggregate_id.clone()))
                    .bind(sequences)
                    .bind(column(|e| e.event_type.clone()))
                    .bind(column(|e| e.event_version.clone()))
                    .bind(column(|e| e.payload.to_string()))
                    .bind(column(|e| e.metadata.to_string()));
                let query = if guards.is_empty() {
                    query
                } else {
                    query
                        .bind(guards.iter().map(|g| g.aggregate_type).collect::<Vec<&str>>())
                        .bind(guards.iter().map(|g| g.aggregate_id.as_str()).collect::<Vec<&str>>())
                        .bind(guards.iter().map(|g| g.sequence).collect::<Vec<i64>>())
                };
                query.fetch_all(pool).await
            }
            Db::Sqlite(pool) => {
                async {
                    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                    // The write lock is held from here: nothing moves under the guards.
                    for guard in guards {
                        let moved: bool = sqlx::query_scalar(
                            "SELECT EXISTS (SELECT 1 FROM events \
                             WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3)",
                        )
                        .bind(guard.aggregate_type)
                        .bind(&guard.aggregate_id)
                        .bind(guard.sequence)
                        .fetch_one(&mut *tx)
                        .await?;
                        if moved {
                            return Ok(Vec::new());
                        }
                    }
                    for chunk in events.chunks(SQLITE_ROWS_PER_STATEMENT) {
                        let sql = format!(
                            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
                             payload, metadata) VALUES {}",
                            values_placeholders(chunk.len(), 7)
                        );
                        let mut query = sqlx::query(&sql);
                        for e in chunk {
                            query = query
                                .bind(&e.aggregate_type)
                                .bind(&e.aggregate_id)
                                .bind(e.sequence)
                                .bind(&e.event_type)
                                .bind(&e.event_version)
                                .bind(e.payload.to_string())
                                .bind(e.metadata.to_string());
                        }
                        query.execute(&mut *tx).await?;
                    }
                    // Positions come from a trigger after each row, which
                    // RETURNING does not see; this transaction holds the
                    // write lock, so the highest position is its last event.
                    let last: (String, i64) =
                        sqlx::query_as("SELECT '0', max(position) FROM events").fetch_one(&mut *tx).await?;
                    tx.commit().await?;
                    Ok(vec![last])
                }
                .await
            }
        };
        match result {
            // One transaction: every row has its id; the last position is the
            // commit point.
            Ok(landed) => match landed.iter().max_by_key(|(_, position)| *position) {
                Some((txid, position)) => Ok(Some(commit_point(txid, *position)?)),
                // A guard held the insert back.
                None if !guards.is_empty() => Ok(None),
                None => Err(sqlx::Error::RowNotFound),
            },
            Err(sqlx::Error::Database(e))
                if e.is_unique_violation() || e.code().as_deref() == Some(UNIQUE_VIOLATION) =>
            {
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }

    /// Seals the personal fields of every event with its user's key, and
    /// the values that belong to another user (a client address, a role
    /// request's form) with that user's.
    async fn seal_all(&self, events: &mut [NewEvent]) -> Result<(), sqlx::Error> {
        let personal = |e: &NewEvent| {
            privacy::carries_personal_data(&e.aggregate_type) && privacy::holds_personal_data(&e.payload)
        };
        let mut subjects: Vec<&str> = Vec::new();
        for event in events.iter() {
            if personal(event) {
                subjects.push(&event.aggregate_id);
            }
            subjects.extend(privacy::foreign_subjects(
                &event.aggregate_type,
                &event.aggregate_id,
                &event.payload,
                &event.metadata,
            ));
        }
        if subjects.is_empty() {
            return Ok(());
        }
        subjects.sort_unstable();
        subjects.dedup();
        let keys = self.personal_keys_for_writing(&subjects).await?;
        let unsealable = |error| sqlx::Error::Protocol(format!("cannot seal personal data: {error}"));
        for event in events.iter_mut() {
            if personal(event) {
                let key = keys.get(&event.aggregate_id).copied().flatten();
                privacy::seal(&event.aggregate_id, &key, &mut event.payload).map_err(unsealable)?;
            }
            privacy::seal_foreign(
                &event.aggregate_type,
                &event.aggregate_id,
                &mut event.payload,
                &mut event.metadata,
                &keys,
            )
            .map_err(unsealable)?;
        }
        Ok(())
    }
}
