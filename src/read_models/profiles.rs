//! A user with its organisation and roles, read in one statement.

use projections::{SqlValue, Statement};

use super::users::{OrganizationRow, RoleRow, UserKey, UserRow, USER_COLUMNS};
use crate::storage::Db;

/// A user with everything a profile shows.
pub struct Profile {
    pub user: UserRow,
    pub roles: Vec<RoleRow>,
    pub organization: Option<OrganizationRow>,
}

/// One row per role of the user (one with no role if it has none): the
/// profile in one round trip instead of three.
#[derive(sqlx::FromRow)]
struct ProfileRow {
    #[sqlx(flatten)]
    user: UserRow,
    organization_name: Option<String>,
    organization_code: Option<String>,
    role_id: Option<i64>,
    role_title: Option<String>,
    role_user_type: Option<i64>,
    role_status: Option<String>,
}

impl ProfileRow {
    fn role(&self) -> Option<RoleRow> {
        Some(RoleRow {
            id: self.role_id?,
            title: self.role_title.clone()?,
            user_type: self.role_user_type?,
            status: self.role_status.clone()?,
        })
    }
}

pub async fn profile(db: &Db, key: &UserKey) -> Result<Option<Profile>, sqlx::Error> {
    let (condition, arg) = match key {
        UserKey::Numeric(id) => ("u.id = $1", SqlValue::Int(*id)),
        UserKey::Uuid(uuid) => ("u.user_uuid = $1", SqlValue::Text(uuid.clone())),
    };
    fetch_profile(db, profile_sql("", "users u", condition), vec![arg]).await
}

/// A refresh's compare-and-set of a session's refresh id.
pub struct SessionRotation<'a> {
    pub session_id: &'a str,
    pub presented_jti: &'a str,
    pub next_jti: &'a str,
    /// Now, as the sessions table writes times: a session expired by then
    /// does not rotate.
    pub now: String,
}

/// PostgreSQL: rotates the session's refresh id and reads the profile of
/// `user_uuid`, its holder, in one statement (a data-modifying `WITH`): a
/// refresh, the hottest write, is worth the round trip. `None` when nothing
/// rotated or the user is gone.
pub async fn profile_after_rotation(
    db: &Db,
    rotation: SessionRotation<'_>,
    user_uuid: &str,
) -> Result<Option<Profile>, sqlx::Error> {
    let args = vec![
        rotation.session_id.into(),
        rotation.presented_jti.into(),
        rotation.next_jti.into(),
        rotation.now.into(),
        user_uuid.into(),
    ];
    fetch_profile(db, rotation_sql(), args).await
}

/// The statement of `profile_after_rotation`, with its arguments `$1`
/// session id, `$2` presented refresh id, `$3` next one, `$4` now, `$5` the
/// holder's uuid. Public so `roster-bench refresh` can give PostgreSQL the
/// very same statement under `pgbench` (P2's ceiling).
pub fn rotation_sql() -> String {
    let with = "WITH rotated AS (UPDATE sessions SET refresh_jti = $3 \
        WHERE id = $1 AND refresh_jti = $2 AND revoked_at IS NULL AND expires_at > $4 RETURNING user_uuid) ";
    profile_sql(with, "rotated x JOIN users u ON u.user_uuid = x.user_uuid", "u.user_uuid = $5")
}

/// The profile query (a user joined with its organisation and roles) over
/// `FROM {from}` and `WHERE {condition}`, after an optional `WITH` clause.
fn profile_sql(with: &str, from: &str, condition: &str) -> String {
    format!(
        "{with}SELECT {USER_COLUMNS}, o.name AS organization_name, o.code AS organization_code, \
           r.id AS role_id, r.title AS role_title, CAST(r.user_type AS BIGINT) AS role_user_type, \
           r.status AS role_status \
         FROM {from} \
         LEFT JOIN organizations o ON o.id = u.organization_id \
         LEFT JOIN user_roles ur ON ur.user_uuid = u.user_uuid \
         LEFT JOIN roles r ON r.id = ur.role_id \
         WHERE {condition} AND u.status <> 'DELETED' ORDER BY r.id"
    )
}

async fn fetch_profile(db: &Db, sql: String, args: Vec<SqlValue>) -> Result<Option<Profile>, sqlx::Error> {
    let rows: Vec<ProfileRow> = db.fetch_all(&Statement::new(sql, args)).await?;
    let mut rows = rows.into_iter();
    let Some(first) = rows.next() else {
        return Ok(None);
    };
    let rest: Vec<ProfileRow> = rows.collect();
    let organization = match (&first.organization_name, &first.organization_code) {
        (Some(name), Some(code)) => {
            Some(OrganizationRow { id: first.user.organization_id, name: name.clone(), code: code.clone() })
        }
        _ => None,
    };
    let roles = std::iter::once(&first).chain(&rest).filter_map(ProfileRow::role).collect();
    let user = first.user;
    Ok(Some(Profile { user, roles, organization }))
}
