//! `roster replay`: every read model rebuilt from the start of the log, each
//! in one transaction that empties its tables, applies the whole log and
//! moves its checkpoint. Until it commits, readers (on PostgreSQL, other
//! instances too) keep seeing the tables as they were, and a rebuild that
//! fails — an event the tables refuse, the process killed, the database
//! gone — rolls back and leaves them untouched (GUIDE §11).
//!
//! On PostgreSQL the rebuild fills copies of the tables and swaps them in
//! at its end (`storage::shadow_tables`): the live tables and their indexes
//! stay untouched for readers until then, and the copies' secondary indexes
//! are built once from their rows. The listing tables are marked stale
//! inside the transaction and built once at its end, from the copies.
//! On SQLite, which serialises writers and has no readers besides this
//! process, the rebuilds run one after the other, and a table's secondary
//! indexes and triggers are dropped inside the transaction and created again
//! at its end (with the FTS5 search index rebuilt in one pass).

use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use projections::{Projection, Step};
use tokio::sync::mpsc;
use tokio_util::task::AbortOnDropHandle;

use super::isolation::{blames_the_event, describe};
use super::{statements_for, steps_for, Projector, ProjectorError};
use crate::storage::copy_rows::{ApplySteps, ColumnTypes};
use crate::storage::log::{CommitPoint, LogEntry};
use crate::storage::shadow_tables::ShadowTablesIn;
use crate::storage::{begin_write, Db};
use crate::{in_savepoint, on_pool};

/// Events per read of the log during a rebuild.
const REBUILD_BATCH: i64 = 10_000;

/// Why a rebuild stopped: the event the read tables refused.
#[derive(Debug, thiserror::Error)]
#[error(
    "the {projection} read model refuses the event at position {position} ({event_type}, {aggregate_type} \
     {aggregate_id} #{sequence}): {error}. The live read models are unchanged; `roster replay --skip-failed` \
     rebuilds without such events and records them (`roster projections failed`)"
)]
pub struct RebuildFailed {
    pub projection: &'static str,
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub error: String,
}

impl RebuildFailed {
    fn new(projection: &'static str, entry: &LogEntry, error: String) -> Self {
        let event = &entry.event;
        RebuildFailed {
            projection,
            position: event.position,
            aggregate_type: event.aggregate_type.clone(),
            aggregate_id: event.aggregate_id.clone(),
            sequence: event.sequence,
            event_type: event.event_type.clone(),
            error,
        }
    }
}

