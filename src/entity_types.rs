//! Entity types and entities (ELEVATE's `entity-type` and `entity` APIs):
//! the value catalogues behind profile fields. Each type belongs to one
//! organisation; a reader sees their organisation's types and, for every
//! value their organisation has no type of, the default organisation's.
//! Org admins manage their organisation's catalogue, admins any; an org
//! admin may also inherit a default type into their organisation
//! (`inherit_entity_type`), with its entities, in one commit.

use aggregates::validation::{self, limits, InvalidInput};
use aggregates::{
    ClaimKind, Entity as EntityAggregate, EntityCommand, EntityDefinition, EntityError, EntityType, EntityTypeCommand,
    EntityTypeDefinition, EntityTypeError,
};
use uuid::Uuid;

use crate::accounts::Caller;
use crate::bootstrap::DEFAULT_ORGANIZATION_ID;
use crate::catalogue::{claim, release};
use crate::commands::{CommandError, Metadata};
use crate::error::{Entity, ServiceError};
use crate::read_models;
pub use crate::read_models::{EntityRow, EntityTypeRow};
use crate::services::Services;
use crate::storage::query::Window;
use crate::storage::Count;

/// The statuses a type or an entity may have.
const STATUSES: &[&str] = &["ACTIVE", "INACTIVE"];
/// Model names a type may list, at most this many, each at most `CODE` long.
const MODEL_NAMES: usize = 20;

/// A type as a client describes it; `None` keeps the current value (or
/// takes the default, on create).
#[derive(Debug, Clone, Default)]
pub struct EntityTypeInput {
    pub value: Option<String>,
    pub label: Option<String>,
    pub status: Option<String>,
    pub data_type: Option<String>,
    pub allow_filtering: Option<bool>,
    pub has_entities: Option<bool>,
    pub allow_custom_entities: Option<bool>,
    pub model_names: Option<Vec<String>>,
}

/// An entity as a client describes it; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct EntityInput {
    pub entity_type_id: Option<i64>,
    pub value: Option<String>,
    pub label: Option<String>,
    pub status: Option<String>,
    pub kind: Option<String>,
}

/// A type with its entities, as `entity-type/read` gives it.
#[derive(Debug, Clone)]
pub struct EntityTypeWithEntities {
    pub entity_type: EntityTypeRow,
    pub entities: Vec<EntityRow>,
}

/// Which entities `entity/read` means.
#[derive(Debug, Clone)]
pub enum EntityKey {
    Id(i64),
    Value { entity_type_id: i64, value: String },
}

fn entity_type_uuid(numeric_id: i64) -> String {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("roster:entity_type:{numeric_id}").as_bytes()).to_string()
}

fn entity_uuid(numeric_id: i64) -> String {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("roster:entity:{numeric_id}").as_bytes()).to_string()
}

fn type_claim_value(organization_id: i64, value: &str) -> String {
    format!("{organization_id}:{value}")
}

fn entity_claim_value(entity_type_id: i64, value: &str) -> String {
    format!("{entity_type_id}:{value}")
}

fn status(raw: &str) -> Result<String, InvalidInput> {
    validation::one_of("status", raw, STATUSES).map(str::to_string)
}

fn model_names(raw: Vec<String>) -> Result<Vec<String>, InvalidInput> {
    if raw.len() > MODEL_NAMES {
        return Err(InvalidInput::TooMany { field: "model_names", max: MODEL_NAMES });
    }
    raw.iter().map(|name| validation::code("model_names", name)).collect()
}

/// Collects the refusals of every field, so one answer names them all.
#[derive(Default)]
struct Checks(Vec<InvalidInput>);

impl Checks {
    fn take<T>(&mut self, result: Result<T, InvalidInput>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    fn done<T>(self, value: T) -> Result<T, ServiceError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ServiceError::invalid_input(self.0))
        }
    }
}

