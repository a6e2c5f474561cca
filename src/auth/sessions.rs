//! Server-side sessions. A session is one login and one refresh-token family:
//! refreshing swaps the current refresh id with a compare-and-set, so a
//! refresh token used twice finds the id already moved on and revokes the
//! whole family. Logout, deactivation and deletion revoke sessions, and every
//! authenticated request checks its session, so tokens stop working at once.

use crate::on_pool;
use crate::read_models::{self, Profile, UserKey};
use crate::storage::Db;

pub enum Rotation {
    Rotated,
    /// The refresh token was already used: the family is now revoked.
    Reused,
    /// Unknown, expired or revoked session.
    Invalid,
}

fn now() -> String {
    projections::format_time(&chrono::Utc::now())
}

pub async fn create(
    db: &Db,
    session_id: &str,
    user_uuid: &str,
    refresh_jti: &str,
    ttl_seconds: i64,
) -> Result<(), sqlx::Error> {
    let now_at = chrono::Utc::now();
    let expires = projections::format_time(&(now_at + chrono::Duration::seconds(ttl_seconds)));
    on_pool!(db, pool => {
        sqlx::query("INSERT INTO sessions (id, user_uuid, refresh_jti, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(session_id)
            .bind(user_uuid)
            .bind(refresh_jti)
            .bind(projections::format_time(&now_at))
            .bind(expires)
            .execute(pool)
            .await
            .map(|_| ())
    })
}

/// The session's user if the session is live.
pub async fn active_user(db: &Db, session_id: &str) -> Result<Option<String>, sqlx::Error> {
    on_pool!(db, pool => {
        sqlx::query_scalar::<_, String>(
            "SELECT user_uuid FROM sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(session_id)
        .bind(now())
        .fetch_optional(pool)
        .await
    })
}

pub async fn rotate(db: &Db, session_id: &str, presented_jti: &str, next_jti: &str) -> Result<Rotation, sqlx::Error> {
    let now = now();
    let swapped = on_pool!(db, pool => {
        sqlx::query(
            "UPDATE sessions SET refresh_jti = $3 WHERE id = $1 AND refresh_jti = $2 AND revoked_at IS NULL AND expires_at > $4",
        )
        .bind(session_id)
        .bind(presented_jti)
        .bind(next_jti)
        .bind(&now)
        .execute(pool)
        .await?
        .rows_affected()
    });
    if swapped == 1 {
        return Ok(Rotation::Rotated);
    }
    refused(db, session_id).await
}

/// A refresh id that did not swap: if the session is still live, its token
/// was used before, so the whole family is revoked.
async fn refused(db: &Db, session_id: &str) -> Result<Rotation, sqlx::Error> {
    if revoke(db, session_id, "refresh token reused").await? {
        tracing::warn!(session_id, "refresh token reuse detected; session family revoked");
        metrics::counter!("roster_refresh_reuse_total").increment(1);
        return Ok(Rotation::Reused);
    }
    Ok(Rotation::Invalid)
}

/// What a refresh found: its rotation, and if it rotated, the holder's profile.
pub enum RefreshOutcome {
    /// Rotated; the profile is `None` if the user no longer exists.
    Rotated(Option<Box<Profile>>),
    Refused(Rotation),
}

/// Rotates the refresh id of `user_uuid`'s session and reads the profile the
/// new tokens carry (the caller checks it is that user's). On
/// PostgreSQL both go in one round trip (the compare-and-set is a
/// data-modifying `WITH`), which a refresh, the hottest write, is worth.
pub async fn rotate_reading_profile(
    db: &Db,
    session_id: &str,
    user_uuid: &str,
    presented_jti: &str,
    next_jti: &str,
) -> Result<RefreshOutcome, sqlx::Error> {
    if matches!(db, Db::Sqlite(_)) {
        // In-process: two statements cost no more than one.
        return Ok(match rotate(db, session_id, presented_jti, next_jti).await? {
            Rotation::Rotated => RefreshOutcome::Rotated(
                read_models::profile(db, &UserKey::Uuid(user_uuid.to_string())).await?.map(Box::new),
            ),
            refused => RefreshOutcome::Refused(refused),
        });
    }
    let with = "WITH rotated AS (UPDATE sessions SET refresh_jti = $3 \
        WHERE id = $1 AND refresh_jti = $2 AND revoked_at IS NULL AND expires_at > $4 RETURNING user_uuid) ";
    let args = vec![session_id.into(), presented_jti.into(), next_jti.into(), now().into()];
    let from = "rotated x JOIN users u ON u.user_uuid = x.user_uuid";
    if let Some(profile) = read_models::profile_query(db, with, from, "TRUE", args).await? {
        return Ok(RefreshOutcome::Rotated(Some(Box::new(profile))));
    }
    // No row: either nothing rotated, or it did and the user is gone.
    let current: Option<String> = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT refresh_jti FROM sessions WHERE id = $1").bind(session_id).fetch_optional(pool).await?
    });
    if current.as_deref() == Some(next_jti) {
        return Ok(RefreshOutcome::Rotated(None));
    }
    Ok(RefreshOutcome::Refused(refused(db, session_id).await?))
}

/// Revokes one session; true if it was live.
pub async fn revoke(db: &Db, session_id: &str, reason: &str) -> Result<bool, sqlx::Error> {
    on_pool!(db, pool => {
        sqlx::query("UPDATE sessions SET revoked_at = $2, revoked_reason = $3 WHERE id = $1 AND revoked_at IS NULL")
            .bind(session_id)
            .bind(now())
            .bind(reason)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() == 1)
    })
}

/// Revokes every live session of a user; returns how many.
pub async fn revoke_user(db: &Db, user_uuid: &str, reason: &str) -> Result<u64, sqlx::Error> {
    on_pool!(db, pool => {
        sqlx::query("UPDATE sessions SET revoked_at = $2, revoked_reason = $3 WHERE user_uuid = $1 AND revoked_at IS NULL")
            .bind(user_uuid)
            .bind(now())
            .bind(reason)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
    })
}
