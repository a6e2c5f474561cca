//! Organisations as the read tables hold them.

use projections::{SqlValue, Statement};

use crate::storage::query::{Conditions, Window};
use crate::storage::{Count, Db, Reader};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrganizationDetails {
    pub id: i64,
    pub org_uuid: String,
    pub name: String,
    pub code: String,
    pub description: String,
    pub status: String,
    pub related_orgs: String,
    pub created_at: String,
    pub updated_at: String,
}

const ORGANIZATION_COLUMNS: &str =
    "id, org_uuid, name, code, description, status, related_orgs, created_at, updated_at";

#[derive(Debug, Clone)]
pub enum OrganizationKey {
    Id(i64),
    Code(String),
}

pub async fn organization_details(db: &Db, key: &OrganizationKey) -> Result<Option<OrganizationDetails>, sqlx::Error> {
    let (condition, arg) = match key {
        OrganizationKey::Id(id) => ("id = $1", SqlValue::Int(*id)),
        OrganizationKey::Code(code) => ("code = $1", SqlValue::Text(code.clone())),
    };
    db.fetch_optional(&Statement::new(
        format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE {condition}"),
        vec![arg],
    ))
    .await
}

/// A page of organisations in id order, with name or code holding `search`.
pub async fn list_organizations(
    reader: &Reader,
    search: Option<&str>,
    page: i64,
    limit: i64,
) -> Result<(Vec<OrganizationDetails>, Count), sqlx::Error> {
    let mut conditions = Conditions::new();
    conditions.contains(&["name", "code"], search);
    let select = format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations");
    conditions.page(reader, &select, "organizations", "id", Window::page(page, limit)).await
}

/// The aggregate id of an organisation given its numeric id or UUID.
pub async fn organization_uuid_of(db: &Db, raw: &str) -> Result<Option<String>, sqlx::Error> {
    let raw = raw.trim();
    let (condition, arg) = match (raw.parse::<i64>(), uuid::Uuid::parse_str(raw)) {
        (Ok(id), _) => ("id = $1", SqlValue::Int(id)),
        (_, Ok(uuid)) => ("org_uuid = $1", SqlValue::Text(uuid.to_string())),
        _ => return Ok(None),
    };
    let sql = format!("SELECT org_uuid AS id FROM organizations WHERE {condition}");
    let row: Option<OrgUuid> = db.fetch_optional(&Statement::new(sql, vec![arg])).await?;
    Ok(row.map(|r| r.id))
}

#[derive(sqlx::FromRow)]
struct OrgUuid {
    id: String,
}
