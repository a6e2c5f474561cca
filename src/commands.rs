//! The command bus: load an aggregate from the log, let it decide, append its
//! events with the request's metadata, and report where they landed.
//!
//! Loading folds only the events after a cached state
//! (`crate::aggregate_cache`); appending is one INSERT that also returns the
//! commit point (for read-your-writes), with a retry on optimistic-lock
//! conflicts. Read models are not updated here: projections read the log.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aggregates::{Aggregate, DomainEvent};
use rand::Rng;

use crate::aggregate_cache::{self, AggregateCache};
use crate::projector::Projector;
use crate::storage::log::CommitPoint;
use crate::storage::{Db, NewEvent};
use crate::upcasting;

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
    #[error("event store: {0}")]
    Store(String),
}

/// What a successful command wrote: nothing, or `events` events ending at `point`.
#[derive(Debug, Clone, Copy)]
pub struct Committed {
    pub point: Option<CommitPoint>,
    pub events: u64,
}

// Enough for dozens of writers racing on one aggregate; each round lets one through.
const MAX_ATTEMPTS: u32 = 40;

#[derive(Clone)]
pub struct CommandBus {
    db: Db,
    projector: Projector,
    cache: Arc<AggregateCache>,
}

impl CommandBus {
    pub fn new(db: Db, projector: Projector) -> Self {
        let cache = Arc::new(AggregateCache::new(aggregate_cache::DEFAULT_CAPACITY));
        CommandBus { db, projector, cache }
    }

    /// The aggregate's current state, replayed from the log.
    pub async fn load<A: Aggregate>(&self, id: &str) -> Result<A, CommandError<A::Error>> {
        Ok(self.load_current::<A>(id).await?.0)
    }

    /// The aggregate and the sequence it is folded up to: the cached fold
    /// plus whatever the log holds after it (see `crate::aggregate_cache`).
    async fn load_current<A: Aggregate>(&self, id: &str) -> Result<(A, i64), CommandError<A::Error>> {
        let (mut aggregate, mut sequence) = self.cache.get::<A>(id).unwrap_or_default();
        let newer = self.db.aggregate_events_after(A::TYPE, id, sequence).await.map_err(store_error)?;
        if newer.is_empty() {
            return Ok((aggregate, sequence));
        }
        for stored in newer {
            let event: A::Event = serde_json::from_value(stored.payload).map_err(|error| {
                CommandError::Store(format!(
                    "cannot decode {} event {} of {id} (sequence {}): {error}",
                    A::TYPE,
                    stored.event_type,
                    stored.sequence
                ))
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
        let metadata = serde_json::json!(metadata.to_map());
        for attempt in 1..=MAX_ATTEMPTS {
            let (aggregate, sequence) = self.load_current::<A>(id).await?;
            let events = aggregate.decide(command.clone()).map_err(CommandError::Domain)?;
            if events.is_empty() {
                return Ok(Committed { point: None, events: 0 });
            }
            let count = events.len() as u64;
            let serialized = serialize::<A>(id, sequence + 1, events, &metadata)?;
            match self.db.append_events(serialized).await {
                Ok(Some(point)) => {
                    self.projector.notify();
                    metrics::counter!("roster_events_appended_total", "aggregate" => A::TYPE).increment(count);
                    return Ok(Committed { point: Some(point), events: count });
                }
                // Someone appended to this aggregate since it was loaded.
                Ok(None) if attempt < MAX_ATTEMPTS => {
                    metrics::counter!("roster_command_conflicts_total", "aggregate" => A::TYPE).increment(1);
                    let jitter = rand::thread_rng().gen_range(1..=2 * attempt as u64);
                    tokio::time::sleep(Duration::from_millis(jitter)).await;
                }
                Ok(None) => return Err(CommandError::Conflict),
                Err(error) => return Err(CommandError::Store(error.to_string())),
            }
        }
        Err(CommandError::Conflict)
    }
}

/// Events as the log stores them, numbered from `first_sequence`.
fn serialize<A: Aggregate>(
    id: &str,
    first_sequence: i64,
    events: Vec<A::Event>,
    metadata: &serde_json::Value,
) -> Result<Vec<NewEvent>, CommandError<A::Error>> {
    events
        .into_iter()
        .zip(first_sequence..)
        .map(|(event, sequence)| {
            let payload = serde_json::to_value(&event).map_err(|e| CommandError::Store(e.to_string()))?;
            Ok(NewEvent {
                aggregate_type: A::TYPE.to_string(),
                aggregate_id: id.to_string(),
                sequence,
                event_type: event.event_type().to_string(),
                event_version: upcasting::current_version(A::TYPE, event.event_type()).to_string(),
                payload,
                metadata: metadata.clone(),
            })
        })
        .collect()
}

fn store_error<E: std::error::Error>(error: sqlx::Error) -> CommandError<E> {
    CommandError::Store(error.to_string())
}

/// The first events of many new aggregates, decided by their own command
/// handlers and appended in one transaction (`roster dev seed`). A clash with
/// an aggregate that already exists fails the whole append, and the caller
/// falls back to `CommandBus::execute` one by one.
pub struct NewAggregates {
    metadata: serde_json::Value,
    events: Vec<NewEvent>,
}

impl NewAggregates {
    pub fn new(metadata: &Metadata) -> Self {
        NewAggregates { metadata: serde_json::json!(metadata.to_map()), events: Vec::new() }
    }

    /// Handles `command` on a fresh aggregate `id` and keeps its events.
    pub async fn decide<A: Aggregate>(&mut self, id: &str, command: A::Command) -> Result<(), CommandError<A::Error>> {
        let events = A::default().decide(command).map_err(CommandError::Domain)?;
        self.events.extend(serialize::<A>(id, 1, events, &self.metadata)?);
        Ok(())
    }

    pub fn into_events(self) -> Vec<NewEvent> {
        self.events
    }
}

impl CommandBus {
    /// Appends every event of `batch` in one transaction; `Ok(false)` if one
    /// of its aggregates already existed (nothing is then written).
    pub async fn append_new(&self, batch: NewAggregates) -> Result<bool, sqlx::Error> {
        let appended = self.db.append_events(batch.into_events()).await?.is_some();
        if appended {
            self.projector.notify();
        }
        Ok(appended)
    }
}
