//! Roles. This slice creates the default roles at bootstrap; role management
//! (update, delete, permissions) arrives with the organisations issue.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RoleCommand {
    Create { role: RoleDefinition, at: Timestamp },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RoleEvent {
    RoleCreated { role: RoleDefinition, at: Timestamp },
}
domain_event!(RoleEvent, "1", [RoleCreated]);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RoleError {
    #[error("role already exists")]
    AlreadyExists,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub definition: Option<RoleDefinition>,
}

impl Aggregate for Role {
    const TYPE: &'static str = "role";
    type Command = RoleCommand;
    type Event = RoleEvent;
    type Error = RoleError;
    type Services = ();

    async fn handle(&mut self, command: RoleCommand, _: &(), sink: &EventSink<Self>) -> Result<(), RoleError> {
        match command {
            RoleCommand::Create { role, at } => {
                if self.definition.is_some() {
                    return Err(RoleError::AlreadyExists);
                }
                sink.write(RoleEvent::RoleCreated { role, at }, self).await;
                Ok(())
            }
        }
    }

    fn apply(&mut self, event: RoleEvent) {
        match event {
            RoleEvent::RoleCreated { role, .. } => self.definition = Some(role),
        }
    }
}
