//! Entities: the allowed values of an entity type (ELEVATE's `entity` API),
//! e.g. `{value: "ml", label: "Malayalam"}` of `languages`.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{domain_event, Aggregate, Timestamp};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityDefinition {
    pub numeric_id: i64,
    pub entity_type_id: i64,
    /// Unique within its type.
    pub value: String,
    pub label: String,
    /// `ACTIVE` or `INACTIVE`.
    pub status: String,
    /// ELEVATE's `type` (`SYSTEM`, `USER`, ...), kept as sent.
    pub kind: String,
    pub created_by: Option<i64>,
    pub updated_by: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EntityCommand {
    Create { entity: EntityDefinition, at: Timestamp },
    Update { entity: EntityDefinition, at: Timestamp },
    Delete { by: Option<i64>, at: Timestamp },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EntityEvent {
    EntityCreated { entity: EntityDefinition, at: Timestamp },
    EntityUpdated { entity: EntityDefinition, at: Timestamp },
    EntityDeleted { by: Option<i64>, at: Timestamp },
}
domain_event!(EntityEvent, [EntityCreated, EntityUpdated, EntityDeleted]);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EntityError {
    #[error("entity already exists")]
    AlreadyExists,
    #[error("entity not found")]
    NotFound,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub definition: Option<EntityDefinition>,
    pub deleted: bool,
}

impl Aggregate for Entity {
    const TYPE: &'static str = "entity";
    type Command = EntityCommand;
    type Event = EntityEvent;
    type Error = EntityError;

    fn decide(&self, command: EntityCommand) -> Result<Vec<EntityEvent>, EntityError> {
        let live = self.definition.as_ref().filter(|_| !self.deleted);
        let event = match (command, live) {
            (EntityCommand::Create { .. }, _) if self.definition.is_some() => return Err(EntityError::AlreadyExists),
            (EntityCommand::Create { entity, at }, _) => EntityEvent::EntityCreated { entity, at },
            (_, None) => return Err(EntityError::NotFound),
            (EntityCommand::Update { entity, .. }, Some(current)) if &entity == current => return Ok(vec![]),
            (EntityCommand::Update { entity, at }, Some(_)) => EntityEvent::EntityUpdated { entity, at },
            (EntityCommand::Delete { by, at }, Some(_)) => EntityEvent::EntityDeleted { by, at },
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: EntityEvent) {
        match event {
            EntityEvent::EntityCreated { entity, .. } | EntityEvent::EntityUpdated { entity, .. } => {
                self.definition = Some(entity)
            }
            EntityEvent::EntityDeleted { .. } => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestFramework;

    const AT: Timestamp = chrono::DateTime::UNIX_EPOCH;

    fn malayalam() -> EntityDefinition {
        EntityDefinition {
            numeric_id: 13,
            entity_type_id: 4,
            value: "ml".into(),
            label: "Malayalam".into(),
            status: "ACTIVE".into(),
            kind: "SYSTEM".into(),
            created_by: Some(1),
            updated_by: Some(1),
        }
    }

    #[test]
    fn lifecycle_and_refusals() {
        let created = EntityEvent::EntityCreated { entity: malayalam(), at: AT };
        TestFramework::<Entity>::given(vec![created.clone()])
            .when(EntityCommand::Create { entity: malayalam(), at: AT })
            .then_expect_error(EntityError::AlreadyExists);
        let renamed = EntityDefinition { label: "മലയാളം".into(), ..malayalam() };
        TestFramework::<Entity>::given(vec![created.clone()])
            .when(EntityCommand::Update { entity: renamed.clone(), at: AT })
            .then_expect_events(vec![EntityEvent::EntityUpdated { entity: renamed, at: AT }]);
        let deleted = EntityEvent::EntityDeleted { by: None, at: AT };
        TestFramework::<Entity>::given(vec![created, deleted])
            .when(EntityCommand::Update { entity: malayalam(), at: AT })
            .then_expect_error(EntityError::NotFound);
    }
}
