//! The aggregate ids of unique-value claims (an email, a phone number, an
//! organisation code, ...): `<kind>:h:` + HMAC-SHA256 under a server secret.
//!
//! The log, its exports and the Kafka records' keys carry these ids. A plain
//! hash of an email can be reversed by hashing candidate emails (a
//! dictionary attack); a keyed one cannot without the secret, which lives in
//! the database (`claim_id_secret`), beside the personal-data keys and never
//! in the log.
//!
//! The HMAC is taken over the older plain SHA-256 id, so a log written
//! before the secret existed is upgraded without knowing the values: every
//! claim id `<kind>:<sha256>` becomes `<kind>:h:<hmac(sha256)>`, in one
//! transaction that also marks the log upgraded (`upgrade`).

use aggregates::ClaimKind;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::Db;

/// The aggregate type of claims (`aggregates::UniqueClaim`).
const CLAIM_TYPE: &str = "unique_claim";

/// Claims renamed per statement on PostgreSQL (two arrays of ids).
const RENAMES_PER_STATEMENT: usize = 10_000;

/// Names claim aggregates; cheap to clone.
#[derive(Clone)]
pub struct ClaimIds {
    key: [u8; 32],
}

/// Never printed.
impl std::fmt::Debug for ClaimIds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClaimIds(…)")
    }
}

impl ClaimIds {
    /// The id of the claim on `normalized_value` of `kind`.
    pub fn of(&self, kind: ClaimKind, normalized_value: &str) -> String {
        let legacy = legacy_claim_id(kind, normalized_value);
        self.upgraded(&legacy).unwrap_or(legacy)
    }

    /// A key of its own for `purpose` (e.g. signing file links), derived
    /// from the deployment's secret: the same on every instance, and
    /// unrelated to the claim ids and to every other purpose's key.
    pub fn derived_key(&self, purpose: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(b"roster:derived-key:");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The id a claim named `legacy` (`<kind>:<sha256>`) has now; `None`
    /// for an id in any other form (a keyed one already).
    fn upgraded(&self, legacy: &str) -> Option<String> {
        let (kind, digest) = legacy.split_once(':')?;
        if digest.len() != 64 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).ok()?;
        mac.update(digest.as_bytes());
        Some(format!("{kind}:h:{}", hex::encode(mac.finalize().into_bytes())))
    }

    /// The secret of `db`, created if it has none yet, after its log is
    /// upgraded if it needs to be.
    pub async fn load(db: &Db) -> Result<ClaimIds, sqlx::Error> {
        match stored_secret(db).await? {
            Some((key, true)) => Ok(ClaimIds { key }),
            _ => upgrade(db).await,
        }
    }
}

/// The id before claim ids were keyed: `<kind>:` + SHA-256 of `<kind>:<value>`.
/// Kept to upgrade older logs, and for their tests.
pub fn legacy_claim_id(kind: ClaimKind, normalized_value: &str) -> String {
    let digest = Sha256::digest(format!("{}:{normalized_value}", kind.as_str()).as_bytes());
    format!("{}:{}", kind.as_str(), hex::encode(digest))
}

/// The secret, and whether the log's claims are all keyed with it.
async fn stored_secret(db: &Db) -> Result<Option<([u8; 32], bool)>, sqlx::Error> {
    let row: Option<(String, bool)> = crate::on_pool!(db, pool => {
        sqlx::query_as("SELECT secret, upgraded FROM claim_id_secret WHERE id = 1").fetch_optional(pool).await?
    });
    Ok(row.and_then(|(secret, upgraded)| Some((decode_secret(&secret)?, upgraded))))
}

fn decode_secret(secret: &str) -> Option<[u8; 32]> {
    hex::decode(secret).ok()?.try_into().ok()
}

