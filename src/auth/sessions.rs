//! Server-side sessions. A session is one login and one refresh-token family:
//! refreshing swaps the current refresh id with a compare-and-set, so a
//! refresh token used twice finds the id already moved on and revokes the
//! whole family. Logout, deactivation and deletion revoke sessions, and every
//! authenticated request checks its session, so tokens stop working at once.

use projections::Statement;

use crate::on_pool;
use crate::read_models::{self, Profile, SessionRotation, UserKey};
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

/// Who holds a live session, as the authorisation check needs it: the user,
/// their organisation and their active roles.
pub struct Holder {
    pub user_uuid: String,
    pub organization_id: i64,
    pub active_role_ids: Vec<i64>,
}

/// The holder of `session_id` if the session is live and its user active
/// (a deactivation whose session revocation never ran still stops it):
/// one query, as every authenticated request runs it.
pub async fn live_holder(db: &Db, session_id: &str) -> Result<Option<Holder>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        user_uuid: String,
        organization_id: i64,
        role_id: Option<i64>,
    }
    let rows: Vec<Row> = db
        .fetch_all(&Statement::new(
            "SELECT s.user_uuid, u.organization_id, r.id AS role_id FROM sessions s \
             JOIN users u ON u.user_uuid = s.user_uuid AND u.status = 'ACTIVE' \
             LEFT JOIN user_roles ur ON ur.user_uuid = u.user_uuid \
             LEFT JOIN roles r ON r.id = ur.role_id AND r.status = 'ACTIVE' \
             WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 ORDER BY r.id",
            vec![session_id.into(), now().into()],
        ))
        .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    Ok(Some(Holder {
        user_uuid: first.user_uuid.clone(),
        organization_id: first.organization_id,
        active_role_ids: rows.iter().filter_map(|r| r.role_id).collect(),
    }))
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

/// What a refresh found: whether it rotated, and if so the user's profile.
pub enum RefreshOutcome {
    /// Rotated; the profile is `None` if the user no longer exists.
    Rotated(Option<Box<Profile>>),
    /// Unknown, expired, revoked, or reused (and now revoked).
    Refused,
}

/// Rotates the refresh id of `user_uuid`'s session and reads that user's
/// profile, which the new tokens carry. On
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
            Rotation::Reused | Rotation::Invalid => RefreshOutcome::Refused,
        });
    }
    let rotation = SessionRotation { session_id, presented_jti, next_jti, now: now() };
    if let Some(profile) = read_models::profile_after_rotation(db, rotation, user_uuid).await? {
        return Ok(RefreshOutcome::Rotated(Some(Box::new(profile))));
    }
    // No row: either nothing rotated, or it did and the user is gone.
    let current: Option<String> = on_pool!(db, pool => {
        sqlx::query_scalar("SELECT refresh_jti FROM sessions WHERE id = $1").bind(session_id).fetch_optional(pool).await?
    });
    if current.as_deref() == Some(next_jti) {
        return Ok(RefreshOutcome::Rotated(None));
    }
    refused(db, session_id).await?;
    Ok(RefreshOutcome::Refused)
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
