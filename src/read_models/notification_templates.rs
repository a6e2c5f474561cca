//! Notification templates as the read table holds them.

use projections::{SqlValue, Statement};

use crate::storage::Db;

/// Which template an update or a read means.
#[derive(Debug, Clone)]
pub enum TemplateKey {
    Id(i64),
    Code(String),
}

/// A template as reads return it: stored (with its id), or built in
/// (`id: None`, shown so an admin can see what to replace).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TemplateRow {
    pub id: Option<i64>,
    pub organization_id: Option<i64>,
    pub code: String,
    pub kind: String,
    pub subject: String,
    pub body: String,
    pub email_header: Option<String>,
    pub email_footer: Option<String>,
    pub status: String,
    pub created_by: Option<i64>,
    pub updated_by: Option<i64>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

const COLUMNS: &str = "id, organization_id, code, type AS kind, subject, body, email_header, email_footer, status, \
    created_by, updated_by, created_at, updated_at";

/// An organisation's own templates (no fallback): one by id or code, or all,
/// optionally of one `type`, in id order.
pub async fn notification_templates(
    db: &Db,
    organization_id: i64,
    key: Option<&TemplateKey>,
    kind: Option<&str>,
) -> Result<Vec<TemplateRow>, sqlx::Error> {
    let mut conditions = vec!["organization_id = $1".to_string()];
    let mut args: Vec<SqlValue> = vec![organization_id.into()];
    match key {
        Some(TemplateKey::Id(id)) => {
            args.push((*id).into());
            conditions.push(format!("id = ${}", args.len()));
        }
        Some(TemplateKey::Code(code)) => {
            args.push(code.trim().to_string().into());
            conditions.push(format!("code = ${}", args.len()));
        }
        None => {}
    }
    if let Some(kind) = kind {
        args.push(kind.trim().to_lowercase().into());
        conditions.push(format!("type = ${}", args.len()));
    }
    let sql = format!("SELECT {COLUMNS} FROM notification_templates WHERE {} ORDER BY id", conditions.join(" AND "));
    db.fetch_all(&Statement::new(sql, args)).await
}