/// `input` over `current` (or over the defaults, for a new type), checked.
fn type_definition(
    input: EntityTypeInput,
    current: Option<&EntityTypeDefinition>,
    base: EntityTypeDefinition,
) -> Result<EntityTypeDefinition, ServiceError> {
    let mut checks = Checks::default();
    let mut next = current.cloned().unwrap_or(base);
    let required = current.is_none();
    match input.value {
        Some(value) => next.value = checks.take(validation::code("value", &value)).unwrap_or_default(),
        None if required => checks.0.push(InvalidInput::Empty { field: "value" }),
        None => {}
    }
    match input.label {
        Some(label) => {
            next.label = checks.take(validation::single_line("label", &label, true, limits::LABEL)).unwrap_or_default()
        }
        None if required => checks.0.push(InvalidInput::Empty { field: "label" }),
        None => {}
    }
    if let Some(raw) = input.status {
        next.status = checks.take(status(&raw)).unwrap_or_default();
    }
    if let Some(raw) = input.data_type {
        next.data_type =
            checks.take(validation::single_line("data_type", &raw, true, limits::CODE)).unwrap_or_default();
    }
    if let Some(names) = input.model_names {
        next.model_names = checks.take(model_names(names)).unwrap_or_default();
    }
    next.allow_filtering = input.allow_filtering.unwrap_or(next.allow_filtering);
    next.has_entities = input.has_entities.unwrap_or(next.has_entities);
    next.allow_custom_entities = input.allow_custom_entities.unwrap_or(next.allow_custom_entities);
    checks.done(next)
}

fn entity_definition(
    input: EntityInput,
    current: Option<&EntityDefinition>,
    base: EntityDefinition,
) -> Result<EntityDefinition, ServiceError> {
    let mut checks = Checks::default();
    let mut next = current.cloned().unwrap_or(base);
    let required = current.is_none();
    match input.value {
        Some(value) => {
            next.value =
                checks.take(validation::single_line("value", &value, true, limits::CHOICE_VALUE)).unwrap_or_default()
        }
        None if required => checks.0.push(InvalidInput::Empty { field: "value" }),
        None => {}
    }
    match input.label {
        Some(label) => {
            next.label =
                checks.take(validation::single_line("label", &label, true, limits::CHOICE_LABEL)).unwrap_or_default()
        }
        None if required => checks.0.push(InvalidInput::Empty { field: "label" }),
        None => {}
    }
    if let Some(raw) = input.status {
        next.status = checks.take(status(&raw)).unwrap_or_default();
    }
    if let Some(raw) = input.kind {
        next.kind = checks.take(validation::single_line("type", &raw, true, limits::CODE)).unwrap_or_default();
    }
    checks.done(next)
}

fn type_error(error: CommandError<EntityTypeError>) -> ServiceError {
    match error {
        CommandError::Domain(EntityTypeError::NotFound | EntityTypeError::OrganizationChanged) => {
            ServiceError::not_found(Entity::EntityType)
        }
        CommandError::Domain(EntityTypeError::AlreadyExists) => {
            ServiceError::Duplicate { entity: Entity::EntityType, field: "value" }
        }
        other => other.into(),
    }
}

fn entity_error(error: CommandError<EntityError>) -> ServiceError {
    match error {
        CommandError::Domain(EntityError::NotFound) => ServiceError::not_found(Entity::EntityValue),
        CommandError::Domain(EntityError::AlreadyExists) => {
            ServiceError::Duplicate { entity: Entity::EntityValue, field: "value" }
        }
        other => other.into(),
    }
}

fn definition_of(row: &EntityTypeRow) -> EntityTypeDefinition {
    EntityTypeDefinition {
        numeric_id: row.id,
        organization_id: row.organization_id,
        value: row.value.clone(),
        label: row.label.clone(),
        status: row.status.clone(),
        data_type: row.data_type.clone(),
        allow_filtering: row.allow_filtering,
        has_entities: row.has_entities,
        allow_custom_entities: row.allow_custom_entities,
        model_names: row.model_names(),
        parent_id: row.parent_id,
        created_by: row.created_by,
        updated_by: row.updated_by,
    }
}

fn entity_of(row: &EntityRow) -> EntityDefinition {
    EntityDefinition {
        numeric_id: row.id,
        entity_type_id: row.entity_type_id,
        value: row.value.clone(),
        label: row.label.clone(),
        status: row.status.clone(),
        kind: row.kind.clone(),
        created_by: row.created_by,
        updated_by: row.updated_by,
    }
}

/// The organisations whose types `organization_id`'s users read: their own
/// first, then the default one.
fn readable_organizations(organization_id: i64) -> Vec<i64> {
    if organization_id == DEFAULT_ORGANIZATION_ID {
        vec![DEFAULT_ORGANIZATION_ID]
    } else {
        vec![organization_id, DEFAULT_ORGANIZATION_ID]
    }
}

/// Of several types with one value, the reader's organisation's.
fn own_before_default(types: Vec<EntityTypeRow>, organization_id: i64) -> Vec<EntityTypeRow> {
    let own: std::collections::HashSet<String> =
        types.iter().filter(|t| t.organization_id == organization_id).map(|t| t.value.clone()).collect();
    types.into_iter().filter(|t| t.organization_id == organization_id || !own.contains(&t.value)).collect()
}

