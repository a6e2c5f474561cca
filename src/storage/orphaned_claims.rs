//! Finding unique-value claims whose owner was never created: one query over
//! the log. A claim aggregate's events are `{"ValueClaimed": {"owner": ..,
//! "at": ..}}` and `{"ValueReleased": {..}}`; its id is `{kind}:{sha256}`,
//! and the kind says which aggregate type owns it. A claim is orphaned when
//! its last event is a `ValueClaimed` and its owner has no events at all.
//! Every lookup is on the primary key (aggregate_type, aggregate_id, sequence).

use super::Db;

/// A claim to give back: its aggregate id and the owner that holds it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OrphanedClaim {
    pub claim_id: String,
    pub owner: String,
}

impl Db {
    /// Claims of the `owners` kinds (claim kind, owner aggregate type) whose
    /// owner has no events, recorded before `cutoff` and after the sweep's
    /// mark (`sweep_mark`). Claims of other kinds are never returned.
    pub async fn orphaned_claims(
        &self,
        owners: &[(&str, &str)],
        cutoff: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<OrphanedClaim>, sqlx::Error> {
        if owners.is_empty() {
            return Ok(Vec::new());
        }
        // The kinds are constants of ours, not input: safe to write into the SQL.
        let cases: String =
            owners.iter().map(|(kind, owner_type)| format!(" WHEN '{kind}' THEN '{owner_type}'")).collect();
        let (kind_of, owner_of, old_enough) = match self {
            Db::Postgres(_) => (
                "split_part(c.aggregate_id, ':', 1)",
                "c.payload -> 'ValueClaimed' ->> 'owner'",
                "c.recorded_at < CAST($1 AS timestamptz) AND c.position > $2",
            ),
            Db::Sqlite(_) => (
                "substr(c.aggregate_id, 1, instr(c.aggregate_id, ':') - 1)",
                "json_extract(c.payload, '$.ValueClaimed.owner')",
                // The column's own format (`strftime('%Y-%m-%dT%H:%M:%fZ')`) compares as text.
                "c.recorded_at < $1 AND c.position > $2",
            ),
        };
        let sql = format!(
            "SELECT claim_id, owner FROM ( \
               SELECT c.aggregate_id AS claim_id, {owner_of} AS owner, CASE {kind_of}{cases} END AS owner_type \
               FROM events c \
               WHERE c.aggregate_type = 'unique_claim' AND c.event_type = 'ValueClaimed' AND {old_enough} \
                 AND NOT EXISTS (SELECT 1 FROM events later WHERE later.aggregate_type = 'unique_claim' \
                   AND later.aggregate_id = c.aggregate_id AND later.sequence > c.sequence) \
             ) claimed \
             WHERE owner_type IS NOT NULL AND owner IS NOT NULL \
               AND NOT EXISTS (SELECT 1 FROM events o WHERE o.aggregate_type = claimed.owner_type \
                 AND o.aggregate_id = claimed.owner) \
             ORDER BY claim_id"
        );
        let mark = self.sweep_mark().await?;
        crate::on_pool!(self, pool => {
            sqlx::query_as::<_, OrphanedClaim>(&sql)
                .bind(cutoff.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
                .bind(mark)
                .fetch_all(pool)
                .await
        })
    }

    /// The last claim position a finished sweep looked at.
    pub async fn sweep_mark(&self) -> Result<i64, sqlx::Error> {
        crate::on_pool!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT swept_through FROM orphaned_claims_sweep WHERE id = 1")
                .fetch_one(pool)
                .await
        })
    }

    /// Moves the mark up to the first unique-claim event after it that is
    /// not older than `cutoff` (it must be looked at again next time), or,
    /// with none, to the last one after it that is. Never moves it back.
    pub async fn advance_sweep_mark(&self, cutoff: chrono::DateTime<chrono::Utc>) -> Result<i64, sqlx::Error> {
        let (young, old) = match self {
            Db::Postgres(_) => ("recorded_at >= CAST($1 AS timestamptz)", "recorded_at < CAST($1 AS timestamptz)"),
            Db::Sqlite(_) => ("recorded_at >= $1", "recorded_at < $1"),
        };
        let after_mark = "aggregate_type = 'unique_claim' AND position > orphaned_claims_sweep.swept_through";
        let sql = format!(
            "UPDATE orphaned_claims_sweep SET swept_through = coalesce( \
               (SELECT min(position) - 1 FROM events WHERE {after_mark} AND {young}), \
               (SELECT max(position) FROM events WHERE {after_mark} AND {old}), \
               swept_through) \
             WHERE id = 1"
        );
        crate::on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(cutoff.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        self.sweep_mark().await
    }
}
