//! cqrs-es' `PersistedEventRepository` is not object-safe, so the backend is
//! an enum that forwards to postgres-es or sqlite-es.

use cqrs_es::persist::{PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot};
use cqrs_es::Aggregate;
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use sqlite_es::SqliteEventRepository;
use std::sync::Arc;

use super::Db;

#[derive(Clone)]
pub struct EventRepo(Arc<Backend>);

enum Backend {
    Postgres(PostgresEventRepository),
    Sqlite(SqliteEventRepository),
}

impl EventRepo {
    pub fn new(db: &Db) -> Self {
        EventRepo(Arc::new(match db {
            Db::Postgres(pool) => Backend::Postgres(PostgresEventRepository::new(pool.clone())),
            Db::Sqlite(pool) => Backend::Sqlite(SqliteEventRepository::new(pool.clone())),
        }))
    }
}

macro_rules! forward {
    ($self:ident, $repo:ident => $call:expr) => {
        match &*$self.0 {
            Backend::Postgres($repo) => $call.await,
            Backend::Sqlite($repo) => $call.await,
        }
    };
}

impl PersistedEventRepository for EventRepo {
    async fn get_events<A: Aggregate>(&self, aggregate_id: &str) -> Result<Vec<SerializedEvent>, PersistenceError> {
        forward!(self, repo => repo.get_events::<A>(aggregate_id))
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        forward!(self, repo => repo.get_last_events::<A>(aggregate_id, last_sequence))
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        forward!(self, repo => repo.get_snapshot::<A>(aggregate_id))
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        forward!(self, repo => repo.persist::<A>(events, snapshot_update.clone()))
    }

    async fn stream_events<A: Aggregate>(&self, aggregate_id: &str) -> Result<ReplayStream, PersistenceError> {
        forward!(self, repo => repo.stream_events::<A>(aggregate_id))
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        forward!(self, repo => repo.stream_all_events::<A>())
    }
}
