//! Entity types and entities as the read tables hold them. Deleted rows
//! stay (`deleted_at`), and no query here returns them.

use projections::Statement;

use crate::storage::query::{Conditions, Window};
use crate::storage::{Count, Db, Reader};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntityTypeRow {
    pub id: i64,
    pub organization_id: i64,
    pub value: String,
    pub label: String,
    pub status: String,
    pub data_type: String,
    pub allow_filtering: bool,
    pub has_entities: bool,
    pub allow_custom_entities: bool,
    /// A JSON list of model names.
    pub model_names: String,
    pub parent_id: Option<i64>,
    pub created_by: Option<i64>,
    pub updated_by: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

impl EntityTypeRow {
    pub fn model_names(&self) -> Vec<String> {
        serde_json::from_str(&self.model_names).unwrap_or_default()
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntityRow {
    pub id: i64,
    pub entity_type_id: i64,
    pub value: String,
    pub label: String,
    pub status: String,
    pub kind: String,
    pub created_by: Option<i64>,
    pub updated_by: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

const TYPE_COLUMNS: &str = "id, organization_id, value, label, status, data_type, allow_filtering, has_entities, \
    allow_custom_entities, model_names, parent_id, created_by, updated_by, created_at, updated_at";
const ENTITY_COLUMNS: &str =
    "id, entity_type_id, value, label, status, type AS kind, created_by, updated_by, created_at, updated_at";

/// A type that is not deleted.
pub async fn entity_type(db: &Db, id: i64) -> Result<Option<EntityTypeRow>, sqlx::Error> {
    db.fetch_optional(&Statement::new(
        format!("SELECT {TYPE_COLUMNS} FROM entity_types WHERE id = $1 AND deleted_at IS NULL"),
        vec![id.into()],
    ))
    .await
}

/// The types of these organisations (and, if given, with these values),
/// in id order; `active_only` leaves out inactive ones.
pub async fn entity_types_of(
    db: &Db,
    organization_ids: &[i64],
    values: Option<&[String]>,
    active_only: bool,
) -> Result<Vec<EntityTypeRow>, sqlx::Error> {
    let mut c = Conditions::new();
    c.push("deleted_at IS NULL");
    c.any_of("organization_id", organization_ids.iter().copied());
    if let Some(values) = values {
        if values.is_empty() {
            return Ok(vec![]);
        }
        c.any_of("value", values.iter().map(String::as_str));
    }
    if active_only {
        c.push("status = 'ACTIVE'");
    }
    let sql = format!("SELECT {TYPE_COLUMNS} FROM entity_types WHERE {} ORDER BY id", c.clause());
    db.fetch_all(&Statement::new(sql, c.into_arguments())).await
}

/// Every organisation's active types with one of these values.
pub async fn entity_types_with_values(db: &Db, values: &[String]) -> Result<Vec<EntityTypeRow>, sqlx::Error> {
    let mut c = Conditions::new();
    c.push("deleted_at IS NULL AND status = 'ACTIVE'");
    c.any_of("value", values.iter().map(String::as_str));
    let sql = format!("SELECT {TYPE_COLUMNS} FROM entity_types WHERE {} ORDER BY id", c.clause());
    db.fetch_all(&Statement::new(sql, c.into_arguments())).await
}

/// An organisation's type with this value, if any.
pub async fn entity_type_with_value(
    db: &Db,
    organization_id: i64,
    value: &str,
) -> Result<Option<EntityTypeRow>, sqlx::Error> {
    db.fetch_optional(&Statement::new(
        format!(
            "SELECT {TYPE_COLUMNS} FROM entity_types WHERE organization_id = $1 AND value = $2 \
             AND deleted_at IS NULL"
        ),
        vec![organization_id.into(), value.into()],
    ))
    .await
}

/// An entity that is not deleted.
pub async fn entity(db: &Db, id: i64) -> Result<Option<EntityRow>, sqlx::Error> {
    db.fetch_optional(&Statement::new(
        format!("SELECT {ENTITY_COLUMNS} FROM entities WHERE id = $1 AND deleted_at IS NULL"),
        vec![id.into()],
    ))
    .await
}

/// The entities of these types (`values`: only those), in id order;
/// `active_only` leaves out inactive ones.
pub async fn entities_of(
    db: &Db,
    entity_type_ids: &[i64],
    values: Option<&[String]>,
    active_only: bool,
) -> Result<Vec<EntityRow>, sqlx::Error> {
    if entity_type_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut c = Conditions::new();
    c.push("deleted_at IS NULL");
    c.any_of("entity_type_id", entity_type_ids.iter().copied());
    if let Some(values) = values {
        if values.is_empty() {
            return Ok(vec![]);
        }
        c.any_of("value", values.iter().map(String::as_str));
    }
    if active_only {
        c.push("status = 'ACTIVE'");
    }
    let sql = format!("SELECT {ENTITY_COLUMNS} FROM entities WHERE {} ORDER BY id", c.clause());
    db.fetch_all(&Statement::new(sql, c.into_arguments())).await
}

/// A page of the entities of a type (every type's if `None`) with `search`
/// in their value or label, in id order.
pub async fn list_entities(
    reader: &Reader,
    entity_type_id: Option<i64>,
    search: Option<&str>,
    window: Window,
) -> Result<(Vec<EntityRow>, Count), sqlx::Error> {
    let mut c = Conditions::new();
    c.push("deleted_at IS NULL");
    if let Some(id) = entity_type_id {
        c.with("entity_type_id = $?", id);
    }
    c.contains(&["value", "label"], search);
    let select = format!("SELECT {ENTITY_COLUMNS} FROM entities");
    c.page(reader, &select, "entities", "id", window).await
}