impl Services {
    /// A new type of the caller's organisation; its value must be new there.
    pub async fn create_entity_type(
        &self,
        caller: &Caller,
        input: EntityTypeInput,
        meta: &Metadata,
    ) -> Result<EntityTypeRow, ServiceError> {
        let base = EntityTypeDefinition {
            numeric_id: 0,
            organization_id: caller.organization_id,
            value: String::new(),
            label: String::new(),
            status: "ACTIVE".into(),
            data_type: "STRING".into(),
            allow_filtering: false,
            has_entities: true,
            allow_custom_entities: false,
            model_names: vec![],
            parent_id: None,
            created_by: Some(caller.numeric_id()),
            updated_by: Some(caller.numeric_id()),
        };
        let mut definition = type_definition(input, None, base)?;
        definition.numeric_id = self.db.next_numeric_id("entity_type").await?;
        self.store_new_type(definition, vec![], meta).await
    }

    /// Changes a type of an organisation the caller administers.
    pub async fn update_entity_type(
        &self,
        caller: &Caller,
        id: i64,
        input: EntityTypeInput,
        meta: &Metadata,
    ) -> Result<EntityTypeRow, ServiceError> {
        let current = self.managed_type(caller, id).await?;
        let mut next = type_definition(input, Some(&definition_of(&current)), definition_of(&current))?;
        next.updated_by = Some(caller.numeric_id());
        let uuid = entity_type_uuid(id);
        let revalued = next.value != current.value;
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            if revalued {
                let new_claim = type_claim_value(current.organization_id, &next.value);
                claim(&mut unit, ClaimKind::EntityTypeValue, &new_claim, &uuid, Entity::EntityType, "value").await?;
                let old_claim = type_claim_value(current.organization_id, &current.value);
                release(&mut unit, ClaimKind::EntityTypeValue, &old_claim, &uuid).await?;
            }
            let update = EntityTypeCommand::Update { entity_type: next.clone(), at: chrono::Utc::now() };
            unit.decide::<EntityType>(&uuid, update).await.map_err(type_error)?;
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await?;
        self.stored_type(id).await
    }

    /// Deletes a type of an organisation the caller administers; its value
    /// is free again there. Its entities stay, unreachable through it.
    pub async fn delete_entity_type(&self, caller: &Caller, id: i64, meta: &Metadata) -> Result<(), ServiceError> {
        let current = self.managed_type(caller, id).await?;
        let uuid = entity_type_uuid(id);
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            let value = type_claim_value(current.organization_id, &current.value);
            release(&mut unit, ClaimKind::EntityTypeValue, &value, &uuid).await?;
            let delete = EntityTypeCommand::Delete { by: Some(caller.numeric_id()), at: chrono::Utc::now() };
            unit.decide::<EntityType>(&uuid, delete).await.map_err(type_error)?;
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await
    }

    /// The active types the caller's organisation reads (with `values`, only
    /// those), each with its active entities.
    pub async fn read_entity_types(
        &self,
        organization_id: i64,
        values: Option<&[String]>,
    ) -> Result<Vec<EntityTypeWithEntities>, ServiceError> {
        let organizations = readable_organizations(organization_id);
        let types = read_models::entity_types_of(&self.db, &organizations, values, true).await?;
        let types = own_before_default(types, organization_id);
        let ids: Vec<i64> = types.iter().map(|t| t.id).collect();
        let mut entities = read_models::entities_of(&self.db, &ids, None, true).await?;
        Ok(types
            .into_iter()
            .map(|entity_type| {
                let (own, rest) = entities.drain(..).partition(|e: &EntityRow| e.entity_type_id == entity_type.id);
                entities = rest;
                EntityTypeWithEntities { entity_type, entities: own }
            })
            .collect())
    }

