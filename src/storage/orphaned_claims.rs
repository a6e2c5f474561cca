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
    /// owner has no events, recorded before `cutoff`. Claims of other kinds
    /// are never returned.
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
                "c.recorded_at < CAST($1 AS timestamptz)",
            ),
            Db::Sqlite(_) => (
                "substr(c.aggregate_id, 1, instr(c.aggregate_id, ':') - 1)",
                "json_extract(c.payload, '$.ValueClaimed.owner')",
                // The column's own format (`strftime('%Y-%m-%dT%H:%M:%fZ')`) compares as text.
                "c.recorded_at < $1",
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
        crate::on_pool!(self, pool => {
            sqlx::query_as::<_, OrphanedClaim>(&sql)
                .bind(cutoff.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
                .fetch_all(pool)
                .await
        })
    }
}