/// Creates the secret if there is none, and renames every claim of the log
/// still under its plain-hash id, in one transaction that marks the log
/// upgraded: a crash leaves the old ids, and the next start does it again.
/// Two instances starting at once: the second waits on the first's row lock
/// (PostgreSQL) or the write lock (SQLite), then finds the work done.
async fn upgrade(db: &Db) -> Result<ClaimIds, sqlx::Error> {
    let mut fresh = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut fresh);
    let now = chrono::Utc::now().to_rfc3339();
    macro_rules! upgrade_in {
        ($tx:expr, $lock:expr, $rename:ident) => {{
            let tx = $tx;
            sqlx::query(
                "INSERT INTO claim_id_secret (id, secret, upgraded, created_at) VALUES (1, $1, false, $2) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(hex::encode(fresh))
            .bind(&now)
            .execute(&mut **tx)
            .await?;
            let (secret, upgraded): (String, bool) =
                sqlx::query_as(&format!("SELECT secret, upgraded FROM claim_id_secret WHERE id = 1{}", $lock))
                    .fetch_one(&mut **tx)
                    .await?;
            let ids = ClaimIds { key: decode_secret(&secret).ok_or(sqlx::Error::RowNotFound)? };
            if !upgraded {
                let stored: Vec<String> =
                    sqlx::query_scalar("SELECT DISTINCT aggregate_id FROM events WHERE aggregate_type = $1")
                        .bind(CLAIM_TYPE)
                        .fetch_all(&mut **tx)
                        .await?;
                let renamed: Vec<(&str, String)> =
                    stored.iter().filter_map(|id| Some((id.as_str(), ids.upgraded(id)?))).collect();
                let pairs: Vec<(&str, &str)> = renamed.iter().map(|(old, new)| (*old, new.as_str())).collect();
                for chunk in pairs.chunks(RENAMES_PER_STATEMENT) {
                    $rename!(tx, chunk);
                }
                sqlx::query("UPDATE claim_id_secret SET upgraded = true WHERE id = 1").execute(&mut **tx).await?;
                if !renamed.is_empty() {
                    tracing::info!(claims = renamed.len(), "claim ids keyed with the server secret");
                }
            }
            ids
        }};
    }
    macro_rules! pg_rename {
        ($tx:expr, $chunk:expr) => {{
            let (old, new): (Vec<&str>, Vec<&str>) = $chunk.iter().copied().unzip();
            sqlx::query(
                "UPDATE events e SET aggregate_id = m.new \
                 FROM unnest($1::text[], $2::text[]) AS m(old, new) \
                 WHERE e.aggregate_type = $3 AND e.aggregate_id = m.old",
            )
            .bind(old)
            .bind(new)
            .bind(CLAIM_TYPE)
            .execute(&mut **$tx)
            .await?;
        }};
    }
    macro_rules! sqlite_rename {
        ($tx:expr, $chunk:expr) => {{
            for (old, new) in $chunk {
                sqlx::query("UPDATE events SET aggregate_id = $1 WHERE aggregate_type = $2 AND aggregate_id = $3")
                    .bind(*new)
                    .bind(CLAIM_TYPE)
                    .bind(*old)
                    .execute(&mut **$tx)
                    .await?;
            }
        }};
    }
    Ok(match db {
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            let ids = upgrade_in!(&mut tx, " FOR UPDATE", pg_rename);
            tx.commit().await?;
            ids
        }
        Db::Sqlite(pool) => {
            // BEGIN IMMEDIATE: the write lock before the first read.
            let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let ids = upgrade_in!(&mut tx, "", sqlite_rename);
            tx.commit().await?;
            ids
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_ids_keep_the_kind_and_depend_on_the_secret() {
        let a = ClaimIds { key: [1; 32] };
        let b = ClaimIds { key: [2; 32] };
        let id = a.of(ClaimKind::Email, "ann@example.com");
        assert!(id.starts_with("email:h:") && id.len() == "email:h:".len() + 64, "{id}");
        assert_eq!(id, a.of(ClaimKind::Email, "ann@example.com"));
        assert_ne!(id, b.of(ClaimKind::Email, "ann@example.com"));
        assert_ne!(id, legacy_claim_id(ClaimKind::Email, "ann@example.com"));
        assert_ne!(id, a.of(ClaimKind::Username, "ann@example.com"));
        assert_eq!(a.upgraded(&legacy_claim_id(ClaimKind::Email, "ann@example.com")), Some(id.clone()));
        assert_eq!(a.upgraded(&id), None, "a keyed id is not keyed again");
    }

    #[tokio::test]
    async fn a_log_from_before_the_secret_is_renamed_once() {
        let db = Db::in_memory().await;
        let legacy = legacy_claim_id(ClaimKind::Email, "old@example.com");
        crate::on_pool!(&db, pool => {
            sqlx::query("UPDATE claim_id_secret SET upgraded = false").execute(pool).await.unwrap();
            sqlx::query(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
                 VALUES ('unique_claim', $1, 1, 'ValueClaimed', '1', '{}', '{}')",
            )
            .bind(&legacy)
            .execute(pool)
            .await
            .unwrap();
        });
        let ids = ClaimIds::load(&db).await.unwrap();
        let again = ClaimIds::load(&db).await.unwrap();
        assert_eq!(ids.key, again.key, "the secret is created once");
        let stored: Vec<String> = crate::on_pool!(&db, pool => {
            sqlx::query_scalar("SELECT aggregate_id FROM events WHERE aggregate_type = 'unique_claim'")
                .fetch_all(pool)
                .await
                .unwrap()
        });
        assert_eq!(stored, vec![ids.of(ClaimKind::Email, "old@example.com")]);
    }
}
