//! Forms as the read table holds them.

use projections::{SqlValue, Statement};
use serde_json::Value;

use crate::storage::Db;

/// Which form a read or an update means.
#[derive(Debug, Clone)]
pub enum FormKey {
    Id(i64),
    /// By type, and sub-type when given.
    Kind {
        form_type: String,
        sub_type: Option<String>,
    },
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FormRow {
    pub id: i64,
    pub organization_id: i64,
    pub form_type: String,
    pub sub_type: String,
    /// The form's JSON, as stored.
    pub data: String,
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl FormRow {
    pub fn data(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }
}

/// One form's version, as the version list gives it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FormVersion {
    pub id: i64,
    pub form_type: String,
    pub version: i64,
}

const FORM_COLUMNS: &str = "id, organization_id, type AS form_type, sub_type, data, version, created_at, updated_at";

/// Every form's id, type and version, in id order.
pub async fn form_versions(db: &Db) -> Result<Vec<FormVersion>, sqlx::Error> {
    db.fetch_all(&Statement::new("SELECT id, type AS form_type, version FROM forms ORDER BY id", vec![])).await
}

/// An organisation's own form that `key` names (no fallback).
pub async fn form(db: &Db, organization_id: i64, key: &FormKey) -> Result<Option<FormRow>, sqlx::Error> {
    let (condition, mut args): (&str, Vec<SqlValue>) = match key {
        FormKey::Id(id) => ("id = $2", vec![(*id).into()]),
        FormKey::Kind { form_type, sub_type: None } => ("type = $2", vec![form_type.trim().into()]),
        FormKey::Kind { form_type, sub_type: Some(sub_type) } => {
            ("type = $2 AND sub_type = $3", vec![form_type.trim().into(), sub_type.trim().into()])
        }
    };
    args.insert(0, organization_id.into());
    let sql =
        format!("SELECT {FORM_COLUMNS} FROM forms WHERE organization_id = $1 AND {condition} ORDER BY id LIMIT 1");
    db.fetch_optional(&Statement::new(sql, args)).await
}

/// A form by id, in whichever organisation.
pub async fn form_by_id(db: &Db, id: i64) -> Result<Option<FormRow>, sqlx::Error> {
    db.fetch_optional(&Statement::new(format!("SELECT {FORM_COLUMNS} FROM forms WHERE id = $1"), vec![id.into()])).await
}
