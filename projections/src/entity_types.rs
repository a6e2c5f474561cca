use aggregates::{EntityDefinition, EntityEvent, EntityTypeDefinition, EntityTypeEvent};

use crate::{format_time, Projection, ProjectionError, SqlValue, Statement, StoredEvent};

/// `entity_types` and `entities`: the value catalogues, for their reads
/// and for checking and labelling the profile fields they type.
pub struct EntityTypesProjection;

impl Projection for EntityTypesProjection {
    fn name(&self) -> &'static str {
        "entity_types"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["entities", "entity_types"]
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["entity_type", "entity"]
    }

    fn handle(&self, event: &StoredEvent) -> Result<Vec<Statement>, ProjectionError> {
        let uuid = SqlValue::Text(event.aggregate_id.clone());
        match event.aggregate_type.as_str() {
            "entity_type" => Ok(entity_type(uuid, event.decode()?)),
            "entity" => Ok(entity(uuid, event.decode()?)),
            _ => Ok(vec![]),
        }
    }
}

fn type_columns(t: EntityTypeDefinition) -> Vec<SqlValue> {
    vec![
        t.value.into(),
        t.label.into(),
        t.status.into(),
        t.data_type.into(),
        t.allow_filtering.into(),
        t.has_entities.into(),
        t.allow_custom_entities.into(),
        serde_json::Value::from(t.model_names).to_string().into(),
        t.parent_id.into(),
        t.updated_by.into(),
    ]
}

fn entity_type(uuid: SqlValue, event: EntityTypeEvent) -> Vec<Statement> {
    match event {
        EntityTypeEvent::EntityTypeCreated { entity_type, at } => {
            let head = vec![
                entity_type.numeric_id.into(),
                uuid,
                entity_type.organization_id.into(),
                entity_type.created_by.into(),
                format_time(&at).into(),
            ];
            let mut args = head;
            args.extend(type_columns(entity_type));
            vec![Statement::new(
                "INSERT INTO entity_types (id, entity_type_uuid, organization_id, created_by, created_at, updated_at, \
                 value, label, status, data_type, allow_filtering, has_entities, allow_custom_entities, model_names, \
                 parent_id, updated_by) \
                 VALUES ($1, $2, $3, CAST($4 AS BIGINT), $5, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                 CAST($14 AS BIGINT), CAST($15 AS BIGINT))",
                args,
            )]
        }
        EntityTypeEvent::EntityTypeUpdated { entity_type, at } => {
            let mut args = vec![uuid, format_time(&at).into()];
            args.extend(type_columns(entity_type));
            vec![Statement::new(
                "UPDATE entity_types SET updated_at = $2, value = $3, label = $4, status = $5, data_type = $6, \
                 allow_filtering = $7, has_entities = $8, allow_custom_entities = $9, model_names = $10, \
                 parent_id = CAST($11 AS BIGINT), updated_by = CAST($12 AS BIGINT) WHERE entity_type_uuid = $1",
                args,
            )]
        }
        EntityTypeEvent::EntityTypeDeleted { by, at } => vec![Statement::new(
            "UPDATE entity_types SET deleted_at = $2, updated_at = $2, updated_by = COALESCE(CAST($3 AS BIGINT), updated_by) \
             WHERE entity_type_uuid = $1",
            vec![uuid, format_time(&at).into(), by.into()],
        )],
    }
}

fn entity_columns(e: EntityDefinition) -> Vec<SqlValue> {
    vec![e.entity_type_id.into(), e.value.into(), e.label.into(), e.status.into(), e.kind.into(), e.updated_by.into()]
}

fn entity(uuid: SqlValue, event: EntityEvent) -> Vec<Statement> {
    match event {
        EntityEvent::EntityCreated { entity, at } => {
            let mut args = vec![entity.numeric_id.into(), uuid, entity.created_by.into(), format_time(&at).into()];
            args.extend(entity_columns(entity));
            vec![Statement::new(
                "INSERT INTO entities (id, entity_uuid, created_by, created_at, updated_at, entity_type_id, value, \
                 label, status, type, updated_by) \
                 VALUES ($1, $2, CAST($3 AS BIGINT), $4, $4, $5, $6, $7, $8, $9, CAST($10 AS BIGINT))",
                args,
            )]
        }
        EntityEvent::EntityUpdated { entity, at } => {
            let mut args = vec![uuid, format_time(&at).into()];
            args.extend(entity_columns(entity));
            vec![Statement::new(
                "UPDATE entities SET updated_at = $2, entity_type_id = $3, value = $4, label = $5, status = $6, \
                 type = $7, updated_by = CAST($8 AS BIGINT) WHERE entity_uuid = $1",
                args,
            )]
        }
        EntityEvent::EntityDeleted { by, at } => vec![Statement::new(
            "UPDATE entities SET deleted_at = $2, updated_at = $2, updated_by = COALESCE(CAST($3 AS BIGINT), updated_by) \
             WHERE entity_uuid = $1",
            vec![uuid, format_time(&at).into(), by.into()],
        )],
    }
}
