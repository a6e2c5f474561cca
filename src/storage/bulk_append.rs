//! Appending the first events of many new aggregates in one transaction:
//! one round trip per few thousand events instead of several per aggregate.
//! Personal fields are sealed exactly as `EventRepo::persist` seals them.

use cqrs_es::persist::SerializedEvent;

use super::{values_placeholders, Db};
use crate::privacy;

/// SQLite binds at most 32,766 parameters per statement; 7 per row.
const SQLITE_ROWS_PER_STATEMENT: usize = 1_000;

/// PostgreSQL's unique-violation code: an aggregate in the batch exists already.
const UNIQUE_VIOLATION: &str = "23505";

impl Db {
    /// Writes `events` (each aggregate's sequence starting at 1) in one
    /// transaction. `Ok(false)`, with nothing written, if any of those
    /// aggregates already has events.
    pub async fn append_new_events(&self, mut events: Vec<SerializedEvent>) -> Result<bool, sqlx::Error> {
        if events.is_empty() {
            return Ok(true);
        }
        self.seal_all(&mut events).await?;
        let result = match self {
            Db::Postgres(pool) => {
                // One statement for the whole batch: arrays, unnested in order.
                let column = |f: fn(&SerializedEvent) -> String| events.iter().map(f).collect::<Vec<String>>();
                let sequences: Vec<i64> = events.iter().map(|e| e.sequence as i64).collect();
                sqlx::query(
                    "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
                     SELECT t, i, s, et, ev, p::json, m::json \
                     FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[]) \
                       AS batch(t, i, s, et, ev, p, m)",
                )
                .bind(column(|e| e.aggregate_type.clone()))
                .bind(column(|e| e.aggregate_id.clone()))
                .bind(sequences)
                .bind(column(|e| e.event_type.clone()))
                .bind(column(|e| e.event_version.clone()))
                .bind(column(|e| e.payload.to_string()))
                .bind(column(|e| e.metadata.to_string()))
                .execute(pool)
                .await
                .map(|_| ())
            }
            Db::Sqlite(pool) => {
                async {
                    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                    for chunk in events.chunks(SQLITE_ROWS_PER_STATEMENT) {
                        let sql = format!(
                            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
                             payload, metadata) VALUES {}",
                            values_placeholders(chunk.len(), 7)
                        );
                        let mut query = sqlx::query(&sql);
                        for e in chunk {
                            query = query
                                .bind(&e.aggregate_type)
                                .bind(&e.aggregate_id)
                                .bind(e.sequence as i64)
                                .bind(&e.event_type)
                                .bind(&e.event_version)
                                .bind(e.payload.to_string())
                                .bind(e.metadata.to_string());
                        }
                        query.execute(&mut *tx).await?;
                    }
                    tx.commit().await
                }
                .await
            }
        };
        match result {
            Ok(()) => Ok(true),
            Err(sqlx::Error::Database(e))
                if e.is_unique_violation() || e.code().as_deref() == Some(UNIQUE_VIOLATION) =>
            {
                Ok(false)
            }
            Err(other) => Err(other),
        }
    }

    /// Seals the personal fields of every event, with one key per subject.
    async fn seal_all(&self, events: &mut [SerializedEvent]) -> Result<(), sqlx::Error> {
        let personal = |e: &SerializedEvent| {
            privacy::carries_personal_data(&e.aggregate_type) && privacy::holds_personal_data(&e.payload)
        };
        let mut subjects: Vec<&str> = events.iter().filter(|e| personal(e)).map(|e| e.aggregate_id.as_str()).collect();
        if subjects.is_empty() {
            return Ok(());
        }
        subjects.sort_unstable();
        subjects.dedup();
        let keys = self.personal_keys_for_writing(&subjects).await?;
        for event in events.iter_mut().filter(|e| personal(e)) {
            let key = keys.get(&event.aggregate_id).copied().flatten();
            privacy::seal(&event.aggregate_id, &key, &mut event.payload)
                .map_err(|error| sqlx::Error::Protocol(format!("cannot seal personal data: {error}")))?;
        }
        Ok(())
    }
}
