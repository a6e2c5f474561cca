//! Users, their roles and organisations as the read tables hold them.

use projections::{SqlValue, Statement};
use serde_json::Value;

use crate::storage::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub user_uuid: String,
    pub id: i64,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub username: Option<String>,
    pub status: String,
    pub organization_id: i64,
    pub about: Option<String>,
    pub gender: Option<String>,
    pub location: Option<String>,
    pub image: Option<String>,
    pub languages: Option<String>,
    pub share_link: Option<String>,
    pub preferred_language: Option<String>,
    pub has_accepted_terms_and_conditions: bool,
    pub last_logged_in_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub deleted_at: Option<String>,
    /// The user who manages this one (a Sunbird managed user), if anyone does.
    pub managed_by: Option<String>,
    /// The profile extension, JSON text (migration 0028).
    pub profile_extension: Option<String>,
    /// The self-declarations, JSON text (migration 0029).
    pub declarations: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct RoleRow {
    pub id: i64,
    pub title: String,
    pub user_type: i64,
    pub status: String,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct OrganizationRow {
    pub id: i64,
    pub name: String,
    pub code: String,
}

pub(super) const USER_COLUMNS: &str =
    "u.user_uuid, u.id, u.email, u.name, u.phone, u.username, u.status, u.organization_id, \
    u.about, u.gender, u.location, u.image, u.languages, u.share_link, u.preferred_language, \
    u.has_accepted_terms_and_conditions, u.last_logged_in_at, u.created_at, u.updated_at, u.deleted_at, u.managed_by, \
    u.profile_extension, u.declarations";

/// A user is addressed by numeric id or UUID.
#[derive(Debug, Clone)]
pub enum UserKey {
    Numeric(i64),
    Uuid(String),
}

impl UserKey {
    pub fn parse(raw: &str) -> Option<UserKey> {
        let raw = raw.trim();
        if let Ok(id) = raw.parse::<i64>() {
            return Some(UserKey::Numeric(id));
        }
        uuid::Uuid::parse_str(raw).ok().map(|u| UserKey::Uuid(u.to_string()))
    }
}

pub async fn user(db: &Db, key: &UserKey) -> Result<Option<UserRow>, sqlx::Error> {
    let (condition, arg) = match key {
        UserKey::Numeric(id) => ("u.id = $1", SqlValue::Int(*id)),
        UserKey::Uuid(uuid) => ("u.user_uuid = $1", SqlValue::Text(uuid.clone())),
    };
    let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE {condition} AND u.status <> 'DELETED'");
    db.fetch_optional(&Statement::new(sql, vec![arg])).await
}

pub async fn roles_of(db: &Db, user_uuid: &str) -> Result<Vec<RoleRow>, sqlx::Error> {
    db.fetch_all(&Statement::new(
        "SELECT r.id, r.title, CAST(r.user_type AS BIGINT) AS user_type, r.status FROM user_roles ur \
         JOIN roles r ON r.id = ur.role_id WHERE ur.user_uuid = $1 ORDER BY r.id",
        vec![user_uuid.into()],
    ))
    .await
}

pub async fn organization(db: &Db, id: i64) -> Result<Option<OrganizationRow>, sqlx::Error> {
    db.fetch_optional(&Statement::new("SELECT id, name, code FROM organizations WHERE id = $1", vec![id.into()])).await
}

pub async fn role_by_title(db: &Db, title: &str, organization_id: i64) -> Result<Option<RoleRow>, sqlx::Error> {
    db.fetch_optional(&Statement::new(
        "SELECT id, title, CAST(user_type AS BIGINT) AS user_type, status FROM roles \
         WHERE title = $1 AND (organization_id = $2 OR organization_id = 1) ORDER BY organization_id DESC LIMIT 1",
        vec![title.into(), organization_id.into()],
    ))
    .await
}

/// A JSON text column, parsed (`null` when empty or unreadable).
pub fn json_column(text: &Option<String>) -> Value {
    text.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or(Value::Null)
}

pub async fn active_users_of_organization(db: &Db, organization_id: i64) -> Result<Vec<String>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Id {
        user_uuid: String,
    }
    let rows: Vec<Id> = db
        .fetch_all(&Statement::new(
            "SELECT user_uuid FROM users WHERE organization_id = $1 AND status = 'ACTIVE' ORDER BY id",
            vec![organization_id.into()],
        ))
        .await?;
    Ok(rows.into_iter().map(|r| r.user_uuid).collect())
}

/// The UUIDs of the users `manager_uuid` manages who are not deleted, oldest first.
pub async fn managed_users(db: &Db, manager_uuid: &str) -> Result<Vec<String>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Id {
        user_uuid: String,
    }
    let rows: Vec<Id> = db
        .fetch_all(&Statement::new(
            "SELECT user_uuid FROM users WHERE managed_by = $1 AND status <> 'DELETED' ORDER BY id",
            vec![manager_uuid.into()],
        ))
        .await?;
    Ok(rows.into_iter().map(|r| r.user_uuid).collect())
}

pub async fn user_by_email(db: &Db, email: &str) -> Result<Option<UserRow>, sqlx::Error> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.email = $1 AND u.status <> 'DELETED'");
    db.fetch_optional(&Statement::new(sql, vec![email.trim().to_lowercase().into()])).await
}

pub async fn role(db: &Db, id: i64) -> Result<Option<RoleRow>, sqlx::Error> {
    db.fetch_optional(&Statement::new(
        "SELECT id, title, CAST(user_type AS BIGINT) AS user_type, status FROM roles WHERE id = $1",
        vec![id.into()],
    ))
    .await
}

/// The aggregate id of a user, deleted or not: their history outlives them.
pub async fn user_uuid_of(db: &Db, key: &UserKey) -> Result<Option<String>, sqlx::Error> {
    let (condition, arg) = match key {
        UserKey::Numeric(id) => ("id = $1", SqlValue::Int(*id)),
        UserKey::Uuid(uuid) => ("user_uuid = $1", SqlValue::Text(uuid.clone())),
    };
    let row: Option<AggregateId> = db
        .fetch_optional(&Statement::new(format!("SELECT user_uuid AS id FROM users WHERE {condition}"), vec![arg]))
        .await?;
    Ok(row.map(|r| r.id))
}

#[derive(sqlx::FromRow)]
struct AggregateId {
    id: String,
}

/// Who owns a user and the pool they are in (entity v5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ownership {
    /// Owner UUIDs, in the order they were added.
    pub owners: Vec<String>,
    pub pool: Option<String>,
}

pub async fn ownership(db: &Db, user_uuid: &str) -> Result<Ownership, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Owner {
        owner_uuid: String,
    }
    #[derive(sqlx::FromRow)]
    struct Pool {
        pool: Option<String>,
    }
    let owners: Vec<Owner> = db
        .fetch_all(&Statement::new(
            "SELECT owner_uuid FROM user_owners WHERE user_uuid = $1 ORDER BY added_at, owner_uuid",
            vec![user_uuid.into()],
        ))
        .await?;
    let pool: Option<Pool> = db
        .fetch_optional(&Statement::new("SELECT pool FROM users WHERE user_uuid = $1", vec![user_uuid.into()]))
        .await?;
    Ok(Ownership { owners: owners.into_iter().map(|o| o.owner_uuid).collect(), pool: pool.and_then(|p| p.pool) })
}
