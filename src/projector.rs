//! The projection runner: one task per projection tails the log from its
//! checkpoint and applies each batch of events together with the new
//! checkpoint in one transaction. A crash rolls back the batch and the next
//! start resumes from the checkpoint; nothing is applied twice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use projections::{Projection, Statement};
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::CancellationToken as CancelToken;
use tokio_util::task::AbortOnDropHandle;

use crate::leadership::{self, Leadership};
use crate::storage::log::{CommitPoint, LogEntry, ADVANCE_CHECKPOINT};
use crate::storage::{begin_write, Db};
use crate::{bind_values, on_pool};

/// Events per transaction for a live runner; a rebuild takes larger bites.
const BATCH: i64 = 1_000;
const REBUILD_BATCH: i64 = 10_000;
/// Another instance's writes are noticed by polling at this interval.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// How long a woken runner waits for more writes before reading (bounds the
/// extra read-your-writes latency it adds).
const COALESCE: Duration = Duration::from_millis(2);

/// How often a runner stores a checkpoint that moved only past other
/// projections' events (see `catch_up_once`).
const STORE_EMPTY_PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// A runner's place: how far it has read, and what the database holds.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    read: CommitPoint,
    stored: CommitPoint,
    stored_at: Instant,
}

#[derive(Clone)]
pub struct Projector {
    db: Db,
    projections: Arc<Vec<Arc<dyn Projection>>>,
    progress: Arc<HashMap<&'static str, watch::Sender<CommitPoint>>>,
    /// How many times each projection's tables may have changed on this
    /// instance: a batch applied, a reset, another runner's batch, or (when
    /// following another instance) a stored checkpoint that moved. Unlike
    /// `progress`, it stays put while the log grows with other projections'
    /// events, so a cache of one projection's tables can key on it.
    changes: Arc<HashMap<&'static str, AtomicU64>>,
    wake: Arc<Notify>,
    log_end: Arc<SharedLogEnd>,
}

/// The end of the log, read once for all runners woken together: a write
/// wakes every runner, and each used to ask for the end of the log itself.
/// A reading is shared only with runners that woke before it was started,
/// so it covers every write that woke them.
#[derive(Default)]
struct SharedLogEnd {
    last: tokio::sync::Mutex<Option<(Instant, CommitPoint)>>,
}

