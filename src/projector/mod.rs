//! The projection runner: one task per projection tails the log from its
//! checkpoint and applies each batch of events together with the new
//! checkpoint in one transaction. A crash rolls back the batch and the next
//! start resumes from the checkpoint; nothing is applied twice.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use projections::{Projection, Statement};
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken as CancelToken;

mod inline;
mod isolation;
mod rebuild;

pub use isolation::RetryReport;
pub use rebuild::RebuildFailed;

use crate::leadership::{self, Leadership};
use crate::storage::log::{CommitPoint, LogEnds, LogEntry, ADVANCE_CHECKPOINT};
use crate::storage::{begin_write, Db};
use crate::{bind_values, on_pool};

/// Events per transaction for a live runner; a rebuild takes larger bites.
const BATCH: i64 = 1_000;
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
    /// Events recorded as failed (in `failed_projection_events`) as far as
    /// this instance knows: while it is zero, a write's wait need not look
    /// for its own events there.
    failures: Arc<AtomicU64>,
    /// A rebuild holds the write side for its whole run; a runner takes the
    /// read side around each batch. So the runners wait for a rebuild here,
    /// holding no connection, instead of each holding one in `begin_write`
    /// while the rebuild holds the write lock: on SQLite (eight
    /// connections) seven waiting runners and the rebuild's transaction
    /// filled the pool its event reader needs, and the rebuild failed with
    /// `PoolTimedOut`. One gate per database in the process
    /// (`rebuild_gate`), so a second projector on the same database (a
    /// test's, a CLI's) pauses the service's runners too.
    rebuilding: Arc<tokio::sync::RwLock<()>>,
    /// How many times a caller has waited for the read models on this
    /// instance (`wait_for`).
    waits: Arc<AtomicU64>,
    /// The read models applied in the appending transaction, by the
    /// aggregate types they read (`inline`).
    inline: Arc<HashMap<&'static str, crate::storage::inline::InlineTarget>>,
}

/// What a write's wait for the read models found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Every read model shows the write.
    Visible,
    /// Some read model had not reached it when the wait ran out.
    TimedOut,
    /// These read models skipped an event of the write (see
    /// `roster projections failed`): they will not show it.
    Skipped(Vec<String>),
}

/// The rebuild gate (`Projector::rebuilding`) of `db`'s database.
fn rebuild_gate(db: &Db) -> Arc<tokio::sync::RwLock<()>> {
    static GATES: std::sync::OnceLock<std::sync::Mutex<HashMap<String, Arc<tokio::sync::RwLock<()>>>>> =
        std::sync::OnceLock::new();
    let mut gates = GATES.get_or_init(Default::default).lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    gates.entry(db.identity()).or_default().clone()
}

fn report_lag(projection: &'static str, events: i64) {
    metrics::gauge!(crate::telemetry::PROJECTION_LAG, "projection" => projection).set(events as f64);
}

/// The end of the log, read once for all runners woken together: a write
/// wakes every runner, and each used to ask for the end of the log itself.
/// A reading is shared only with runners that woke before it was started,
/// so it covers every write that woke them.
#[derive(Default)]
struct SharedLogEnd {
    last: tokio::sync::Mutex<Option<(Instant, LogEnds)>>,
}

