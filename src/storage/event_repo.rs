//! cqrs-es' `PersistedEventRepository` is not object-safe, so the backend is
//! an enum that forwards to postgres-es or sqlite-es.

use cqrs_es::persist::{PersistedEventRepository, PersistenceError, ReplayStream, SerializedEvent, SerializedSnapshot};
use cqrs_es::Aggregate;
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use sqlite_es::SqliteEventRepository;
use std::sync::Arc;

use super::Db;
use crate::privacy;

fn storage_error(error: sqlx::Error) -> PersistenceError {
    PersistenceError::UnknownError(Box::new(error))
}

/// Also where personal fields are sealed on the way into the log and opened
/// on the way out (`crate::privacy`), so aggregates only ever see plaintext.
/// The command bus loads through it (`get_last_events` after a cached fold).
#[derive(Clone)]
pub struct EventRepo(Arc<Backend>, Db);

enum Backend {
    Postgres(PostgresEventRepository),
    Sqlite(SqliteEventRepository),
}

impl EventRepo {
    pub fn new(db: &Db) -> Self {
        EventRepo(
            Arc::new(match db {
                Db::Postgres(pool) => Backend::Postgres(PostgresEventRepository::new(pool.clone())),
                Db::Sqlite(pool) => Backend::Sqlite(SqliteEventRepository::new(pool.clone())),
            }),
            db.clone(),
        )
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
        self.get_last_events::<A>(aggregate_id, 0).await
    }

    /// Our own query rather than the crate's: the key comes in the same round
    /// trip, and personal fields come out opened (`Db::aggregate_events_after`).
    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.1.aggregate_events_after(A::TYPE, aggregate_id, last_sequence as i64).await.map_err(storage_error)
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        forward!(self, repo => repo.get_snapshot::<A>(aggregate_id))
    }

    /// The same append the command bus uses (`Db::append_events`), which
    /// seals personal fields; snapshots are not used.
    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        _snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        match self.1.append_events(events.to_vec()).await.map_err(storage_error)? {
            Some(_) => Ok(()),
            None => Err(PersistenceError::OptimisticLockError),
        }
    }

    async fn stream_events<A: Aggregate>(&self, aggregate_id: &str) -> Result<ReplayStream, PersistenceError> {
        refuse_unopened_stream::<A>()?;
        forward!(self, repo => repo.stream_events::<A>(aggregate_id))
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        refuse_unopened_stream::<A>()?;
        forward!(self, repo => repo.stream_all_events::<A>())
    }
}

/// Streams would hand out sealed personal fields; readers of such aggregates
/// use the log reader, which opens them.
fn refuse_unopened_stream<A: Aggregate>() -> Result<(), PersistenceError> {
    if privacy::carries_personal_data(A::TYPE) {
        return Err(PersistenceError::UnknownError(
            format!("streaming {} events bypasses decryption; read the log instead", A::TYPE).into(),
        ));
    }
    Ok(())
}
