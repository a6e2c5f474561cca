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
//!
//! Events that an inline read model reads (`super::inline`) are applied to
//! it in the same transaction: the append, then that read model's
//! statements, then one commit. Whether they may be is decided inside the
//! append statement (PostgreSQL, `PG_INLINE_GATE`) or under the write lock
//! (SQLite); if not, they are left to the runner.

use serde_json::Value;

use projections::StoredEvent;

use super::inline::{InlineOutcome, InlineReadModels, InlineTarget};
use super::log::{commit_point, CommitPoint};
use super::{values_placeholders, Db};
use crate::privacy;

/// SQLite binds at most 32,766 parameters per statement; 8 per row.
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
    (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata, applied_inline) \
    SELECT t, i, s, et, ev, p::json, m::json, a AND (SELECT inline_ok FROM inline_gate) \
    FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bool[]) \
      AS batch(t, i, s, et, ev, p, m, a)";
/// Whether the rows flagged for inline read models (`$8`) are applied
/// inline: every read model's shared lock is free (`$9`, keys: no rebuild
/// holds or awaits it), and none has events older than these still to
/// apply (`$10`, `$11`: read model and aggregate type pairs), which would
/// otherwise be applied after them.
const PG_INLINE_GATE: &str = "WITH inline_gate AS MATERIALIZED (SELECT \
    (SELECT coalesce(bool_and(pg_try_advisory_xact_lock_shared(k)), true) FROM unnest($9::bigint[]) AS lock(k)) \
    AND NOT EXISTS (SELECT 1 FROM unnest($10::text[], $11::text[]) AS inl(name, t) \
      LEFT JOIN projection_checkpoints c ON c.name = inl.name \
      JOIN events e ON e.aggregate_type = inl.t AND NOT e.applied_inline \
       AND (e.transaction_id, e.position) > (coalesce(c.transaction_id, 0)::text::xid8, coalesce(c.position, 0))) \
    AS inline_ok)";
/// Inserts nothing if a guarded aggregate has an event past its sequence.
const PG_GUARDED: &str = "WHERE NOT EXISTS (SELECT 1 \
    FROM unnest($12::text[], $13::text[], $14::bigint[]) AS guard(t, i, s) \
    JOIN events e ON e.aggregate_type = guard.t AND e.aggregate_id = guard.i AND e.sequence > guard.s)";
const PG_RETURNING: &str = "RETURNING transaction_id::text, position, applied_inline";

/// Where a write's events landed: the commit point of the last one, and
/// what the inline read models made of them.
#[derive(Debug, Clone, Default)]
pub struct Appended {
    pub point: CommitPoint,
    pub inline: InlineOutcome,
}

/// An event an inline read model applies, as it reads it (opened), with
/// its place in the write.
struct InlineEvent {
    index: usize,
    target: InlineTarget,
    event: StoredEvent,
}

/// Why an attempt at an inline append stopped short.
enum Stopped {
    /// A read model refused an event: try again, each event on its own.
    Refused,
    Database(sqlx::Error),
}

impl From<sqlx::Error> for Stopped {
    fn from(error: sqlx::Error) -> Self {
        Stopped::Database(error)
    }
}

/// Whether a failed append is another writer's doing: a sequence number
/// taken, or (with inline read models touching shared counters) a deadlock
/// or serialisation failure. The command then decides again.
fn lost_a_race(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(e) => {
            e.is_unique_violation()
                || e.code().is_some_and(|code| code == UNIQUE_VIOLATION || code == DEADLOCK || code == SERIALIZATION)
        }
        _ => false,
    }
}

/// PostgreSQL's `deadlock_detected` and `serialization_failure`.
const DEADLOCK: &str = "40P01";
const SERIALIZATION: &str = "40001";