impl SharedLogEnd {
    async fn since(&self, db: &Db, woke_at: Instant) -> Result<LogEnds, sqlx::Error> {
        let mut last = self.last.lock().await;
        if let Some((started, ends)) = *last {
            if started >= woke_at {
                return Ok(ends);
            }
        }
        let started = Instant::now();
        let ends = db.log_ends().await?;
        *last = Some((started, ends));
        Ok(ends)
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
    #[error(transparent)]
    Rebuild(Box<RebuildFailed>),
}

impl Projector {
    pub fn new(db: Db) -> Self {
        let rebuilding = rebuild_gate(&db);
        let projections: Vec<Arc<dyn Projection>> = projections::registry().into_iter().map(Arc::from).collect();
        let progress = projections.iter().map(|p| (p.name(), watch::channel(CommitPoint::default()).0)).collect();
        let changes = projections.iter().map(|p| (p.name(), AtomicU64::new(0))).collect();
        let inline = Arc::new(inline::targets(&projections));
        Projector {
            waits: Arc::default(),
            inline,
            db,
            projections: Arc::new(projections),
            progress: Arc::new(progress),
            changes: Arc::new(changes),
            wake: Arc::new(Notify::new()),
            log_end: Arc::default(),
            failures: Arc::default(),
            rebuilding,
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
                    for projection in self.projections.iter() {
                        let projection = Arc::clone(projection);
                        let this = self.clone();
                        let leading = leading.clone();
                        tokio::spawn(async move {
                            this.run(projection.as_ref(), leading).await;
                            // A runner that stopped (shutdown, lost lead) no
                            // longer knows; the leader reports from now on.
                            report_lag(projection.name(), 0);
                        });
                    }
                    loop {
                        tokio::select! {
                            _ = tokio::time::sleep(leadership::RETRY) => {
                                let _ = self.refresh_failures().await;
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
        let mut points = Vec::with_capacity(self.projections.len());
        for projection in self.projections.iter() {
            points.push((projection.name(), self.db.checkpoint(projection.name()).await?));
        }
        // Read after the checkpoints: a failure recorded with a checkpoint
        // read above is counted before that progress is announced below.
        self.refresh_failures().await?;
        for (name, point) in points {
            if *self.progress[name].borrow() != point {
                self.mark_changed(name);
                self.progress[name].send_replace(point);
            }
        }
        Ok(())
    }

    /// Reads how many failed events are recorded (a retry elsewhere may have
    /// resolved some).
    async fn refresh_failures(&self) -> Result<(), ProjectorError> {
        let total: i64 = self.db.failed_event_counts().await?.iter().map(|(_, count)| count).sum();
        self.failures.store(total as u64, Ordering::Release);
        metrics::gauge!("roster_projection_failed_events").set(total as f64);
        Ok(())
    }

    async fn run(&self, projection: &dyn Projection, stop: CancelToken) {
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
            let caught_up = {
                let _batch = self.rebuilding.read().await;
                self.catch_up_once(projection, &mut cursor, woke_at).await
            };
            match caught_up {
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
                Err(error) if failures + 1 >= isolation::ISOLATE_AFTER && isolation::blames_the_event(&error) => {
                    // The batch keeps failing: find the event(s) at fault.
                    cursor = None;
                    let isolated = {
                        let _batch = self.rebuilding.read().await;
                        self.isolate(projection).await
                    };
                    match isolated {
                        Ok(_) => failures = 0,
                        Err(error) => {
                            failures += 1;
                            let error = isolation::describe(&error);
                            tracing::error!(projection = projection.name(), %error, "applying events one by one failed");
                        }
                    }
                }
                // The process is stopping and closed the pool under this batch:
                // nothing failed, and a CLI's stderr stays one line.
                Err(ProjectorError::Database(sqlx::Error::PoolClosed)) => return,
                Err(error) => {
                    cursor = None;
                    failures += 1;
                    let error = isolation::describe(&error);
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
        let ends = self.log_end.since(&self.db, woke_at).await?;
        let end = ends.readable;
        let (entries, reached) =
            self.db.unapplied_events_of_types_up_to(current.read, end, projection.aggregate_types(), BATCH).await?;
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
            report_lag(name, reached.events_until(ends.last_position));
            return Ok(0);
        }
        // Before applying too, so a batch that keeps failing shows as lag.
        report_lag(name, current.read.events_until(ends.last_position));
        self.apply(projection, current.stored, &entries, reached).await?;
        *cursor = Some(Cursor { read: reached, stored: reached, stored_at: Instant::now() });
        report_lag(name, reached.events_until(ends.last_position));
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
        self.waits.fetch_add(1, Ordering::Relaxed);
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

    /// How many waits for the read models this instance has begun.
    pub fn waits_begun(&self) -> u64 {
        self.waits.load(Ordering::Relaxed)
    }

    /// As `wait_for`, for a write of `events` events ending at `point`; also
    /// tells whether a read model skipped one of them, so the caller can say
    /// so instead of answering as if the write had not happened.
    pub async fn wait_for_write(
        &self,
        point: CommitPoint,
        events: u64,
        timeout: Duration,
    ) -> Result<Visibility, sqlx::Error> {
        if !self.wait_for(point, timeout).await {
            return Ok(Visibility::TimedOut);
        }
        if self.failures.load(Ordering::Acquire) == 0 {
            return Ok(Visibility::Visible);
        }
        let skipped = self.db.projections_that_skipped(point, events).await?;
        Ok(if skipped.is_empty() { Visibility::Visible } else { Visibility::Skipped(skipped) })
    }

    /// What a replay of an earlier version left to its end, or to the next
    /// start if it died midway: building its parked indexes and the stale
    /// user listing. They lock `users` in compatible modes, so they run side
    /// by side.
    async fn finish_interrupted_replay(&self) -> Result<(), sqlx::Error> {
        tokio::try_join!(self.db.restore_parked_indexes(), self.db.finish_stale_listing())?;
        Ok(())
    }
}

/// The statements that apply some events to a projection, with single-row
/// INSERTs folded together. Text that PostgreSQL cannot store (NUL) loses
/// those characters here: the API refuses them, but a log written before it
/// did must still apply, on both backends alike.
fn statements_for(projection: &dyn Projection, entries: &[LogEntry]) -> Result<Vec<Statement>, ProjectorError> {
    statements_of(projection, entries.iter().map(|entry| &entry.event))
}

/// A rebuild's steps for `entries`: their rows gathered per table, to
/// bulk-load (`projections::bulk_steps`).
fn steps_for(projection: &dyn Projection, entries: &[LogEntry]) -> Result<Vec<projections::Step>, ProjectorError> {
    Ok(projections::bulk_steps(unmerged_statements_of(projection, entries.iter().map(|entry| &entry.event))?))
}

/// As `statements_for`, for events however they are held.
fn statements_of<'a>(
    projection: &dyn Projection,
    events: impl Iterator<Item = &'a projections::StoredEvent>,
) -> Result<Vec<Statement>, ProjectorError> {
    Ok(projections::merge_inserts(unmerged_statements_of(projection, events)?))
}

/// The projection's statements for `events`, one event after the other.
fn unmerged_statements_of<'a>(
    projection: &dyn Projection,
    events: impl Iterator<Item = &'a projections::StoredEvent>,
) -> Result<Vec<Statement>, ProjectorError> {
    let mut statements: Vec<Statement> = Vec::new();
    for event in events {
        statements.extend(projection.handle(event)?);
    }
    for statement in &mut statements {
        for arg in &mut statement.args {
            if let projections::SqlValue::Text(text) = arg {
                if text.contains('\0') {
                    text.retain(|c| c != '\0');
                }
            }
        }
    }
    Ok(statements)
}
