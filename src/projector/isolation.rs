//! One bad event must not stop a read model (GUIDE §11). When a batch keeps
//! failing, the runner applies its events one at a time; an event that the
//! read tables refuse is recorded in `failed_projection_events` and skipped,
//! in the same transaction that moves the checkpoint past it. Failures that
//! are not the event's fault (the database away, a deadlock, a lock
//! timeout) are never skipped: the runner backs off and tries again.

use std::sync::atomic::Ordering;

use projections::{Projection, Statement};

use super::{statements_for, Projector, ProjectorError};
use crate::storage::log::{CommitPoint, LogEntry, ADVANCE_CHECKPOINT};
use crate::storage::{begin_write, Db};
use crate::{bind_values, on_pool};

/// Failed attempts at a whole batch before its events are tried one by one.
pub(super) const ISOLATE_AFTER: u32 = 3;

/// Stored error texts are cut to this many characters.
const MAX_ERROR_CHARS: usize = 1_000;

/// Whether `error` is about the events being applied (so skipping the one
/// that causes it is right), rather than about the database being unwell.
pub(super) fn blames_the_event(error: &ProjectorError) -> bool {
    match error {
        ProjectorError::Projection(_) => true,
        ProjectorError::Database(error) => database_blames_the_event(error),
        _ => false,
    }
}

/// As `blames_the_event`, for an error of the database.
pub(super) fn database_blames_the_event(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(error) => {
            let code = error.code().map(|c| c.to_string()).unwrap_or_default();
            let backend = if error.try_downcast_ref::<sqlx::postgres::PgDatabaseError>().is_some() {
                Backend::Postgres
            } else {
                Backend::Sqlite
            };
            !is_transient(backend, &code)
        }
        _ => false,
    }
}

#[derive(Clone, Copy)]
enum Backend {
    Postgres,
    Sqlite,
}

/// PostgreSQL SQLSTATE classes of trouble that passes (connection, rollback
/// for serialisation or deadlock, resources, operator intervention, system,
/// lock not available, internal), and SQLite's busy, locked, I/O and full
/// codes (primary or extended: the low byte is the primary code).
fn is_transient(backend: Backend, code: &str) -> bool {
    match backend {
        Backend::Postgres => ["08", "40", "53", "55", "57", "58", "XX"].iter().any(|class| code.starts_with(class)),
        Backend::Sqlite => code.parse::<i32>().is_ok_and(|code| matches!(code & 0xff, 5 | 6 | 10 | 13)),
    }
}

/// What is stored about a failure: the database's message and code, or the
/// kind and place of a decoding error (serde's own message would quote the
/// payload's values, which may be personal data).
pub(super) fn describe(error: &ProjectorError) -> String {
    let text = match error {
        ProjectorError::Projection(projections::ProjectionError::Decode { event_type, source, .. }) => format!(
            "cannot decode {event_type}: {:?} error at line {} column {}",
            source.classify(),
            source.line(),
            source.column()
        ),
        ProjectorError::Database(error) => return describe_database_error(error),
        other => other.to_string(),
    };
    text.chars().take(MAX_ERROR_CHARS).collect()
}

/// As `describe`, for an error of the database.
pub(super) fn describe_database_error(error: &sqlx::Error) -> String {
    let text = match error {
        sqlx::Error::Database(db) => format!("{} (code {})", db.message(), db.code().unwrap_or_default()),
        other => other.to_string(),
    };
    text.chars().take(MAX_ERROR_CHARS).collect()
}

impl Projector {
    /// Applies the next batch of `projection` one event at a time from the
    /// stored checkpoint, skipping and recording the events the read tables
    /// refuse. Returns how many events were skipped.
    pub(super) async fn isolate(&self, projection: &dyn Projection) -> Result<usize, ProjectorError> {
        let name = projection.name();
        let mut from = self.db.checkpoint(name).await?;
        let end = self.db.end_of_log().await?;
        let (entries, reached) =
            self.db.unapplied_events_of_types_up_to(from, end, projection.aggregate_types(), super::BATCH).await?;
        let mut skipped = 0;
        for entry in &entries {
            let single = std::slice::from_ref(entry);
            match self.apply(projection, from, single, entry.point).await {
                Ok(()) => {}
                Err(error) if blames_the_event(&error) => {
                    self.skip(name, from, entry, &error).await?;
                    skipped += 1;
                }
                Err(error) => return Err(error),
            }
            from = entry.point;
        }
        if reached != from && !self.db.advance_checkpoint(name, from, reached).await? {
            return Err(ProjectorError::CheckpointMoved(name));
        }
        self.progress[name].send_replace(reached);
        Ok(skipped)
    }

