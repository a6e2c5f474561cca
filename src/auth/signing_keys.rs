//! The Ed25519 keys tokens are signed with, kept in `signing_keys`, each
//! seed sealed with the master key. One key is current (signs; no
//! `retires_at`); keys it replaced still verify, and stay in the JWKS, until
//! the last token they signed has expired.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use rand::RngCore;

use crate::auth::master_key::MasterKey;
use crate::on_pool;
use crate::storage::Db;

#[derive(Clone)]
pub struct StoredKey {
    pub kid: String,
    pub seed: [u8; 32],
    pub created_at: String,
    /// `None`: the current key.
    pub retires_at: Option<DateTime<Utc>>,
}

/// A key's row as `roster keys list` prints it (no secret).
#[derive(Debug, serde::Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub created_at: String,
    pub retires_at: Option<String>,
    pub current: bool,
}

type Row = (String, String, String, String, Option<String>);

const SELECT: &str = "SELECT id, kid, secret, created_at, retires_at FROM signing_keys ORDER BY created_at";

/// Makes sure a current key exists, seals seeds an older version stored in
/// clear, and returns every key. Several instances starting at once: the
/// one-current-key index lets one insert win, and sealing is compare-and-set.
pub async fn prepare(db: &Db, master: &MasterKey) -> anyhow::Result<Vec<StoredKey>> {
    if !rows(db).await?.iter().any(|row| row.4.is_none()) {
        insert_current(db, master, None).await?;
    }
    for (id, kid, secret, _, _) in rows(db).await? {
        if !MasterKey::is_sealed(&secret) {
            let seed = clear_seed(&secret, &kid)?;
            let sealed = master.seal(&kid, &seed);
            on_pool!(db, pool => {
                sqlx::query("UPDATE signing_keys SET secret = $1 WHERE id = $2 AND secret = $3")
                    .bind(&sealed).bind(&id).bind(&secret).execute(pool).await?;
            });
            tracing::info!(kid = %kid, "sealed a signing key stored in clear by an earlier version");
        }
    }
    load(db, master).await
}

/// Every key, opened. A key the master key cannot open stops the start: the
/// tokens it signed could not be verified.
pub async fn load(db: &Db, master: &MasterKey) -> anyhow::Result<Vec<StoredKey>> {
    rows(db)
        .await?
        .into_iter()
        .map(|(_, kid, secret, created_at, retires_at)| {
            let seed = if MasterKey::is_sealed(&secret) {
                let bytes = master.open(&kid, &secret).map_err(|_| {
                    anyhow::anyhow!(
                        "the master key does not open signing key {kid}: set ROSTER_MASTER_KEY (or \
                         ROSTER_MASTER_KEY_FILE) to the key it was sealed with; if that key is lost, \
                         `DELETE FROM signing_keys` makes a new key at the next start and signs everyone out"
                    )
                })?;
                bytes.try_into().map_err(|_| anyhow::anyhow!("signing key {kid} has the wrong length"))?
            } else {
                clear_seed(&secret, &kid)?
            };
            let retires_at = retires_at.map(|at| parse_time(&at, &kid)).transpose()?;
            Ok(StoredKey { kid, seed, created_at, retires_at })
        })
        .collect()
}

pub async fn list(db: &Db) -> anyhow::Result<Vec<KeyInfo>> {
    Ok(rows(db)
        .await?
        .into_iter()
        .map(|(_, kid, _, created_at, retires_at)| KeyInfo {
            kid,
            created_at,
            current: retires_at.is_none(),
            retires_at,
        })
        .collect())
}

/// Adds a new current key; the one it replaces retires after `retire_after`
/// (the longest a token it signed can live), and keys already past their
/// retirement are deleted. Returns the new key's id.
pub async fn rotate(db: &Db, master: &MasterKey, retire_after: chrono::Duration) -> anyhow::Result<String> {
    let now = Utc::now();
    let retires_at = format_time(now + retire_after);
    // Two rotations at once: the one-current-key index refuses the second
    // insert, and its transaction (the retirement with it) rolls back.
    let kid = insert_current(db, master, Some(&retires_at)).await?;
    let expired: Vec<String> = rows(db)
        .await?
        .into_iter()
        .filter_map(|(id, kid, _, _, retires)| {
            let retires = retires.and_then(|at| parse_time(&at, &kid).ok())?;
            (retires < now).then_some(id)
        })
        .collect();
    for id in expired {
        on_pool!(db, pool => {
            sqlx::query("DELETE FROM signing_keys WHERE id = $1").bind(&id).execute(pool).await?;
        });
    }
    kid.ok_or_else(|| anyhow::anyhow!("another rotation ran at the same time; run `roster keys rotate` again"))
}

/// Inserts a new current key, first retiring the current one when
/// `retire_current_at` is given. `None` back: another process's key won.
async fn insert_current(
    db: &Db,
    master: &MasterKey,
    retire_current_at: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let kid = uuid::Uuid::new_v4().to_string();
    let sealed = master.seal(&kid, &seed);
    let created_at = format_time(Utc::now());
    let inserted = on_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        if let Some(at) = retire_current_at {
            sqlx::query("UPDATE signing_keys SET retires_at = $1 WHERE retires_at IS NULL")
                .bind(at).execute(&mut *tx).await?;
        }
        let inserted = sqlx::query(
            "INSERT INTO signing_keys (id, kid, secret, created_at) VALUES ($1, $1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(&kid).bind(&sealed).bind(&created_at)
        .execute(&mut *tx).await?
        .rows_affected();
        if inserted == 1 { tx.commit().await?; } else { tx.rollback().await?; }
        inserted
    });
    Ok((inserted == 1).then_some(kid))
}

async fn rows(db: &Db) -> anyhow::Result<Vec<Row>> {
    Ok(on_pool!(db, pool => sqlx::query_as::<_, Row>(SELECT).fetch_all(pool).await?))
}

/// Seeds before sealing existed: base64url in clear.
fn clear_seed(secret: &str, kid: &str) -> anyhow::Result<[u8; 32]> {
    URL_SAFE_NO_PAD
        .decode(secret)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("signing key {kid} is neither sealed nor a 32-byte seed"))
}

/// Fixed width, so that text order is time order in both databases.
fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn parse_time(at: &str, kid: &str) -> anyhow::Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(at)
        .map_err(|_| anyhow::anyhow!("signing key {kid} has an unreadable retires_at: {at}"))?
        .with_timezone(&Utc))
}
