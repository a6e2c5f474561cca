//! Roles, modules, permissions and which roles hold which permissions, as
//! the read tables hold them.

use projections::{SqlValue, Statement};

use crate::storage::query::{Conditions, Window};
use crate::storage::{Count, Db, Reader};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoleDetails {
    pub id: i64,
    pub title: String,
    pub label: String,
    pub user_type: i64,
    pub status: String,
    pub visibility: String,
    pub organization_id: i64,
    pub translations: Option<String>,
    pub meta: Option<String>,
}

const ROLE_COLUMNS: &str =
    "id, title, label, CAST(user_type AS BIGINT) AS user_type, status, visibility, organization_id, \
    translations, meta";

#[derive(Debug, Default)]
pub struct RoleFilter {
    pub search: Option<String>,
    pub user_type: Option<i64>,
    pub visibility: Option<String>,
    pub status: Option<String>,
    pub organization_id: Option<i64>,
    pub page: i64,
    pub limit: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PermissionRow {
    pub id: i64,
    pub code: String,
    pub module: String,
    pub request_type: String,
    pub api_path: String,
    pub status: String,
}

const PERMISSION_COLUMNS: &str = "id, code, module, request_type, api_path, status";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ModuleRow {
    pub id: i64,
    pub code: String,
    pub status: String,
}

/// A role that is not deleted.
pub async fn role_details(db: &Db, id: i64) -> Result<Option<RoleDetails>, sqlx::Error> {
    db.fetch_optional(&Statement::new(
        format!("SELECT {ROLE_COLUMNS} FROM roles WHERE id = $1 AND status <> 'DELETED'"),
        vec![id.into()],
    ))
    .await
}

/// A page of the roles that are not deleted, in id order.
pub async fn list_roles(reader: &Reader, filter: &RoleFilter) -> Result<(Vec<RoleDetails>, Count), sqlx::Error> {
    let mut c = Conditions::new();
    c.push("status <> 'DELETED'");
    c.contains(&["title"], filter.search.as_deref());
    if let Some(v) = filter.user_type {
        c.with("user_type = $?", v);
    }
    if let Some(v) = &filter.visibility {
        c.with("visibility = $?", v.as_str());
    }
    if let Some(v) = &filter.status {
        c.with("status = $?", v.as_str());
    }
    if let Some(v) = filter.organization_id {
        c.with("organization_id = $?", v);
    }
    let select = format!("SELECT {ROLE_COLUMNS} FROM roles");
    c.page(reader, &select, "roles", "id", Window::page(filter.page, filter.limit)).await
}

/// The ids of an organisation's own roles.
pub async fn roles_of_organization(db: &Db, organization_id: i64) -> Result<Vec<i64>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Id {
        id: i64,
    }
    let rows: Vec<Id> = db
        .fetch_all(&Statement::new("SELECT id FROM roles WHERE organization_id = $1", vec![organization_id.into()]))
        .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

pub async fn module(db: &Db, id: i64) -> Result<Option<ModuleRow>, sqlx::Error> {
    db.fetch_optional(&Statement::new("SELECT id, code, status FROM modules WHERE id = $1", vec![id.into()])).await
}

/// How many modules have `code` (0 or 1).
pub async fn modules_with_code(db: &Db, code: &str) -> Result<i64, sqlx::Error> {
    db.fetch_count(&Statement::new("SELECT count(*) FROM modules WHERE code = $1", vec![code.into()])).await
}

/// A page of modules with `search` in their code, in id order.
pub async fn list_modules(
    reader: &Reader,
    search: Option<&str>,
    window: Window,
) -> Result<(Vec<ModuleRow>, Count), sqlx::Error> {
    let mut c = Conditions::new();
    c.contains(&["code"], search);
    c.page(reader, "SELECT id, code, status FROM modules", "modules", "id", window).await
}

pub async fn permission(db: &Db, id: i64) -> Result<Option<PermissionRow>, sqlx::Error> {
    db.fetch_optional(&Statement::new(
        format!("SELECT {PERMISSION_COLUMNS} FROM permissions WHERE id = $1"),
        vec![id.into()],
    ))
    .await
}

/// How many permissions name the module `code`.
pub async fn permissions_of_module(db: &Db, code: &str) -> Result<i64, sqlx::Error> {
    db.fetch_count(&Statement::new("SELECT count(*) FROM permissions WHERE module = $1", vec![code.into()])).await
}

/// A page of permissions with `search` in their code, in id order.
pub async fn list_permissions(
    reader: &Reader,
    search: Option<&str>,
    window: Window,
) -> Result<(Vec<PermissionRow>, Count), sqlx::Error> {
    let mut c = Conditions::new();
    c.contains(&["code"], search);
    let select = format!("SELECT {PERMISSION_COLUMNS} FROM permissions");
    c.page(reader, &select, "permissions", "id", window).await
}

/// (role id, permission) pairs, for the roles in `role_ids` (every role if
/// it is empty), by role and permission id.
pub async fn role_permissions(db: &Db, role_ids: &[i64]) -> Result<Vec<(i64, PermissionRow)>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Mapped {
        role_id: i64,
        #[sqlx(flatten)]
        permission: PermissionRow,
    }
    let mut c = Conditions::new();
    c.any_of("rp.role_id", role_ids.iter().copied());
    let sql = format!(
        "SELECT rp.role_id, p.id, p.code, p.module, p.request_type, p.api_path, p.status FROM role_permissions rp \
         JOIN permissions p ON p.id = rp.permission_id WHERE {} ORDER BY rp.role_id, p.id",
        c.clause()
    );
    let args: Vec<SqlValue> = c.into_arguments();
    let rows: Vec<Mapped> = db.fetch_all(&Statement::new(sql, args)).await?;
    Ok(rows.into_iter().map(|m| (m.role_id, m.permission)).collect())
}