/// Inserts `events` in one statement, those `applied` says with their
/// inline read models (`targets`) if the gate lets them (`PG_INLINE_GATE`);
/// returns each row's transaction id, position and whether it went inline,
/// or no rows if a guard held them back.
async fn pg_insert<'c>(
    executor: impl sqlx::PgExecutor<'c>,
    events: &[NewEvent],
    guards: &[SequenceGuard],
    applied: &[bool],
    targets: &[InlineTarget],
) -> Result<Vec<(String, i64, bool)>, sqlx::Error> {
    // One statement for the whole batch: arrays, unnested in order;
    // guards, if any, make it insert nothing.
    let column = |f: fn(&NewEvent) -> String| events.iter().map(f).collect::<Vec<String>>();
    let sequences: Vec<i64> = events.iter().map(|e| e.sequence).collect();
    let sql = match guards {
        [] => format!("{PG_INLINE_GATE} {PG_APPEND_HEAD} {PG_RETURNING}"),
        _ => format!("{PG_INLINE_GATE} {PG_APPEND_HEAD} {PG_GUARDED} {PG_RETURNING}"),
    };
    let pairs: Vec<(&str, &str)> =
        targets.iter().flat_map(|t| t.aggregate_types.iter().map(move |ty| (t.name, *ty))).collect();
    let query = sqlx::query_as::<_, (String, i64, bool)>(&sql)
        .bind(column(|e| e.aggregate_type.clone()))
        .bind(column(|e| e.aggregate_id.clone()))
        .bind(sequences)
        .bind(column(|e| e.event_type.clone()))
        .bind(column(|e| e.event_version.clone()))
        .bind(column(|e| e.payload.to_string()))
        .bind(column(|e| e.metadata.to_string()))
        .bind(applied.to_vec())
        .bind(targets.iter().map(|t| t.lock_key).collect::<Vec<i64>>())
        .bind(pairs.iter().map(|(name, _)| *name).collect::<Vec<&str>>())
        .bind(pairs.iter().map(|(_, ty)| *ty).collect::<Vec<&str>>());
    let query = if guards.is_empty() {
        query
    } else {
        query
            .bind(guards.iter().map(|g| g.aggregate_type).collect::<Vec<&str>>())
            .bind(guards.iter().map(|g| g.aggregate_id.as_str()).collect::<Vec<&str>>())
            .bind(guards.iter().map(|g| g.sequence).collect::<Vec<i64>>())
    };
    query.fetch_all(executor).await
}

/// SQLite: whether inline read model `target` has events still to apply
/// that were written without it (they must go first).
async fn sqlite_pending(tx: &mut sqlx::SqliteConnection, target: &InlineTarget) -> Result<bool, sqlx::Error> {
    let types = target.aggregate_types.iter().map(|t| format!("'{}'", t.replace('\'', "''"))).collect::<Vec<_>>();
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM events e WHERE e.aggregate_type IN ({}) AND e.applied_inline = 0 \
         AND e.position > coalesce((SELECT position FROM projection_checkpoints WHERE name = $1), 0))",
        types.join(", ")
    );
    sqlx::query_scalar(&sql).bind(target.name).fetch_one(&mut *tx).await
}

/// As `pg_insert`, in a transaction that holds SQLite's write lock; returns
/// the last position only (positions come from a trigger after each row,
/// which RETURNING does not see).
async fn sqlite_insert(
    tx: &mut sqlx::SqliteConnection,
    events: &[NewEvent],
    guards: &[SequenceGuard],
    applied: &[bool],
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    // The write lock is held: nothing moves under the guards.
    for guard in guards {
        let moved: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3)",
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
    for (chunk, flags) in events.chunks(SQLITE_ROWS_PER_STATEMENT).zip(applied.chunks(SQLITE_ROWS_PER_STATEMENT)) {
        let sql = format!(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
             payload, metadata, applied_inline) VALUES {}",
            values_placeholders(chunk.len(), 8)
        );
        let mut query = sqlx::query(&sql);
        for (e, applied) in chunk.iter().zip(flags) {
            query = query
                .bind(&e.aggregate_type)
                .bind(&e.aggregate_id)
                .bind(e.sequence)
                .bind(&e.event_type)
                .bind(&e.event_version)
                .bind(e.payload.to_string())
                .bind(e.metadata.to_string())
                .bind(*applied);
        }
        query.execute(&mut *tx).await?;
    }
    let last: (String, i64) = sqlx::query_as("SELECT '0', max(position) FROM events").fetch_one(&mut *tx).await?;
    Ok(vec![last])
}

/// The commit point of an insert's last row; `None` if a guard held it back.
fn landed_point(landed: &[(String, i64)], guards: &[SequenceGuard]) -> Result<Option<CommitPoint>, sqlx::Error> {
    match landed.iter().max_by_key(|(_, position)| *position) {
        Some((txid, position)) => Ok(Some(commit_point(txid, *position)?)),
        None if !guards.is_empty() => Ok(None),
        None => Err(sqlx::Error::RowNotFound),
    }
}

/// Gives each inline event the position its row got (`positions` in the order of the write).
fn place(applying: &mut [InlineEvent], positions: &[i64]) {
    for inline in applying.iter_mut() {
        if let Some(position) = positions.get(inline.index) {
            inline.event.position = *position;
        }
    }
}

