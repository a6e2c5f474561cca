//! Entity types: the value catalogues behind profile fields (ELEVATE's
//! `entity-type` API), e.g. `gender` or `languages`, each of one
//! organisation. A type with entities (`has_entities`) lists its allowed
//! values as `entity` aggregates; a profile field named like an active type
//! of the user's organisation (or of the default one) takes only those.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{domain_event, Aggregate, Timestamp};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityTypeDefinition {
    pub numeric_id: i64,
    pub organization_id: i64,
    /// The field name it is a catalogue for, unique in its organisation.
    pub value: String,
    pub label: String,
    /// `ACTIVE` or `INACTIVE`.
    pub status: String,
    /// ELEVATE's `data_type`, e.g. `STRING` or `ARRAY[STRING]`.
    pub data_type: String,
    pub allow_filtering: bool,
    pub has_entities: bool,
    pub allow_custom_entities: bool,
    /// The models whose fields it types (`User`, `Session`, ...).
    pub model_names: Vec<String>,
    /// The default organisation's type it was inherited from.
    pub parent_id: Option<i64>,
    pub created_by: Option<i64>,
    pub updated_by: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EntityTypeCommand {
    Create { entity_type: EntityTypeDefinition, at: Timestamp },
    Update { entity_type: EntityTypeDefinition, at: Timestamp },
    Delete { by: Option<i64>, at: Timestamp },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EntityTypeEvent {
    EntityTypeCreated { entity_type: EntityTypeDefinition, at: Timestamp },
    EntityTypeUpdated { entity_type: EntityTypeDefinition, at: Timestamp },
    EntityTypeDeleted { by: Option<i64>, at: Timestamp },
}
domain_event!(EntityTypeEvent, [EntityTypeCreated, EntityTypeUpdated, EntityTypeDeleted]);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EntityTypeError {
    #[error("entity type already exists")]
    AlreadyExists,
    #[error("entity type not found")]
    NotFound,
    #[error("an entity type keeps its organisation")]
    OrganizationChanged,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntityType {
    pub definition: Option<EntityTypeDefinition>,
    pub deleted: bool,
}

impl Aggregate for EntityType {
    const TYPE: &'static str = "entity_type";
    type Command = EntityTypeCommand;
    type Event = EntityTypeEvent;
    type Error = EntityTypeError;

    fn decide(&self, command: EntityTypeCommand) -> Result<Vec<EntityTypeEvent>, EntityTypeError> {
        let live = self.definition.as_ref().filter(|_| !self.deleted);
        let event = match (command, live) {
            (EntityTypeCommand::Create { .. }, _) if self.definition.is_some() => {
                return Err(EntityTypeError::AlreadyExists)
            }
            (EntityTypeCommand::Create { entity_type, at }, _) => {
                EntityTypeEvent::EntityTypeCreated { entity_type, at }
            }
            (_, None) => return Err(EntityTypeError::NotFound),
            (EntityTypeCommand::Update { entity_type, .. }, Some(current))
                if entity_type.organization_id != current.organization_id =>
            {
                return Err(EntityTypeError::OrganizationChanged)
            }
            (EntityTypeCommand::Update { entity_type, .. }, Some(current)) if &entity_type == current => {
                return Ok(vec![])
            }
            (EntityTypeCommand::Update { entity_type, at }, Some(_)) => {
                EntityTypeEvent::EntityTypeUpdated { entity_type, at }
            }
            (EntityTypeCommand::Delete { by, at }, Some(_)) => EntityTypeEvent::EntityTypeDeleted { by, at },
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: EntityTypeEvent) {
        match event {
            EntityTypeEvent::EntityTypeCreated { entity_type, .. }
            | EntityTypeEvent::EntityTypeUpdated { entity_type, .. } => self.definition = Some(entity_type),
            EntityTypeEvent::EntityTypeDeleted { .. } => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestFramework;

    const AT: Timestamp = chrono::DateTime::UNIX_EPOCH;

    fn gender(organization_id: i64) -> EntityTypeDefinition {
        EntityTypeDefinition {
            numeric_id: 1,
            organization_id,
            value: "gender".into(),
            label: "Gender".into(),
            status: "ACTIVE".into(),
            data_type: "STRING".into(),
            allow_filtering: true,
            has_entities: true,
            allow_custom_entities: false,
            model_names: vec!["User".into()],
            parent_id: None,
            created_by: Some(1),
            updated_by: Some(1),
        }
    }

    #[test]
    fn lifecycle() {
        let created = EntityTypeEvent::EntityTypeCreated { entity_type: gender(1), at: AT };
        let relabelled = EntityTypeDefinition { label: "Sex".into(), ..gender(1) };
        TestFramework::<EntityType>::given(vec![created.clone()])
            .when(EntityTypeCommand::Update { entity_type: relabelled.clone(), at: AT })
            .then_expect_events(vec![EntityTypeEvent::EntityTypeUpdated { entity_type: relabelled, at: AT }]);
        TestFramework::<EntityType>::given(vec![created.clone()])
            .when(EntityTypeCommand::Update { entity_type: gender(1), at: AT })
            .then_expect_events(vec![]);
        TestFramework::<EntityType>::given(vec![created])
            .when(EntityTypeCommand::Delete { by: Some(1), at: AT })
            .then_expect_events(vec![EntityTypeEvent::EntityTypeDeleted { by: Some(1), at: AT }]);
    }

    #[test]
    fn refusals() {
        let created = EntityTypeEvent::EntityTypeCreated { entity_type: gender(1), at: AT };
        let deleted = EntityTypeEvent::EntityTypeDeleted { by: None, at: AT };
        TestFramework::<EntityType>::given(vec![created.clone()])
            .when(EntityTypeCommand::Create { entity_type: gender(1), at: AT })
            .then_expect_error(EntityTypeError::AlreadyExists);
        TestFramework::<EntityType>::given(vec![created.clone()])
            .when(EntityTypeCommand::Update { entity_type: gender(2), at: AT })
            .then_expect_error(EntityTypeError::OrganizationChanged);
        TestFramework::<EntityType>::given(vec![created, deleted])
            .when(EntityTypeCommand::Delete { by: None, at: AT })
            .then_expect_error(EntityTypeError::NotFound);
        TestFramework::<EntityType>::given_no_previous_events()
            .when(EntityTypeCommand::Update { entity_type: gender(1), at: AT })
            .then_expect_error(EntityTypeError::NotFound);
    }
}
