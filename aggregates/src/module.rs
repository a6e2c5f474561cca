//! Modules: the groups permissions belong to (ELEVATE's `modules` API).

use crate::Aggregate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{domain_event, Timestamp};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleDefinition {
    pub numeric_id: i64,
    pub code: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ModuleCommand {
    Define { module: ModuleDefinition, at: Timestamp },
    Redefine { module: ModuleDefinition, at: Timestamp },
    Delete { at: Timestamp },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ModuleEvent {
    ModuleDefined { module: ModuleDefinition, at: Timestamp },
    ModuleRedefined { module: ModuleDefinition, at: Timestamp },
    ModuleDeleted { at: Timestamp },
}
domain_event!(ModuleEvent, [ModuleDefined, ModuleRedefined, ModuleDeleted]);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ModuleError {
    #[error("module already exists")]
    AlreadyExists,
    #[error("module not found")]
    NotFound,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Module {
    pub definition: Option<ModuleDefinition>,
    pub deleted: bool,
}

impl Aggregate for Module {
    const TYPE: &'static str = "module";
    type Command = ModuleCommand;
    type Event = ModuleEvent;
    type Error = ModuleError;

    fn decide(&self, command: ModuleCommand) -> Result<Vec<ModuleEvent>, ModuleError> {
        let live = self.definition.is_some() && !self.deleted;
        let event = match command {
            ModuleCommand::Define { module, at } => {
                if self.definition.is_some() {
                    return Err(ModuleError::AlreadyExists);
                }
                ModuleEvent::ModuleDefined { module, at }
            }
            ModuleCommand::Redefine { module, at } if live => ModuleEvent::ModuleRedefined { module, at },
            ModuleCommand::Delete { at } if live => ModuleEvent::ModuleDeleted { at },
            _ => return Err(ModuleError::NotFound),
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: ModuleEvent) {
        match event {
            ModuleEvent::ModuleDefined { module, .. } | ModuleEvent::ModuleRedefined { module, .. } => {
                self.definition = Some(module)
            }
            ModuleEvent::ModuleDeleted { .. } => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestFramework;

    const AT: Timestamp = chrono::DateTime::UNIX_EPOCH;

    fn module() -> ModuleDefinition {
        ModuleDefinition { numeric_id: 1, code: "users".into(), status: "ACTIVE".into() }
    }

    #[test]
    fn lifecycle() {
        let defined = ModuleEvent::ModuleDefined { module: module(), at: AT };
        TestFramework::<Module>::given(vec![defined.clone()])
            .when(ModuleCommand::Define { module: module(), at: AT })
            .then_expect_error(ModuleError::AlreadyExists);
        TestFramework::<Module>::given(vec![defined.clone(), ModuleEvent::ModuleDeleted { at: AT }])
            .when(ModuleCommand::Redefine { module: module(), at: AT })
            .then_expect_error(ModuleError::NotFound);
        TestFramework::<Module>::given_no_previous_events()
            .when(ModuleCommand::Delete { at: AT })
            .then_expect_error(ModuleError::NotFound);
        TestFramework::<Module>::given(vec![defined])
            .when(ModuleCommand::Delete { at: AT })
            .then_expect_events(vec![ModuleEvent::ModuleDeleted { at: AT }]);
    }
}