/// Which rows of the write an inline read model applies.
fn applied_flags(count: usize, applying: &[InlineEvent]) -> Vec<bool> {
    let mut flags = vec![false; count];
    for inline in applying {
        flags[inline.index] = true;
    }
    flags
}

/// Applies the inline events in transaction `$tx` (either backend):
/// every read model's statements at once, or (`$one_by_one`) each event in
/// a savepoint, recording those refused. Evaluates to
/// `Result<InlineOutcome, Stopped>`.
macro_rules! apply_inline {
    ($tx:ident, $applying:expr, $targets:expr, $models:expr, $one_by_one:expr, $txid:expr) => {
        async {
            let mut outcome = InlineOutcome::default();
            if !$one_by_one {
                for target in $targets {
                    let events: Vec<StoredEvent> =
                        $applying.iter().filter(|a| a.target == *target).map(|a| a.event.clone()).collect();
                    let Ok(statements) = $models.statements(target.name, &events) else {
                        return Err(Stopped::Refused);
                    };
                    if let Err(error) = crate::execute_all!(&mut *$tx, statements) {
                        return Err(match $models.refusal(&error) {
                            Some(_) => Stopped::Refused,
                            None => Stopped::Database(error),
                        });
                    }
                    outcome.applied.push(target.name);
                }
                return Ok(outcome);
            }
            let now = chrono::Utc::now().to_rfc3339();
            for inline in $applying.iter() {
                let failure = match $models.statements(inline.target.name, std::slice::from_ref(&inline.event)) {
                    Err(description) => Some(description),
                    Ok(statements) => match crate::in_savepoint!($tx, statements) {
                        Ok(()) => None,
                        Err(error) => match $models.refusal(&error) {
                            Some(description) => Some(description),
                            None => return Err(Stopped::Database(error)),
                        },
                    },
                };
                if let Some(description) = failure {
                    let name = inline.target.name;
                    tracing::error!(projection = name, position = inline.event.position, error = %description,
                        "an inline read model refuses an event; it is skipped and recorded");
                    sqlx::query(super::failed_events::RECORD_FAILED_EVENT)
                        .bind(name)
                        .bind(inline.event.position)
                        .bind($txid)
                        .bind(&inline.event.aggregate_type)
                        .bind(&inline.event.aggregate_id)
                        .bind(inline.event.sequence)
                        .bind(&inline.event.event_type)
                        .bind(&description)
                        .bind(&now)
                        .execute(&mut *$tx)
                        .await?;
                    metrics::counter!("roster_projection_failed_events_total", "projection" => name).increment(1);
                    if !outcome.skipped.contains(&name) {
                        outcome.skipped.push(name);
                    }
                }
            }
            outcome.applied = $targets.iter().map(|t| t.name).filter(|name| !outcome.skipped.contains(name)).collect();
            Ok(outcome)
        }
        .await
    };
}

impl Db {
    /// Writes `events` atomically and returns where they landed, or `None`,
    /// with nothing written, if one of their sequence numbers is taken
    /// (another writer appended to that aggregate first, or a new aggregate
    /// exists already) or a guarded aggregate has moved on. With `inline`,
    /// the read models it names for the events' types are applied in the
    /// same transaction; an event one of them refuses is recorded as failed
    /// there, and the write still lands.
    pub async fn append_events(
        &self,
        mut events: Vec<NewEvent>,
        guards: &[SequenceGuard],
        inline: Option<&dyn InlineReadModels>,
    ) -> Result<Option<Appended>, sqlx::Error> {
        if events.is_empty() {
            return Ok(Some(Appended::default()));
        }
        // Read models read events opened, so they are taken before sealing.
        let recorded_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let applying: Vec<InlineEvent> = match inline {
            Some(models) => events
                .iter()
                .enumerate()
                .filter_map(|(index, e)| {
                    let target = models.target_of(&e.aggregate_type)?;
                    let event = StoredEvent {
                        position: 0,
                        aggregate_type: e.aggregate_type.clone(),
                        aggregate_id: e.aggregate_id.clone(),
                        sequence: e.sequence,
                        event_type: e.event_type.clone(),
                        event_version: e.event_version.clone(),
                        payload: e.payload.clone(),
                        metadata: e.metadata.clone(),
                        recorded_at: recorded_at.clone(),
                    };
                    Some(InlineEvent { index, target, event })
                })
                .collect(),
            None => Vec::new(),
        };
        self.seal_all(&mut events).await?;
        let (Some(models), false) = (inline, applying.is_empty()) else {
            let point = self.append_only(&events, guards).await?;
            return Ok(point.map(|point| Appended { point, inline: InlineOutcome::default() }));
        };
        let mut applying = applying;
        match self.append_applying(&events, &mut applying, guards, models, false).await {
            Err(Stopped::Refused) => match self.append_applying(&events, &mut applying, guards, models, true).await {
                Ok(appended) => Ok(appended),
                Err(Stopped::Database(error)) => Err(error),
                Err(Stopped::Refused) => {
                    Err(sqlx::Error::Protocol("an inline read model refused an event twice".into()))
                }
            },
            Err(Stopped::Database(error)) => Err(error),
            Ok(appended) => Ok(appended),
        }
    }