    /// Copies the default organisation's type `value` into the caller's
    /// organisation under `label`, with its active entities, in one commit.
    pub async fn inherit_entity_type(
        &self,
        caller: &Caller,
        value: &str,
        label: &str,
        meta: &Metadata,
    ) -> Result<EntityTypeRow, ServiceError> {
        let value = validation::code("entity_type_value", value).map_err(|e| ServiceError::invalid_input(vec![e]))?;
        let label = validation::single_line("target_entity_type_label", label, true, limits::LABEL)
            .map_err(|e| ServiceError::invalid_input(vec![e]))?;
        let parent = read_models::entity_type_with_value(&self.db, DEFAULT_ORGANIZATION_ID, &value)
            .await?
            .ok_or(ServiceError::not_found(Entity::EntityType))?;
        if caller.organization_id == DEFAULT_ORGANIZATION_ID {
            return Err(ServiceError::Duplicate { entity: Entity::EntityType, field: "value" });
        }
        let entities = read_models::entities_of(&self.db, &[parent.id], None, true).await?;
        let numeric_id = self.db.next_numeric_id("entity_type").await?;
        let definition = EntityTypeDefinition {
            numeric_id,
            organization_id: caller.organization_id,
            label,
            parent_id: Some(parent.id),
            created_by: Some(caller.numeric_id()),
            updated_by: Some(caller.numeric_id()),
            ..definition_of(&parent)
        };
        let first = self.db.reserve_numeric_ids("entity", entities.len() as i64).await?;
        let copies = entities
            .iter()
            .zip(first..)
            .map(|(entity, id)| EntityDefinition {
                numeric_id: id,
                entity_type_id: numeric_id,
                created_by: Some(caller.numeric_id()),
                updated_by: Some(caller.numeric_id()),
                ..entity_of(entity)
            })
            .collect();
        self.store_new_type(definition, copies, meta).await
    }

    /// A new entity of a type of an organisation the caller administers.
    pub async fn create_entity(
        &self,
        caller: &Caller,
        input: EntityInput,
        meta: &Metadata,
    ) -> Result<EntityRow, ServiceError> {
        let Some(entity_type_id) = input.entity_type_id else {
            return Err(ServiceError::invalid_input(vec![InvalidInput::Empty { field: "entity_type_id" }]));
        };
        let entity_type = self.managed_type(caller, entity_type_id).await.map_err(|_| {
            ServiceError::invalid(
                "entity_type_id",
                crate::error::Reason::NotFound { entity: Entity::EntityType, id: None },
            )
        })?;
        let base = EntityDefinition {
            numeric_id: 0,
            entity_type_id: entity_type.id,
            value: String::new(),
            label: String::new(),
            status: "ACTIVE".into(),
            kind: "SYSTEM".into(),
            created_by: Some(caller.numeric_id()),
            updated_by: Some(caller.numeric_id()),
        };
        let mut definition = entity_definition(input, None, base)?;
        definition.numeric_id = self.db.next_numeric_id("entity").await?;
        let uuid = entity_uuid(definition.numeric_id);
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            let value = entity_claim_value(entity_type.id, &definition.value);
            claim(&mut unit, ClaimKind::EntityValue, &value, &uuid, Entity::EntityValue, "value").await?;
            let create = EntityCommand::Create { entity: definition.clone(), at: chrono::Utc::now() };
            unit.decide::<EntityAggregate>(&uuid, create).await.map_err(entity_error)?;
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await?;
        self.stored_entity(definition.numeric_id).await
    }

    /// Changes an entity of a type of an organisation the caller
    /// administers; a move to another type needs that type to be one too.
    pub async fn update_entity(
        &self,
        caller: &Caller,
        id: i64,
        input: EntityInput,
        meta: &Metadata,
    ) -> Result<EntityRow, ServiceError> {
        let current = self.managed_entity(caller, id).await?;
        let target_type = input.entity_type_id.unwrap_or(current.entity_type_id);
        if target_type != current.entity_type_id {
            self.managed_type(caller, target_type).await.map_err(|_| {
                ServiceError::invalid(
                    "entity_type_id",
                    crate::error::Reason::NotFound { entity: Entity::EntityType, id: None },
                )
            })?;
        }
        let mut next = entity_definition(input, Some(&entity_of(&current)), entity_of(&current))?;
        next.entity_type_id = target_type;
        next.updated_by = Some(caller.numeric_id());
        let uuid = entity_uuid(id);
        let moved = next.value != current.value || next.entity_type_id != current.entity_type_id;
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            if moved {
                let new_claim = entity_claim_value(next.entity_type_id, &next.value);
                claim(&mut unit, ClaimKind::EntityValue, &new_claim, &uuid, Entity::EntityValue, "value").await?;
                let old_claim = entity_claim_value(current.entity_type_id, &current.value);
                release(&mut unit, ClaimKind::EntityValue, &old_claim, &uuid).await?;
            }
            let update = EntityCommand::Update { entity: next.clone(), at: chrono::Utc::now() };
            unit.decide::<EntityAggregate>(&uuid, update).await.map_err(entity_error)?;
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await?;
        self.stored_entity(id).await
    }

    pub async fn delete_entity(&self, caller: &Caller, id: i64, meta: &Metadata) -> Result<(), ServiceError> {
        let current = self.managed_entity(caller, id).await?;
        let uuid = entity_uuid(id);
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            let value = entity_claim_value(current.entity_type_id, &current.value);
            release(&mut unit, ClaimKind::EntityValue, &value, &uuid).await?;
            let delete = EntityCommand::Delete { by: Some(caller.numeric_id()), at: chrono::Utc::now() };
            unit.decide::<EntityAggregate>(&uuid, delete).await.map_err(entity_error)?;
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await
    }

