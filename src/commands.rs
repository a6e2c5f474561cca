//! The command bus: load an aggregate from the log, let it decide, append its
//! events with the request's metadata, and report where they landed.
//!
//! Loading folds only the events after a cached state
//! (`crate::aggregate_cache`); appending is one INSERT that also returns the
//! commit point (for read-your-writes), with a retry on optimistic-lock
//! conflicts. A write that changes several aggregates goes through a
//! `UnitOfWork` (`crate::unit_of_work`), which commits them together;
//! `execute` is a unit of one. Read models are not updated here: projections
//! read the log.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use aggregates::{Aggregate, ClaimKind};

use crate::aggregate_cache::{self, AggregateCache};
use crate::projector::Projector;
use crate::storage::claim_ids::ClaimIds;
use crate::storage::log::CommitPoint;
use crate::storage::Db;

/// Who did it and why, stored with every event.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    pub actor_id: Option<String>,
    pub correlation_id: String,
    pub dialect: &'static str,
    pub client_addr: Option<String>,
}

impl Metadata {
    pub fn system(reason: &str) -> Self {
        Metadata {
            actor_id: Some("system".into()),
            correlation_id: reason.to_string(),
            dialect: "system",
            client_addr: None,
        }
    }

    pub(crate) fn to_map(&self) -> HashMap<String, String> {
        let mut map = HashMap::new();
        if let Some(actor) = &self.actor_id {
            map.insert("actor_id".into(), actor.clone());
        }
        map.insert("correlation_id".into(), self.correlation_id.clone());
        map.insert("dialect".into(), self.dialect.to_string());
        if let Some(addr) = &self.client_addr {
            map.insert("client_addr".into(), addr.clone());
        }
        map
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    #[error(transparent)]
    Domain(E),
    #[error("too many concurrent changes to the same record")]
    Conflict,
    /// Kept whole (`anyhow`), so the log shows the cause under it.
    #[error("event store: {0:#}")]
    Store(anyhow::Error),
}

impl CommandError<Infallible> {
    /// A failure that is never a refusal, as the error of any command.
    pub fn widen<E: std::error::Error>(self) -> CommandError<E> {
        match self {
            CommandError::Domain(never) => match never {},
            CommandError::Conflict => CommandError::Conflict,
            CommandError::Store(error) => CommandError::Store(error),
        }
    }
}

/// What a successful command wrote: nothing, or `events` events ending at
/// `point`; whether every read model shows them already (`visible`: all
/// applied inline, or read by none), and which inline read models refused
/// one of them (`skipped`, recorded as failed in the same commit).
#[derive(Debug, Clone, Default)]
pub struct Committed {
    pub point: Option<CommitPoint>,
    pub events: u64,
    pub visible: bool,
    pub skipped: Vec<&'static str>,
}

#[derive(Clone)]
pub struct CommandBus {
    db: Db,
    projector: Projector,
    cache: Arc<AggregateCache>,
    /// Aggregate types whose next decision fails (`fail_next_decision_on`),
    /// and whether there are any: commands only read the flag.
    faults: Arc<Mutex<Vec<&'static str>>>,
    faults_armed: Arc<AtomicBool>,
    claim_ids: ClaimIds,
}

impl CommandBus {
    pub fn new(db: Db, projector: Projector, claim_ids: ClaimIds) -> Self {
        let cache = Arc::new(AggregateCache::new(aggregate_cache::DEFAULT_CAPACITY));
        CommandBus { db, projector, cache, faults: Arc::default(), faults_armed: Arc::default(), claim_ids }
    }

    /// The aggregate id of the claim on a unique value (`storage::claim_ids`).
    pub fn claim_id(&self, kind: ClaimKind, normalized_value: &str) -> String {
        self.claim_ids.of(kind, normalized_value)
    }

    pub fn claim_ids(&self) -> &ClaimIds {
        &self.claim_ids
    }

    /// The aggregate's current state, replayed from the log.
    pub async fn load<A: Aggregate>(&self, id: &str) -> Result<A, CommandError<A::Error>> {
        Ok(self.load_current::<A>(id).await.map_err(CommandError::widen)?.0)
    }

    /// The aggregate and the sequence it is folded up to: the cached fold
    /// plus whatever the log holds after it (see `crate::aggregate_cache`).
    pub(crate) async fn load_current<A: Aggregate>(&self, id: &str) -> Result<(A, i64), CommandError<Infallible>> {
        let (mut aggregate, mut sequence) = self.cache.get::<A>(id).unwrap_or_default();
        let newer = self
            .db
            .aggregate_events_after(A::TYPE, id, sequence)
            .await
            .map_err(|error| CommandError::Store(error.into()))?;
        if newer.is_empty() {
            return Ok((aggregate, sequence));
        }
        for stored in newer {
            let event: A::Event = serde_json::from_value(stored.payload).map_err(|error| {
                CommandError::Store(anyhow::Error::new(error).context(format!(
                    "cannot decode {} event {} of {id} (sequence {})",
                    A::TYPE,
                    stored.event_type,
                    stored.sequence
                )))
            })?;
            aggregate.apply(event);
            sequence = stored.sequence;
        }
        self.cache.put::<A>(id, aggregate.clone(), sequence);
        Ok((aggregate, sequence))
    }

    /// Handles `command` on aggregate `id`. A concurrent append to the same
    /// aggregate makes the commit fail; the command is then re-decided on the
    /// fresh state, so counters and rules hold under parallel requests.
    pub async fn execute<A>(
        &self,
        id: &str,
        command: A::Command,
        metadata: &Metadata,
    ) -> Result<Committed, CommandError<A::Error>>
    where
        A: Aggregate,
        A::Command: Clone,
    {
        let mut unit = self.unit(metadata);
        loop {
            unit.decide::<A>(id, command.clone()).await?;
            if let Some(committed) = unit.commit().await.map_err(CommandError::widen)? {
                return Ok(committed);
            }
        }
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    pub(crate) fn notify_projector(&self) {
        self.projector.notify();
    }

    pub(crate) fn projector(&self) -> &Projector {
        &self.projector
    }

    /// Test hook for failure injection: the next decision on an aggregate of
    /// `aggregate_type`, in any write, fails as a failing store would, once.
    /// Armed between the aggregates of a unit of work, it shows that nothing
    /// of the write is stored.
    #[doc(hidden)]
    pub fn fail_next_decision_on(&self, aggregate_type: &'static str) {
        self.lock_faults().push(aggregate_type);
        self.faults_armed.store(true, Ordering::Release);
    }

    pub(crate) fn injected_fault(&self, aggregate_type: &str) -> Result<(), CommandError<Infallible>> {
        if !self.faults_armed.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut faults = self.lock_faults();
        let Some(index) = faults.iter().position(|armed| *armed == aggregate_type) else { return Ok(()) };
        faults.remove(index);
        self.faults_armed.store(!faults.is_empty(), Ordering::Release);
        Err(CommandError::Store(anyhow::anyhow!("injected failure before deciding on a {aggregate_type}")))
    }

    fn lock_faults(&self) -> std::sync::MutexGuard<'_, Vec<&'static str>> {
        self.faults.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
