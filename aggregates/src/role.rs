//! Roles and the permissions granted to them (ELEVATE's role-permission
//! mapping lives on the role, so grants are serialised per role).

use crate::Aggregate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{domain_event, Timestamp};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleDefinition {
    pub numeric_id: i64,
    pub title: String,
    pub label: String,
    pub user_type: i32,
    pub status: String,
    pub visibility: String,
    pub organization_id: i64,
    #[serde(default)]
    pub translations: serde_json::Value,
    #[serde(default)]
    pub meta: serde_json::Value,
}

/// Fields a role update may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoleChanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translations: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RoleCommand {
    /// Creates the role with its initial grants in one step, so a crash
    /// cannot leave a role without them.
    Create {
        role: RoleDefinition,
        permission_ids: Vec<i64>,
        at: Timestamp,
    },
    GrantPermission {
        permission_id: i64,
        at: Timestamp,
    },
    RevokePermission {
        permission_id: i64,
        at: Timestamp,
    },
    Update {
        changes: RoleChanges,
        at: Timestamp,
    },
    Delete {
        at: Timestamp,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RoleEvent {
    RoleCreated { role: RoleDefinition, at: Timestamp },
    PermissionGranted { permission_id: i64, at: Timestamp },
    PermissionRevoked { permission_id: i64, at: Timestamp },
    RoleUpdated { changes: RoleChanges, at: Timestamp },
    RoleDeleted { at: Timestamp },
}
domain_event!(RoleEvent, [RoleCreated, PermissionGranted, PermissionRevoked, RoleUpdated, RoleDeleted]);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RoleError {
    #[error("role already exists")]
    AlreadyExists,
    #[error("role not found")]
    NotFound,
    #[error("permission already granted to this role")]
    AlreadyGranted,
    #[error("permission is not granted to this role")]
    NotGranted,
    #[error("nothing to update")]
    NothingToUpdate,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub definition: Option<RoleDefinition>,
    pub permission_ids: Vec<i64>,
    pub deleted: bool,
}

impl Role {
    fn require_live(&self) -> Result<&RoleDefinition, RoleError> {
        match &self.definition {
            Some(definition) if !self.deleted => Ok(definition),
            _ => Err(RoleError::NotFound),
        }
    }
}

impl Aggregate for Role {
    const TYPE: &'static str = "role";
    type Command = RoleCommand;
    type Event = RoleEvent;
    type Error = RoleError;

    fn decide(&self, command: RoleCommand) -> Result<Vec<RoleEvent>, RoleError> {
        let event = match command {
            RoleCommand::Create { role, permission_ids, at } => {
                if self.definition.is_some() {
                    return Err(RoleError::AlreadyExists);
                }
                let mut events = vec![RoleEvent::RoleCreated { role, at }];
                let mut granted: Vec<i64> = Vec::new();
                for permission_id in permission_ids {
                    if !self.permission_ids.contains(&permission_id) && !granted.contains(&permission_id) {
                        granted.push(permission_id);
                        events.push(RoleEvent::PermissionGranted { permission_id, at });
                    }
                }
                return Ok(events);
            }
            RoleCommand::GrantPermission { permission_id, at } => {
                self.require_live()?;
                if self.permission_ids.contains(&permission_id) {
                    return Err(RoleError::AlreadyGranted);
                }
                RoleEvent::PermissionGranted { permission_id, at }
            }
            RoleCommand::RevokePermission { permission_id, at } => {
                self.require_live()?;
                if !self.permission_ids.contains(&permission_id) {
                    return Err(RoleError::NotGranted);
                }
                RoleEvent::PermissionRevoked { permission_id, at }
            }
            RoleCommand::Update { changes, at } => {
                self.require_live()?;
                if changes == RoleChanges::default() {
                    return Err(RoleError::NothingToUpdate);
                }
                RoleEvent::RoleUpdated { changes, at }
            }
            RoleCommand::Delete { at } => {
                self.require_live()?;
                RoleEvent::RoleDeleted { at }
            }
        };
        Ok(vec![event])
    }

    fn apply(&mut self, event: RoleEvent) {
        match event {
            RoleEvent::RoleCreated { role, .. } => self.definition = Some(role),
            RoleEvent::PermissionGranted { permission_id, .. } => self.permission_ids.push(permission_id),
            RoleEvent::PermissionRevoked { permission_id, .. } => self.permission_ids.retain(|p| *p != permission_id),
            RoleEvent::RoleUpdated { changes, .. } => {
                if let Some(definition) = &mut self.definition {
                    let c = changes;
                    definition.title = c.title.unwrap_or(std::mem::take(&mut definition.title));
                    definition.label = c.label.unwrap_or(std::mem::take(&mut definition.label));
                    definition.user_type = c.user_type.unwrap_or(definition.user_type);
                    definition.status = c.status.unwrap_or(std::mem::take(&mut definition.status));
                    definition.visibility = c.visibility.unwrap_or(std::mem::take(&mut definition.visibility));
                    definition.translations = c.translations.unwrap_or(definition.translations.take());
                    definition.meta = c.meta.unwrap_or(definition.meta.take());
                }
            }
            RoleEvent::RoleDeleted { .. } => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestFramework;

    const AT: Timestamp = chrono::DateTime::UNIX_EPOCH;

    fn created() -> RoleEvent {
        RoleEvent::RoleCreated {
            role: RoleDefinition {
                numeric_id: 2,
                title: "mentor".into(),
                label: "Mentor".into(),
                user_type: 0,
                status: "ACTIVE".into(),
                visibility: "PUBLIC".into(),
                organization_id: 1,
                translations: serde_json::Value::Null,
                meta: serde_json::Value::Null,
            },
            at: AT,
        }
    }

    #[test]
    fn grants_and_revocations_are_checked() {
        TestFramework::<Role>::given(vec![created()])
            .when(RoleCommand::GrantPermission { permission_id: 5, at: AT })
            .then_expect_events(vec![RoleEvent::PermissionGranted { permission_id: 5, at: AT }]);
        TestFramework::<Role>::given(vec![created(), RoleEvent::PermissionGranted { permission_id: 5, at: AT }])
            .when(RoleCommand::GrantPermission { permission_id: 5, at: AT })
            .then_expect_error(RoleError::AlreadyGranted);
        TestFramework::<Role>::given(vec![created()])
            .when(RoleCommand::RevokePermission { permission_id: 5, at: AT })
            .then_expect_error(RoleError::NotGranted);
        TestFramework::<Role>::given_no_previous_events()
            .when(RoleCommand::GrantPermission { permission_id: 5, at: AT })
            .then_expect_error(RoleError::NotFound);
    }

    #[test]
    fn updates_and_deletion() {
        let changes = RoleChanges { label: Some("Guide".into()), ..Default::default() };
        TestFramework::<Role>::given(vec![created()])
            .when(RoleCommand::Update { changes: changes.clone(), at: AT })
            .then_expect_events(vec![RoleEvent::RoleUpdated { changes: changes.clone(), at: AT }]);
        TestFramework::<Role>::given(vec![created()])
            .when(RoleCommand::Update { changes: RoleChanges::default(), at: AT })
            .then_expect_error(RoleError::NothingToUpdate);
        TestFramework::<Role>::given(vec![created(), RoleEvent::RoleDeleted { at: AT }])
            .when(RoleCommand::Update { changes, at: AT })
            .then_expect_error(RoleError::NotFound);
        TestFramework::<Role>::given(vec![created(), RoleEvent::RoleDeleted { at: AT }])
            .when(RoleCommand::Delete { at: AT })
            .then_expect_error(RoleError::NotFound);
    }
}