impl SharedLogEnd {
    async fn since(&self, db: &Db, woke_at: Instant) -> Result<CommitPoint, sqlx::Error> {
        let mut last = self.last.lock().await;
        if let Some((started, end)) = *last {
            if started >= woke_at {
                return Ok(end);
            }
        }
        let started = Instant::now();
        let end = db.end_of_log().await?;
        *last = Some((started, end));
        Ok(end)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Projection(#[from] projections::ProjectionError),
    #[error("checkpoint of {0} moved underneath this runner")]
    CheckpointMoved(&'static str),
}

impl Projector {
    pub fn new(db: Db) -> Self {
        let projections: Vec<Arc<dyn Projection>> = projections::registry().into_iter().map(Arc::from).collect();
        let progress = projections.iter().map(|p| (p.name(), watch::channel(CommitPoint::default()).0)).collect();
        let changes = projections.iter().map(|p| (p.name(), AtomicU64::new(0))).collect();
        Projector {
            db,
            projections: Arc::new(projections),
            progress: Arc::new(progress),
            changes: Arc::new(changes),
            wake: Arc::new(Notify::new()),
            log_end: Arc::default(),
        }
    }

    /// A number that moves whenever projection `name`'s tables may have
    /// changed on this instance, before its progress is announced: once a
    /// write's read-your-writes wait is over, the number has moved.
    pub fn changes_of(&self, name: &str) -> Option<u64> {
        self.changes.get(name).map(|count| count.load(Ordering::Acquire))
    }

    fn mark_changed(&self, name: &str) {
        if let Some(count) = self.changes.get(name) {
            count.fetch_add(1, Ordering::AcqRel);
        }
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.projections.iter().map(|p| p.name()).collect()
    }

    /// Tells the runners that something was just written.
    pub fn notify(&self) {
        self.wake.notify_waiters();
    }

    /// Starts the runners in the background; they stop when `stop` fires.
    /// With several instances on one PostgreSQL only the leader runs them;
    /// the others follow the checkpoints, so their reads still wait correctly.
    pub async fn start(&self, stop: CancelToken) -> Result<(), ProjectorError> {
        self.follow_checkpoints().await?;
        let this = self.clone();
        tokio::spawn(async move { this.lead_or_follow(stop).await });
        Ok(())
    }

    async fn lead_or_follow(&self, stop: CancelToken) {
        loop {
            match Leadership::try_acquire(&self.db, "projections").await {
                Ok(Some(mut leadership)) => {
                    tracing::info!("this instance runs the projections");
                    if let Err(error) = self.finish_interrupted_replay().await {
                        tracing::error!(%error, "could not finish what a replay left undone");
                    }
                    let leading = stop.child_token();
                    for projection in self.projections.iter().cloned() {
                        let this = self.clone();
                        let leading = leading.clone();
                        tokio::spawn(async move { this.run(projection, leading).await });
                    }
                    loop {
                        tokio::select! {
                            _ = tokio::time::sleep(leadership::RETRY) => {
                                if !leadership.still_held().await {
                                    tracing::warn!("lost the projection lock; stepping down");
                                    leading.cancel();
                                    break;
                                }
                            }
                            _ = stop.cancelled() => {
                                leading.cancel();
                                leadership.release().await;
                                return;
                            }
                        }
                    }
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "cannot reach the database to take the projection lead"),
            }
            // Following until the next attempt: another instance applies the
            // events; this one only learns how far it got.
            let retry_at = tokio::time::Instant::now() + leadership::RETRY;
            while tokio::time::Instant::now() < retry_at {
                let woken = self.wake.notified();
                let _ = self.follow_checkpoints().await;
                tokio::select! {
                    _ = woken => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                    _ = stop.cancelled() => return,
                }
            }
        }
    }

    async fn follow_checkpoints(&self) -> Result<(), ProjectorError> {
        for projection in self.projections.iter() {
            let point = self.db.checkpoint(projection.name()).await?;
            if *self.progress[projection.name()].borrow() != point {
                self.mark_changed(projection.name());
                self.progress[projection.name()].send_replace(point);
            }
        }
        Ok(())
    }

    async fn run(&self, projection: Arc<dyn Projection>, stop: CancelToken) {
        let mut failures = 0u32;
        let mut cursor: Option<Cursor> = None;
        let mut woke_at = Instant::now();
        loop {
            if stop.is_cancelled() {
                return;
            }
            // Register interest before reading, so a write that lands while we
            // read still wakes us.
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match self.catch_up_once(projection.as_ref(), &mut cursor, woke_at).await {
                Ok(0) => {
                    failures = 0;
                    tokio::select! {
                        _ = woken => {
                            woke_at = Instant::now();
                            // Let a burst of writes land, so one batch covers
                            // them instead of one transaction each.
                            tokio::time::sleep(COALESCE).await;
                        }
                        _ = tokio::time::sleep(IDLE_POLL) => woke_at = Instant::now(),
                        _ = stop.cancelled() => return,
                    }
                }
                Ok(_) => {
                    failures = 0;
                    woke_at = Instant::now();
                }
                Err(ProjectorError::CheckpointMoved(name)) => {
                    // Another runner (another instance, or a replay) applied this batch.
                    tracing::debug!(projection = name, "checkpoint moved; reloading");
                    self.mark_changed(name);
                    cursor = None;
                }
                Err(error) => {
                    cursor = None;
                    failures += 1;
                    tracing::error!(projection = projection.name(), %error, "projection batch failed; retrying");
                    let backoff = Duration::from_millis(100 * 2u64.pow(failures.min(6)));
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.cancelled() => return,
                    }
                }
            }
        }
    }

    /// Applies one batch of the projection's events; returns how many there
    /// were (0 once it has reached the end of the log). `cursor` carries the
    /// runner's place between calls (`None`: read it from the database);
    /// the end of the log is read at or after `woke_at`.
    async fn catch_up_once(
        &self,
        projection: &dyn Projection,
        cursor: &mut Option<Cursor>,
        woke_at: Instant,
    ) -> Result<usize, ProjectorError> {
        let name = projection.name();
        let current = match *cursor {
            Some(current) => current,
            None => {
                let stored = self.db.checkpoint(name).await?;
                Cursor { read: stored, stored, stored_at: Instant::now() }
            }
        };
        let end = self.log_end.since(&self.db, woke_at).await?;
        let (entries, reached) =
            self.db.events_of_types_up_to(current.read, end, projection.aggregate_types(), BATCH).await?;
        if entries.is_empty() {
            // Nothing of this projection's types: move on in memory only. The
            // stored checkpoint follows now and then, for other instances
            // (their read-your-writes follow it) and for a restart (which
            // would otherwise re-read, and skip again, the same events).
            if reached != current.read {
                self.progress[name].send_replace(reached);
            }
            let mut next = Cursor { read: reached, ..current };
            if next.stored != next.read && current.stored_at.elapsed() >= STORE_EMPTY_PROGRESS_EVERY {
                if !self.db.advance_checkpoint(name, next.stored, next.read).await? {
                    return Err(ProjectorError::CheckpointMoved(name));
                }
                next = Cursor { read: reached, stored: reached, stored_at: Instant::now() };
            }
            *cursor = Some(next);
            return Ok(0);
        }
        self.apply(projection, current.stored, &entries, reached).await?;
        *cursor = Some(Cursor { read: reached, stored: reached, stored_at: Instant::now() });
        Ok(entries.len())
    }

    /// Applies `entries` and moves the checkpoint from `from` to `reached`
    /// in one transaction; `CheckpointMoved` if someone else moved it first.
    async fn apply(
        &self,
        projection: &dyn Projection,
        from: CommitPoint,
        entries: &[LogEntry],
        reached: CommitPoint,
    ) -> Result<(), ProjectorError> {
        let statements = statements_for(projection, entries)?;
        self.write(projection.name(), from, &statements, reached, entries.len()).await
    }

    /// Writes a batch's statements and moves the checkpoint from `from` to
    /// `reached` in one transaction.
    async fn write(
        &self,
        name: &'static str,
        from: CommitPoint,
        statements: &[Statement],
        reached: CommitPoint,
        events: usize,
    ) -> Result<(), ProjectorError> {
        let now = chrono::Utc::now().to_rfc3339();
        let moved = on_pool!(&self.db, pool => {
            let mut tx = begin_write(pool).await?;
            // Move the checkpoint first: its row lock makes a second runner on
            // the same batch (a replay, another instance) wait, then find the
            // checkpoint moved, instead of colliding on the read tables' keys.
            let result = sqlx::query(ADVANCE_CHECKPOINT)
            .bind(name)
            .bind(reached.txid)
            .bind(reached.position)
            .bind(&now)
            .bind(from.txid)
            .bind(from.position)
            .execute(&mut *tx)
            .await?;
            if result.rows_affected() == 1 {
                for statement in statements {
                    bind_values!(sqlx::query(&statement.sql), &statement.args).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                false
            } else {
                tx.rollback().await?;
                true
            }
        });
        if moved {
            return Err(ProjectorError::CheckpointMoved(name));
        }
        self.mark_changed(name);
        self.progress[name].send_replace(reached);
        metrics::counter!("roster_projection_events_total", "projection" => name).increment(events as u64);
        Ok(())
    }

    /// Waits (bounded) until every projection has applied the event at `point`:
    /// this is what makes a list right after a create show the new row.
    pub async fn wait_for(&self, point: CommitPoint, timeout: Duration) -> bool {
        let started = Instant::now();
        self.notify();
        let all = async {
            for sender in self.progress.values() {
                let mut receiver = sender.subscribe();
                if receiver.wait_for(|p| *p >= point).await.is_err() {
                    return;
                }
            }
        };
        let reached = tokio::time::timeout(timeout, all).await.is_ok();
        // Commit to visible in every read model: the lag a write's caller waits out.
        metrics::histogram!(crate::telemetry::READ_YOUR_WRITES_WAIT).record(started.elapsed().as_secs_f64());
        if !reached {
            tracing::warn!(?point, "read model did not reach the write in time");
            metrics::counter!("roster_read_your_writes_timeouts_total").increment(1);
        }
        reached
    }

    /// Empties every read table and resets the checkpoints, then rebuilds from
    /// position zero, all projections at once (they share no tables);
    /// `on_progress` hears how many events each batch covered.
    pub async fn rebuild(&self, on_progress: impl Fn(&'static str, usize) + Sync) -> Result<(), ProjectorError> {
        let on_progress = &on_progress;
        let rebuilds = self.projections.iter().map(|projection| async move {
            self.reset(projection.as_ref()).await?;
            let name = projection.name();
            let mut from = self.db.checkpoint(name).await?;
            let mut reader = ReadAhead::start(self.db.clone(), projection.clone(), from);
            loop {
                let batch = reader.next().await?;
                if batch.reached == from {
                    return Ok::<(), ProjectorError>(());
                }
                match self.write(name, from, &batch.statements, batch.reached, batch.events).await {
                    Ok(()) => {
                        on_progress(name, batch.events);
                        from = batch.reached;
                    }
                    // A live runner applied that batch; carry on from its checkpoint.
                    Err(ProjectorError::CheckpointMoved(_)) => {
                        from = self.db.checkpoint(name).await?;
                        reader = ReadAhead::start(self.db.clone(), projection.clone(), from);
                    }
                    Err(error) => return Err(error),
                }
            }
        });
        futures::future::try_join_all(rebuilds).await?;
        self.finish_interrupted_replay().await?;
        Ok(())
    }

    /// What a replay leaves to its end, or to the next start if it died
    /// midway: building its parked indexes and the stale user listing. They
    /// lock `users` in compatible modes, so they run side by side.
    async fn finish_interrupted_replay(&self) -> Result<(), sqlx::Error> {
        tokio::try_join!(self.db.restore_parked_indexes(), self.db.finish_stale_listing())?;
        Ok(())
    }

    async fn reset(&self, projection: &dyn Projection) -> Result<(), ProjectorError> {
        self.db.park_indexes(projection.tables()).await?;
        let truncate = matches!(self.db, Db::Postgres(_));
        on_pool!(&self.db, pool => {
            let mut tx = begin_write(pool).await?;
            // Checkpoint first: a live runner's batch in flight finishes
            // before the tables are emptied, so none of its rows survive.
            sqlx::query(
                "INSERT INTO projection_checkpoints (name, transaction_id, position, updated_at) VALUES ($1, 0, 0, '') \
                 ON CONFLICT (name) DO UPDATE SET transaction_id = 0, position = 0, updated_at = ''",
            )
            .bind(projection.name())
            .execute(&mut *tx)
            .await?;
            if truncate {
                // TRUNCATE drops the files instead of deleting row by row (about
                // 2 s per 200k users); its lock keeps readers out until commit.
                sqlx::query(&format!("TRUNCATE {}", projection.tables().join(", "))).execute(&mut *tx).await?;
            } else {
                for table in projection.tables() {
                    sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
        });
        self.mark_changed(projection.name());
        Ok(())
    }
}

/// The statements that apply some events to a projection, with single-row
/// INSERTs folded together.
fn statements_for(projection: &dyn Projection, entries: &[LogEntry]) -> Result<Vec<Statement>, ProjectorError> {
    let mut statements: Vec<Statement> = Vec::new();
    for entry in entries {
        statements.extend(projection.handle(&entry.event)?);
    }
    Ok(projections::merge_inserts(statements))
}

/// A rebuild's batch, ready to write.
struct Batch {
    statements: Vec<Statement>,
    events: usize,
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
    fn start(db: Db, projection: Arc<dyn Projection>, mut from: CommitPoint) -> Self {
        let (sender, batches) = mpsc::channel(2);
        let task = tokio::spawn(async move {
            loop {
                let batch = async {
                    let (entries, reached) =
                        db.events_of_types_after(from, projection.aggregate_types(), REBUILD_BATCH).await?;
                    let statements = statements_for(projection.as_ref(), &entries)?;
                    Ok(Batch { statements, events: entries.len(), reached })
                }
                .await;
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
