//! API keys as the admin list shows them (never their secret or its hash).

use projections::Statement;

use crate::storage::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    /// The admin's UUID, or `system` (the CLI).
    pub issued_by: Option<String>,
    pub issued_at: String,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
}

const COLUMNS: &str = "id, name, issued_by, issued_at, revoked_at, revoked_by";

/// Every key, oldest first.
pub async fn api_keys(db: &Db) -> Result<Vec<ApiKeyRow>, sqlx::Error> {
    db.fetch_all(&Statement::new(format!("SELECT {COLUMNS} FROM api_keys ORDER BY issued_at, id"), vec![])).await
}

pub async fn api_key(db: &Db, id: &str) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    db.fetch_optional(&Statement::new(format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1"), vec![id.into()])).await
}