impl Projector {
    /// Rebuilds every read model; stops at the first event one of them
    /// refuses, leaving all of them as they were. `on_progress` hears how
    /// many events each batch covered.
    pub async fn rebuild(&self, on_progress: impl Fn(&'static str, usize) + Sync) -> Result<(), ProjectorError> {
        self.rebuild_with(false, on_progress).await
    }

    /// As `rebuild`; with `skip_failed`, an event a read model refuses is
    /// recorded in `failed_projection_events` and skipped, as the live
    /// runner does. A rebuild forgets the failures it no longer meets.
    pub async fn rebuild_with(
        &self,
        skip_failed: bool,
        on_progress: impl Fn(&'static str, usize) + Sync,
    ) -> Result<(), ProjectorError> {
        // This instance's runners pause until the rebuild ends (see `rebuilding`).
        let _runners_paused = self.rebuilding.write().await;
        let on_progress = &on_progress;
        let rebuilds = self.projections.iter().cloned().map(|projection| async move {
            let reached = self.rebuild_one(projection.clone(), skip_failed, on_progress).await?;
            self.mark_changed(projection.name());
            self.progress[projection.name()].send_replace(reached);
            Ok::<(), ProjectorError>(())
        });
        // Each rebuild holds a connection for its transaction and borrows
        // another for its reader: side by side on PostgreSQL as far as the
        // pool allows (leaving two for everything else), one after the other
        // on SQLite (one writer at a time).
        let side_by_side = match &self.db {
            Db::Postgres(pool) => ((pool.options().get_max_connections() as usize).saturating_sub(2) / 2).max(1),
            Db::Sqlite(_) => 1,
        };
        futures::stream::iter(rebuilds).buffer_unordered(side_by_side).try_collect::<Vec<()>>().await?;
        let _ = self.refresh_failures().await;
        Ok(())
    }

    /// One read model in one transaction; returns where its checkpoint is now.
    async fn rebuild_one(
        &self,
        projection: Arc<dyn Projection>,
        skip_failed: bool,
        on_progress: &(impl Fn(&'static str, usize) + Sync),
    ) -> Result<CommitPoint, ProjectorError> {
        let name = projection.name();
        let tables = projection.tables();
        // SQLite: the indexes and triggers to drop now and create at the end.
        let parked = self.db.parkable_sqlite(tables).await?;
        let stale_listing = matches!(self.db, Db::Postgres(_)) && tables.contains(&"users");
        let now = chrono::Utc::now().to_rfc3339();
        let inline = projection.inline();
        let mut reached = CommitPoint::default();
        on_pool!(&self.db, pool => {
            let mut tx = begin_write(pool).await?;
            // PostgreSQL: the inline writes in flight finish first (later
            // ones leave their events to the runner), and the rebuild reads
            // at least up to the last of them.
            let mut read_at_least = None;
            if inline && matches!(self.db, Db::Postgres(_)) {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(crate::storage::inline::lock_key(name))
                    .execute(&mut *tx)
                    .await?;
                read_at_least = Some(self.db.last_committed_point().await?);
            }
            let mut column_types = ColumnTypes::default();
            let mut reader = ReadAhead::start(self.db.clone(), projection.clone(), read_at_least);
            // The checkpoint row first: a live runner's batch in flight
            // finishes before, and the next one waits for this commit, then
            // finds the checkpoint moved.
            sqlx::query(
                "INSERT INTO projection_checkpoints (name, transaction_id, position, updated_at) VALUES ($1, 0, 0, $2) \
                 ON CONFLICT (name) DO UPDATE SET transaction_id = 0, position = 0, updated_at = $2",
            )
            .bind(name)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            let forget = "DELETE FROM failed_projection_events WHERE projection = $1";
            sqlx::query(forget).bind(name).execute(&mut *tx).await?;
            if stale_listing {
                sqlx::query("INSERT INTO user_listing_stale (since) VALUES ($1)").bind(&now).execute(&mut *tx).await?;
            }
            // PostgreSQL: copies to fill, put in place at the end.
            let shadow = tx.create_shadow_tables(tables).await?;
            for (parked_name, kind, _) in &parked {
                let set_aside = match kind.as_str() {
                    "REBUILD" => continue,
                    "REFILL" => format!("DELETE FROM {parked_name}"),
                    _ => format!("DROP {kind} \"{parked_name}\""),
                };
                sqlx::query(&set_aside).execute(&mut *tx).await?;
            }
            if shadow.is_none() {
                for table in tables {
                    sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *tx).await?;
                }
            }
            loop {
                let batch = reader.next().await?;
                if batch.entries.is_empty() && batch.reached == reached {
                    break;
                }
                let batch_failed = match &batch.steps {
                    Ok(steps) => match apply_in_savepoint!(tx, steps, &mut column_types) {
                        Ok(()) => false,
                        Err(error) => {
                            let error = ProjectorError::Database(error);
                            if !blames_the_event(&error) {
                                return Err(error);
                            }
                            true
                        }
                    },
                    Err(_) => true,
                };
                if batch_failed {
                    // One event at a time, to name the one at fault.
                    for entry in &batch.entries {
                        let applied = match statements_for(projection.as_ref(), std::slice::from_ref(entry)) {
                            Ok(statements) => in_savepoint!(tx, &statements).map_err(ProjectorError::Database),
                            Err(error) => Err(error),
                        };
                        match applied {
                            Ok(()) => {}
                            Err(error) if blames_the_event(&error) => {
                                let description = describe(&error);
                                if !skip_failed {
                                    let failed = RebuildFailed::new(name, entry, description);
                                    return Err(ProjectorError::Rebuild(Box::new(failed)));
                                }
                                let position = entry.event.position;
                                tracing::error!(projection = name, position, error = %description,
                                    "replay skips an event the read model refuses");
                                crate::record_failed_event!(name, entry, &description, &now).execute(&mut *tx).await?;
                                metrics::counter!("roster_projection_failed_events_total", "projection" => name)
                                    .increment(1);
                            }
                            Err(error) => return Err(error),
                        }
                    }
                }
                on_progress(name, batch.entries.len());
                reached = batch.reached;
            }
            let checkpoint = "UPDATE projection_checkpoints SET transaction_id = $2, position = $3, updated_at = $4 \
                WHERE name = $1";
            sqlx::query(checkpoint)
                .bind(name)
                .bind(reached.txid)
                .bind(reached.position)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
            if let Some(shadow) = &shadow {
                tx.build_shadow_indexes(shadow).await?;
            }
            // The derived tables from the new rows (the copies, while they
            // are first on the search path); this also ends the stale mark.
            if stale_listing {
                sqlx::query("SELECT roster_rebuild_search_prefixes()").execute(&mut *tx).await?;
                sqlx::query("SELECT roster_rebuild_listing()").execute(&mut *tx).await?;
            }
            if let Some(shadow) = shadow {
                tx.swap_in_shadow_tables(shadow).await?;
            }
            // Triggers before the search index is rebuilt and derived tables
            // are refilled from the table.
            for (_, _, definition) in &parked {
                sqlx::query(definition).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(reached)
    }
}

/// As `in_savepoint!`, for a batch's steps (`storage::copy_rows`).
macro_rules! apply_in_savepoint {
    ($tx:ident, $steps:expr, $types:expr) => {{
        sqlx::query("SAVEPOINT step").execute(&mut *$tx).await?;
        let result = $tx.apply_steps($steps, $types).await;
        if result.is_err() {
            sqlx::query("ROLLBACK TO SAVEPOINT step").execute(&mut *$tx).await?;
        }
        sqlx::query("RELEASE SAVEPOINT step").execute(&mut *$tx).await?;
        result
    }};
}
use apply_in_savepoint;

/// A rebuild's batch: its events, the steps that apply them (or why they
/// could not be made), and how far the log was read.
struct Batch {
    entries: Vec<LogEntry>,
    steps: Result<Vec<Step>, ProjectorError>,
    reached: CommitPoint,
}

/// A rebuild's reader on a task of its own, up to two batches ahead:
/// decoding rows, opening personal fields and building statements (this
/// process's CPU) overlap with writing the batch before (the database's).
struct ReadAhead {
    batches: mpsc::Receiver<Result<Batch, ProjectorError>>,
    _task: AbortOnDropHandle<()>,
}

impl ReadAhead {
    /// With `at_least`, the reader does not report the end of the log
    /// before it has read that far: the commit horizon may still be below
    /// inline writes that committed before the rebuild locked them out.
    fn start(db: Db, projection: Arc<dyn Projection>, at_least: Option<CommitPoint>) -> Self {
        let (sender, batches) = mpsc::channel(2);
        let task = tokio::spawn(async move {
            let mut from = CommitPoint::default();
            loop {
                let read = db.events_of_types_after(from, projection.aggregate_types(), REBUILD_BATCH).await;
                if let Ok((entries, reached)) = &read {
                    if entries.is_empty() && *reached == from && at_least.is_some_and(|point| from < point) {
                        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                        continue;
                    }
                }
                let batch = read.map_err(ProjectorError::from).map(|(entries, reached)| {
                    let steps = steps_for(projection.as_ref(), &entries);
                    Batch { entries, steps, reached }
                });
                let next = batch.as_ref().ok().map(|batch| batch.reached).filter(|reached| *reached != from);
                if sender.send(batch).await.is_err() {
                    return;
                }
                match next {
                    Some(reached) => from = reached,
                    None => return,
                }
            }
        });
        ReadAhead { batches, _task: AbortOnDropHandle::new(task) }
    }

    /// The next batch; the last one reaches no further than where it started.
    async fn next(&mut self) -> Result<Batch, ProjectorError> {
        match self.batches.recv().await {
            Some(batch) => batch,
            None => Err(ProjectorError::Database(sqlx::Error::WorkerCrashed)),
        }
    }
}