    /// Records `entry` as failed and moves the checkpoint from `from` past it,
    /// in one transaction.
    async fn skip(
        &self,
        name: &'static str,
        from: CommitPoint,
        entry: &LogEntry,
        error: &ProjectorError,
    ) -> Result<(), ProjectorError> {
        let description = describe(error);
        tracing::error!(
            projection = name,
            position = entry.event.position,
            aggregate_type = %entry.event.aggregate_type,
            event_type = %entry.event.event_type,
            error = %description,
            "skipping an event the read model refuses; see `roster projections failed`"
        );
        let moved = record_failure(&self.db, name, Some(from), entry, &description).await?;
        if !moved {
            return Err(ProjectorError::CheckpointMoved(name));
        }
        self.failures.fetch_add(1, Ordering::AcqRel);
        self.mark_changed(name);
        metrics::counter!("roster_projection_failed_events_total", "projection" => name).increment(1);
        Ok(())
    }
}

/// What `roster projections retry` did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RetryReport {
    /// Events that now apply (their failure records are gone).
    pub applied: usize,
    /// Events that still fail (their records count one more attempt).
    pub still_failing: usize,
}

impl Projector {
    /// Applies recorded failed events again (all, or those of one
    /// projection, or the one at `position`), each in one transaction with
    /// the removal of its record; one that fails again keeps its record with
    /// the new error. Meant for after a fix (a conflicting row removed, a
    /// constraint changed, a new version that decodes the event).
    pub async fn retry_failed(
        &self,
        projection: Option<&str>,
        position: Option<i64>,
    ) -> Result<RetryReport, ProjectorError> {
        let mut report = RetryReport::default();
        for failed in self.db.failed_events(projection).await? {
            if position.is_some_and(|p| p != failed.position) {
                continue;
            }
            let Some(target) = self.projections.iter().find(|p| p.name() == failed.projection) else {
                continue;
            };
            let Some(entry) = self.db.event_at(failed.position).await? else {
                self.db.forget_failed_event(&failed.projection, failed.position).await?;
                continue;
            };
            let applied = match statements_for(target.as_ref(), std::slice::from_ref(&entry)) {
                Ok(statements) => apply_and_forget(&self.db, target.name(), &statements, entry.event.position)
                    .await
                    .map_err(ProjectorError::Database),
                Err(error) => Err(error),
            };
            match applied {
                Ok(()) => {
                    report.applied += 1;
                    self.mark_changed(target.name());
                }
                Err(error) if blames_the_event(&error) => {
                    record_failure(&self.db, target.name(), None, &entry, &describe(&error)).await?;
                    report.still_failing += 1;
                }
                Err(error) => return Err(error),
            }
        }
        let _ = self.refresh_failures().await;
        Ok(report)
    }
}

/// Runs a retried event's statements and removes its failure record, in one transaction.
async fn apply_and_forget(db: &Db, name: &str, statements: &[Statement], position: i64) -> Result<(), sqlx::Error> {
    on_pool!(db, pool => {
        let mut tx = begin_write(pool).await?;
        for statement in statements {
            bind_values!(sqlx::query(&statement.sql), &statement.args).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM failed_projection_events WHERE projection = $1 AND position = $2")
            .bind(name)
            .bind(position)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    })
}

/// Writes the failure row; with `from`, also moves the checkpoint from there
/// to the event, in the same transaction (false if someone else moved it).
pub(crate) async fn record_failure(
    db: &Db,
    name: &str,
    from: Option<CommitPoint>,
    entry: &LogEntry,
    description: &str,
) -> Result<bool, sqlx::Error> {
    let now = chrono::Utc::now().to_rfc3339();
    on_pool!(db, pool => {
        let mut tx = begin_write(pool).await?;
        if let Some(from) = from {
            let moved = sqlx::query(ADVANCE_CHECKPOINT)
                .bind(name)
                .bind(entry.point.txid)
                .bind(entry.point.position)
                .bind(&now)
                .bind(from.txid)
                .bind(from.position)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if moved != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
        }
        crate::record_failed_event!(name, entry, description, &now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_trouble_is_not_the_events_fault() {
        for transient in ["08006", "40001", "40P01", "53300", "57P01", "57014", "55P03"] {
            assert!(is_transient(Backend::Postgres, transient), "{transient}");
        }
        for event_fault in ["22021", "23505", "23502", "42P01"] {
            assert!(!is_transient(Backend::Postgres, event_fault), "{event_fault}");
        }
        for transient in ["5", "517", "6", "10"] {
            assert!(is_transient(Backend::Sqlite, transient), "{transient}");
        }
        for event_fault in ["2067", "1555", "19", "1"] {
            assert!(!is_transient(Backend::Sqlite, event_fault), "{event_fault}");
        }
    }

    #[test]
    fn decoding_errors_are_described_without_the_payload() {
        let source = serde_json::from_str::<u32>("\"jane@example.com\"").unwrap_err();
        let error = ProjectorError::Projection(projections::ProjectionError::Decode {
            position: 7,
            event_type: "UserRegistered".into(),
            source,
        });
        let text = describe(&error);
        assert!(text.contains("UserRegistered") && text.contains("Data"), "{text}");
        assert!(!text.contains("jane"), "{text}");
        assert!(blames_the_event(&error));
        assert!(!blames_the_event(&ProjectorError::Database(sqlx::Error::PoolTimedOut)));
    }
}