    /// The active entities `key` names, of types the caller's organisation reads.
    pub async fn read_entities(&self, organization_id: i64, key: &EntityKey) -> Result<Vec<EntityRow>, ServiceError> {
        let found = match key {
            EntityKey::Id(id) => read_models::entity(&self.db, *id).await?.into_iter().collect(),
            EntityKey::Value { entity_type_id, value } => {
                read_models::entities_of(&self.db, &[*entity_type_id], Some(std::slice::from_ref(value)), true).await?
            }
        };
        let mut visible = Vec::new();
        for entity in found.into_iter().filter(|e| e.status == "ACTIVE") {
            if self.readable_type(organization_id, entity.entity_type_id).await?.is_some() {
                visible.push(entity);
            }
        }
        if visible.is_empty() {
            return Err(ServiceError::not_found(Entity::EntityValue));
        }
        Ok(visible)
    }

    /// A page of the entities of a type the caller's organisation reads,
    /// with `search` in their value or label.
    pub async fn list_entities(
        &self,
        organization_id: i64,
        entity_type_id: i64,
        search: Option<&str>,
        page: i64,
        limit: i64,
    ) -> Result<(Vec<EntityRow>, Count), ServiceError> {
        if self.readable_type(organization_id, entity_type_id).await?.is_none() {
            return Err(ServiceError::not_found(Entity::EntityType));
        }
        let window = Window::page(page, limit);
        Ok(read_models::list_entities(&self.reader, Some(entity_type_id), search, window).await?)
    }

    /// Stores a new type (its value claimed in its organisation) and its
    /// first entities (each value claimed in the type) in one commit.
    async fn store_new_type(
        &self,
        definition: EntityTypeDefinition,
        entities: Vec<EntityDefinition>,
        meta: &Metadata,
    ) -> Result<EntityTypeRow, ServiceError> {
        let uuid = entity_type_uuid(definition.numeric_id);
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            let value = type_claim_value(definition.organization_id, &definition.value);
            claim(&mut unit, ClaimKind::EntityTypeValue, &value, &uuid, Entity::EntityType, "value").await?;
            let at = chrono::Utc::now();
            let create = EntityTypeCommand::Create { entity_type: definition.clone(), at };
            unit.decide::<EntityType>(&uuid, create).await.map_err(type_error)?;
            for entity in &entities {
                let entity_id = entity_uuid(entity.numeric_id);
                let value = entity_claim_value(entity.entity_type_id, &entity.value);
                claim(&mut unit, ClaimKind::EntityValue, &value, &entity_id, Entity::EntityValue, "value").await?;
                let create = EntityCommand::Create { entity: entity.clone(), at };
                unit.decide::<EntityAggregate>(&entity_id, create).await.map_err(entity_error)?;
            }
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await?;
        self.stored_type(definition.numeric_id).await
    }

    /// A type the caller may change: of an organisation they administer.
    async fn managed_type(&self, caller: &Caller, id: i64) -> Result<EntityTypeRow, ServiceError> {
        match read_models::entity_type(&self.db, id).await? {
            Some(row) if caller.administers(row.organization_id) => Ok(row),
            _ => Err(ServiceError::not_found(Entity::EntityType)),
        }
    }

    async fn managed_entity(&self, caller: &Caller, id: i64) -> Result<EntityRow, ServiceError> {
        let entity = read_models::entity(&self.db, id).await?.ok_or(ServiceError::not_found(Entity::EntityValue))?;
        self.managed_type(caller, entity.entity_type_id)
            .await
            .map_err(|_| ServiceError::not_found(Entity::EntityValue))?;
        Ok(entity)
    }

    /// A type of the reader's organisation or of the default one.
    async fn readable_type(&self, organization_id: i64, id: i64) -> Result<Option<EntityTypeRow>, ServiceError> {
        Ok(read_models::entity_type(&self.db, id)
            .await?
            .filter(|t| readable_organizations(organization_id).contains(&t.organization_id)))
    }

    async fn stored_type(&self, id: i64) -> Result<EntityTypeRow, ServiceError> {
        read_models::entity_type(&self.db, id).await?.ok_or(ServiceError::not_found(Entity::EntityType))
    }

    async fn stored_entity(&self, id: i64) -> Result<EntityRow, ServiceError> {
        read_models::entity(&self.db, id).await?.ok_or(ServiceError::not_found(Entity::EntityValue))
    }
}
