//! Exactly one active worker per role (the projection runner, the Kafka
//! publisher) across several instances sharing one PostgreSQL.
//!
//! The leader holds a session-level advisory lock on a connection of its own.
//! If its process dies, PostgreSQL ends the session and frees the lock, and a
//! follower polling `pg_try_advisory_lock` takes over within `RETRY`. SQLite
//! is single-instance, so there every worker is the leader at once.

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::Postgres;

use crate::storage::Db;

/// How often a follower tries to take over; well inside the 10 s fail-over bound.
pub const RETRY: Duration = Duration::from_secs(1);

/// Proof of leadership; dropping it (or losing its connection) gives it up.
pub struct Leadership {
    held: Option<PoolConnection<Postgres>>,
    key: i64,
    /// When `still_held_lately` last asked the database.
    checked_at: tokio::time::Instant,
}

impl Leadership {
    /// One attempt: `None` while another instance leads.
    pub async fn try_acquire(db: &Db, role: &str) -> Result<Option<Leadership>, sqlx::Error> {
        let key = lock_key(role);
        match db {
            Db::Sqlite(_) => Ok(Some(Leadership { held: None, key, checked_at: tokio::time::Instant::now() })),
            Db::Postgres(pool) => {
                let mut connection = pool.acquire().await?;
                let acquired: bool =
                    sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(key).fetch_one(&mut *connection).await?;
                if !acquired {
                    return Ok(None);
                }
                // The lock lives as long as this session: keep the
                // connection out of the pool so nobody else reuses it.
                Ok(Some(Leadership { held: Some(connection), key, checked_at: tokio::time::Instant::now() }))
            }
        }
    }

    /// Whether the lock is still ours.
    pub async fn still_held(&mut self) -> bool {
        match self.held.as_mut() {
            None => true,
            // Only this session can unlock it, so while the session answers the lock is ours.
            Some(connection) => sqlx::query("SELECT 1").execute(&mut **connection).await.is_ok(),
        }
    }

    /// `still_held`, asked of the database at most every `RETRY`: a leader's
    /// loop calls it every turn.
    pub async fn still_held_lately(&mut self) -> bool {
        if self.checked_at.elapsed() < RETRY {
            return true;
        }
        self.checked_at = tokio::time::Instant::now();
        self.still_held().await
    }

    /// Gives the lock up explicitly (a clean shutdown hands over at once).
    pub async fn release(mut self) {
        if let Some(mut connection) = self.held.take() {
            let _ = sqlx::query("SELECT pg_advisory_unlock($1)").bind(self.key).execute(&mut *connection).await;
        }
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        // A connection still holding the lock must not go back to the pool,
        // where it would keep the lock alive for whoever borrows it next.
        if let Some(connection) = self.held.take() {
            drop(connection.detach());
        }
    }
}

/// A stable 64-bit advisory-lock key per role name.
fn lock_key(role: &str) -> i64 {
    crate::storage::advisory_lock_key(role)
}
