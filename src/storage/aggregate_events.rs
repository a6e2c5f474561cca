//! One aggregate's events after a known sequence: what the command bus folds
//! onto a cached state (`crate::aggregate_cache`) or an empty one.
//!
//! The personal key travels in the same query (a join), so loading a user
//! costs one round trip whether or not its events hold personal fields; the
//! events come out as every reader of the log gets them (`log::bring_out`:
//! personal fields opened, old versions upcast). The sequence is bound, not
//! written into the SQL, so the statement is prepared once.

use serde_json::Value;

use super::log::bring_out;
use super::Db;
use crate::privacy;

/// For aggregate types whose events carry personal data: the key rides along.
const WITH_KEY: &str = "SELECT e.sequence, e.event_type, e.event_version, CAST(e.payload AS TEXT) AS payload, \
     k.secret FROM events e \
     LEFT JOIN personal_data_keys k ON k.subject = e.aggregate_id \
     WHERE e.aggregate_type = $1 AND e.aggregate_id = $2 AND e.sequence > $3 ORDER BY e.sequence";
const WITHOUT_KEY: &str = "SELECT sequence, event_type, event_version, CAST(payload AS TEXT) AS payload, \
     CAST(NULL AS TEXT) AS secret FROM events \
     WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence > $3 ORDER BY sequence";

type Row = (i64, String, String, String, Option<String>);

/// One event of one aggregate, as the log returns it to be folded.
#[derive(Debug, Clone)]
pub struct AggregateEvent {
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
}

impl Db {
    /// The events of (`aggregate_type`, `aggregate_id`) with a sequence above
    /// `after`, in order, brought out of the log in their current shape.
    pub async fn aggregate_events_after(
        &self,
        aggregate_type: &str,
        aggregate_id: &str,
        after: i64,
    ) -> Result<Vec<AggregateEvent>, sqlx::Error> {
        let personal = privacy::carries_personal_data(aggregate_type);
        let sql = if personal { WITH_KEY } else { WITHOUT_KEY };
        let rows: Vec<Row> = crate::on_pool!(self, pool => {
            sqlx::query_as(sql).bind(aggregate_type).bind(aggregate_id).bind(after).fetch_all(pool).await?
        });
        let key = match rows.first() {
            Some((.., secret)) if personal => privacy::key_from_secret(secret.as_deref()),
            _ => None,
        };
        rows.into_iter()
            .map(|(sequence, event_type, mut event_version, payload, _)| {
                let mut payload: Value =
                    serde_json::from_str(&payload).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
                bring_out(aggregate_type, aggregate_id, &key, &event_type, &mut event_version, &mut payload);
                Ok(AggregateEvent { sequence, event_type, event_version, payload })
            })
            .collect()
    }
}

/// Ids asked about per statement (well inside both backends' parameter limits).
const IDS_PER_STATEMENT: usize = 5_000;

impl Db {
    /// Which of `ids` (aggregates of `aggregate_type`) have any event: one
    /// query per few thousand ids, so a batch writer can take the others as
    /// new (`UnitOfWork::decide_new`) and load only these.
    pub async fn existing_aggregates(
        &self,
        aggregate_type: &str,
        ids: &[String],
    ) -> Result<std::collections::HashSet<String>, sqlx::Error> {
        let mut found = std::collections::HashSet::new();
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let placeholders: Vec<String> = (2..chunk.len() + 2).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = $1 AND aggregate_id IN ({})",
                placeholders.join(", ")
            );
            let rows: Vec<(String,)> = crate::on_pool!(self, pool => {
                let mut query = sqlx::query_as(&sql).bind(aggregate_type);
                for id in chunk {
                    query = query.bind(id);
                }
                query.fetch_all(pool).await?
            });
            found.extend(rows.into_iter().map(|(id,)| id));
        }
        Ok(found)
    }
}
