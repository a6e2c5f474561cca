//! Organisations: created with a unique code (claimed separately), updated by
//! system or organisation admins, and deactivated once.

use crate::Aggregate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{domain_event, Timestamp};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrganizationChanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Only a system admin may change these (checked by the caller, who knows the roles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related_orgs: Option<Vec<i64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrganizationCommand {
    Create { numeric_id: i64, name: String, code: String, description: String, at: Timestamp },
    Update { changes: OrganizationChanges, at: Timestamp },
    Deactivate { at: Timestamp },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrganizationEvent {
    OrganizationCreated { numeric_id: i64, name: String, code: String, description: String, at: Timestamp },
    OrganizationUpdated { changes: OrganizationChanges, at: Timestamp },
    OrganizationDeactivated { at: Timestamp },
}
domain_event!(OrganizationEvent, [OrganizationCreated, OrganizationUpdated, OrganizationDeactivated]);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum OrganizationError {
    #[error("organization already exists")]
    AlreadyExists,
    #[error("organization not found")]
    NotFound,
    #[error("organization is already deactivated")]
    AlreadyInactive,
    #[error("organization is not active")]
    NotActive,
    #[error("nothing to update")]
    NothingToUpdate,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub created: bool,
    pub active: bool,
    pub numeric_id: i64,
    pub name: String,
    pub code: String,
    pub description: String,
    pub related_orgs: Vec<i64>,
}

impl Aggregate for Organization {
    const TYPE: &'static str = "organization";
    type Command = OrganizationCommand;
    type Event = OrganizationEvent;
    type Error = OrganizationError;

    fn decide(&self, command: OrganizationCommand) -> Result<Vec<OrganizationEvent>, OrganizationError> {
        let event = match command {
            OrganizationCommand::Create { numeric_id, name, code, description, at } => {
                if self.created {
                    return Err(OrganizationError::AlreadyExists);
                }
                OrganizationEvent::OrganizationCreated { numeric_id, name, code, description, at }
            }
            OrganizationCommand::Update { changes, at } => {
                self.require_active()?;
                if changes == OrganizationChanges::default() {
                    return Err(OrganizationError::NothingToUpdate);
                }
                OrganizationEvent::OrganizationUpdated { changes, at }
            }
            OrganizationCommand::Deactivate { at } => {
                if !self.created {
                    return Err(OrganizationError::NotFound);
                }
                if !self.active {
                    return Err(OrganizationError::AlreadyInactive);
                }
                OrganizationEvent::OrganizationDeactivated { at }
            }
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: OrganizationEvent) {
        match event {
            OrganizationEvent::OrganizationCreated { numeric_id, name, code, description, .. } => {
                *self = Organization {
                    created: true,
                    active: true,
                    numeric_id,
                    name,
                    code,
                    description,
                    related_orgs: vec![],
                };
            }
            OrganizationEvent::OrganizationUpdated { changes, .. } => {
                if let Some(name) = changes.name {
                    self.name = name;
                }
                if let Some(description) = changes.description {
                    self.description = description;
                }
                if let Some(related) = changes.related_orgs {
                    self.related_orgs = related;
                }
            }
            OrganizationEvent::OrganizationDeactivated { .. } => self.active = false,
        }
    }
}

impl Organization {
    fn require_active(&self) -> Result<(), OrganizationError> {
        match (self.created, self.active) {
            (false, _) => Err(OrganizationError::NotFound),
            (true, false) => Err(OrganizationError::NotActive),
            (true, true) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestFramework;

    type Test = TestFramework<Organization>;

    fn created() -> OrganizationEvent {
        OrganizationEvent::OrganizationCreated {
            numeric_id: 1,
            name: "Default".into(),
            code: "default".into(),
            description: "".into(),
            at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn created_once() {
        let at = chrono::DateTime::UNIX_EPOCH;
        let create = || OrganizationCommand::Create {
            numeric_id: 1,
            name: "Default".into(),
            code: "default".into(),
            description: "".into(),
            at,
        };
        Test::given_no_previous_events().when(create()).then_expect_events(vec![created()]);
        Test::given(vec![created()]).when(create()).then_expect_error(OrganizationError::AlreadyExists);
    }

    #[test]
    fn updates_need_an_active_organization_and_a_change() {
        let at = chrono::DateTime::UNIX_EPOCH;
        let changes = OrganizationChanges { name: Some("New".into()), ..Default::default() };
        Test::given(vec![created()])
            .when(OrganizationCommand::Update { changes: changes.clone(), at })
            .then_expect_events(vec![OrganizationEvent::OrganizationUpdated { changes: changes.clone(), at }]);
        Test::given(vec![created()])
            .when(OrganizationCommand::Update { changes: OrganizationChanges::default(), at })
            .then_expect_error(OrganizationError::NothingToUpdate);
        Test::given_no_previous_events()
            .when(OrganizationCommand::Update { changes: changes.clone(), at })
            .then_expect_error(OrganizationError::NotFound);
        Test::given(vec![created(), OrganizationEvent::OrganizationDeactivated { at }])
            .when(OrganizationCommand::Update { changes, at })
            .then_expect_error(OrganizationError::NotActive);
    }

    #[test]
    fn deactivating_twice_is_refused() {
        let at = chrono::DateTime::UNIX_EPOCH;
        Test::given(vec![created()])
            .when(OrganizationCommand::Deactivate { at })
            .then_expect_events(vec![OrganizationEvent::OrganizationDeactivated { at }]);
        Test::given(vec![created(), OrganizationEvent::OrganizationDeactivated { at }])
            .when(OrganizationCommand::Deactivate { at })
            .then_expect_error(OrganizationError::AlreadyInactive);
        Test::given_no_previous_events()
            .when(OrganizationCommand::Deactivate { at })
            .then_expect_error(OrganizationError::NotFound);
    }
}