    /// The append alone: one statement on PostgreSQL.
    async fn append_only(
        &self,
        events: &[NewEvent],
        guards: &[SequenceGuard],
    ) -> Result<Option<CommitPoint>, sqlx::Error> {
        let result = match self {
            Db::Postgres(pool) => pg_insert(pool, events, guards, &vec![false; events.len()], &[])
                .await
                .map(|rows| rows.into_iter().map(|(txid, position, _)| (txid, position)).collect()),
            Db::Sqlite(pool) => {
                async {
                    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                    let landed = sqlite_insert(&mut tx, events, guards, &vec![false; events.len()]).await?;
                    tx.commit().await?;
                    Ok(landed)
                }
                .await
            }
        };
        match result {
            Ok(landed) => landed_point(&landed, guards),
            Err(error) if lost_a_race(&error) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// The append and its inline read models in one transaction. With
    /// `one_by_one`, each event is applied in a savepoint and one that a
    /// read model refuses is recorded as failed; otherwise a refusal stops
    /// the attempt (`Stopped::Refused`) with nothing written. When a read
    /// model is being rebuilt (PostgreSQL: its lock is taken) or has older
    /// events still to apply, the events are appended for its runner
    /// instead, as they were before read models were inline.
    async fn append_applying(
        &self,
        events: &[NewEvent],
        applying: &mut [InlineEvent],
        guards: &[SequenceGuard],
        models: &dyn InlineReadModels,
        one_by_one: bool,
    ) -> Result<Option<Appended>, Stopped> {
        let mut targets: Vec<InlineTarget> = applying.iter().map(|a| a.target).collect();
        targets.sort_by_key(|t| t.lock_key);
        targets.dedup();
        let flags = applied_flags(events.len(), applying);
        // `None`: another writer came first (see `lost_a_race`).
        let attempt: Result<Option<Appended>, Stopped> = async {
            match self {
                Db::Postgres(pool) => {
                    let mut tx = pool.begin().await?;
                    let landed = pg_insert(&mut *tx, events, guards, &flags, &targets).await?;
                    let inline = landed.iter().any(|(_, _, inline)| *inline);
                    let landed: Vec<(String, i64)> =
                        landed.into_iter().map(|(txid, position, _)| (txid, position)).collect();
                    let Some(point) = landed_point(&landed, guards)? else { return Ok(None) };
                    let inline = if inline {
                        let mut positions: Vec<i64> = landed.iter().map(|(_, position)| *position).collect();
                        positions.sort_unstable();
                        place(applying, &positions);
                        apply_inline!(tx, applying, &targets, models, one_by_one, point.txid)?
                    } else {
                        InlineOutcome { deferred: true, ..InlineOutcome::default() }
                    };
                    tx.commit().await?;
                    Ok(Some(Appended { point, inline }))
                }
                Db::Sqlite(pool) => {
                    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                    let mut inline = true;
                    for target in &targets {
                        if sqlite_pending(&mut tx, target).await? {
                            inline = false;
                        }
                    }
                    let flags = if inline { flags } else { vec![false; events.len()] };
                    let landed = sqlite_insert(&mut tx, events, guards, &flags).await?;
                    let Some(point) = landed_point(&landed, guards)? else { return Ok(None) };
                    let inline = if inline {
                        // This transaction holds the write lock: its events took
                        // the positions just below the last one, in order.
                        let first = point.position - events.len() as i64 + 1;
                        let positions: Vec<i64> = (first..=point.position).collect();
                        place(applying, &positions);
                        apply_inline!(tx, applying, &targets, models, one_by_one, 0i64)?
                    } else {
                        InlineOutcome { deferred: true, ..InlineOutcome::default() }
                    };
                    tx.commit().await?;
                    Ok(Some(Appended { point, inline }))
                }
            }
        }
        .await;
        match attempt {
            Err(Stopped::Database(error)) if lost_a_race(&error) => Ok(None),
            other => other,
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
