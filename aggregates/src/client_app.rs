//! A client application registered by an admin (entity v5's `X-APP-ID`):
//! a request of that dialect names the app it comes from, and only a
//! registered, active app is let through. The aggregate's id is the app id,
//! so two registrations of one id collide in the event store and one wins.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{domain_event, Aggregate, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientAppCommand {
    /// `registered_by`: the numeric id of the admin who registers it.
    Register { name: String, registered_by: i64, at: Timestamp },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClientAppEvent {
    ClientAppRegistered { name: String, registered_by: i64, at: Timestamp },
}
domain_event!(ClientAppEvent, [ClientAppRegistered]);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ClientAppError {
    #[error("client app already registered")]
    AlreadyRegistered,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientApp {
    /// `None`: no such app (loading an unknown id yields this).
    pub name: Option<String>,
}

impl ClientApp {
    pub fn is_registered(&self) -> bool {
        self.name.is_some()
    }
}

impl Aggregate for ClientApp {
    const TYPE: &'static str = "client_app";
    type Command = ClientAppCommand;
    type Event = ClientAppEvent;
    type Error = ClientAppError;

    fn decide(&self, command: ClientAppCommand) -> Result<Vec<ClientAppEvent>, ClientAppError> {
        match command {
            ClientAppCommand::Register { name, registered_by, at } => match self.name {
                Some(_) => Err(ClientAppError::AlreadyRegistered),
                None => Ok(vec![ClientAppEvent::ClientAppRegistered { name, registered_by, at }]),
            },
        }
    }

    fn apply(&mut self, event: ClientAppEvent) {
        match event {
            ClientAppEvent::ClientAppRegistered { name, .. } => self.name = Some(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestFramework;

    fn at() -> Timestamp {
        chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().into()
    }

    #[test]
    fn an_app_is_registered_once() {
        let register = || ClientAppCommand::Register { name: "CRM".into(), registered_by: 1, at: at() };
        let registered = ClientAppEvent::ClientAppRegistered { name: "CRM".into(), registered_by: 1, at: at() };
        TestFramework::<ClientApp>::given_no_previous_events()
            .when(register())
            .then_expect_events(vec![registered.clone()]);
        TestFramework::<ClientApp>::given(vec![registered])
            .when(register())
            .then_expect_error(ClientAppError::AlreadyRegistered);
    }
}
