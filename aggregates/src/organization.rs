//! Organisations. This slice creates them (the default one at bootstrap);
//! updates and deactivation arrive with the organisations issue.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{domain_event, Timestamp};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrganizationCommand {
    Create { numeric_id: i64, name: String, code: String, description: String, at: Timestamp },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OrganizationEvent {
    OrganizationCreated { numeric_id: i64, name: String, code: String, description: String, at: Timestamp },
}
domain_event!(OrganizationEvent, "1", [OrganizationCreated]);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum OrganizationError {
    #[error("organization already exists")]
    AlreadyExists,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub created: bool,
    pub numeric_id: i64,
    pub name: String,
    pub code: String,
}

impl Aggregate for Organization {
    const TYPE: &'static str = "organization";
    type Command = OrganizationCommand;
    type Event = OrganizationEvent;
    type Error = OrganizationError;
    type Services = ();

    async fn handle(
        &mut self,
        command: OrganizationCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), OrganizationError> {
        match command {
            OrganizationCommand::Create { numeric_id, name, code, description, at } => {
                if self.created {
                    return Err(OrganizationError::AlreadyExists);
                }
                let event = OrganizationEvent::OrganizationCreated { numeric_id, name, code, description, at };
                sink.write(event, self).await;
                Ok(())
            }
        }
    }

    fn apply(&mut self, event: OrganizationEvent) {
        match event {
            OrganizationEvent::OrganizationCreated { numeric_id, name, code, .. } => {
                *self = Organization { created: true, numeric_id, name, code };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    #[tokio::test]
    async fn created_once() {
        let at = chrono::Utc::now();
        let create = || OrganizationCommand::Create {
            numeric_id: 1,
            name: "Default".into(),
            code: "default".into(),
            description: "".into(),
            at,
        };
        let created = OrganizationEvent::OrganizationCreated {
            numeric_id: 1,
            name: "Default".into(),
            code: "default".into(),
            description: "".into(),
            at,
        };
        TestFramework::<Organization>::with(())
            .given_no_previous_events()
            .when_async(create())
            .await
            .then_expect_events(vec![created.clone()]);
        TestFramework::<Organization>::with(())
            .given(vec![created])
            .when_async(create())
            .await
            .then_expect_error(OrganizationError::AlreadyExists);
    }
}
