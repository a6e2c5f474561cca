//! An API key an admin issues to a client application (Sunbird's gateway
//! key in `Authorization: Bearer`). The key itself is shown once, when it is
//! issued; the log keeps only the SHA-256 of its secret (`secret_hash`, a
//! credential field that exports, the audit API and Kafka leave out). A
//! revoked key stays revoked: revoking it again changes nothing, so parallel
//! revokes all succeed with one event between them.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{domain_event, Aggregate, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyDefinition {
    /// What the key is for ("the portal"), as the admin named it.
    pub name: String,
    /// Hex SHA-256 of the key's secret part.
    pub secret_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApiKeyCommand {
    Issue { key: ApiKeyDefinition, at: Timestamp },
    Revoke { at: Timestamp },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ApiKeyEvent {
    ApiKeyIssued { key: ApiKeyDefinition, at: Timestamp },
    ApiKeyRevoked { at: Timestamp },
}
domain_event!(ApiKeyEvent, [ApiKeyIssued, ApiKeyRevoked]);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ApiKeyError {
    #[error("API key already issued")]
    AlreadyIssued,
    #[error("API key not found")]
    NotFound,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub definition: Option<ApiKeyDefinition>,
    pub revoked_at: Option<Timestamp>,
}

impl ApiKey {
    /// Issued and not revoked.
    pub fn is_active(&self) -> bool {
        self.definition.is_some() && self.revoked_at.is_none()
    }
}

impl Aggregate for ApiKey {
    const TYPE: &'static str = "api_key";
    type Command = ApiKeyCommand;
    type Event = ApiKeyEvent;
    type Error = ApiKeyError;

    fn decide(&self, command: ApiKeyCommand) -> Result<Vec<ApiKeyEvent>, ApiKeyError> {
        match command {
            ApiKeyCommand::Issue { key, at } => match self.definition {
                Some(_) => Err(ApiKeyError::AlreadyIssued),
                None => Ok(vec![ApiKeyEvent::ApiKeyIssued { key, at }]),
            },
            ApiKeyCommand::Revoke { at } => match (&self.definition, self.revoked_at) {
                (None, _) => Err(ApiKeyError::NotFound),
                (Some(_), Some(_)) => Ok(vec![]),
                (Some(_), None) => Ok(vec![ApiKeyEvent::ApiKeyRevoked { at }]),
            },
        }
    }

    fn apply(&mut self, event: ApiKeyEvent) {
        match event {
            ApiKeyEvent::ApiKeyIssued { key, .. } => self.definition = Some(key),
            ApiKeyEvent::ApiKeyRevoked { at } => self.revoked_at = Some(at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestFramework;

    fn key() -> ApiKeyDefinition {
        ApiKeyDefinition { name: "portal".into(), secret_hash: "ab".repeat(32) }
    }

    #[test]
    fn issued_once_revoked_once() {
        let at = chrono::Utc::now();
        TestFramework::<ApiKey>::given_no_previous_events()
            .when(ApiKeyCommand::Issue { key: key(), at })
            .then_expect_events(vec![ApiKeyEvent::ApiKeyIssued { key: key(), at }]);
        TestFramework::<ApiKey>::given(vec![ApiKeyEvent::ApiKeyIssued { key: key(), at }])
            .when(ApiKeyCommand::Issue { key: key(), at })
            .then_expect_error(ApiKeyError::AlreadyIssued);
        TestFramework::<ApiKey>::given(vec![ApiKeyEvent::ApiKeyIssued { key: key(), at }])
            .when(ApiKeyCommand::Revoke { at })
            .then_expect_events(vec![ApiKeyEvent::ApiKeyRevoked { at }]);
        TestFramework::<ApiKey>::given(vec![
            ApiKeyEvent::ApiKeyIssued { key: key(), at },
            ApiKeyEvent::ApiKeyRevoked { at },
        ])
        .when(ApiKeyCommand::Revoke { at })
        .then_expect_events(vec![]);
        TestFramework::<ApiKey>::given_no_previous_events()
            .when(ApiKeyCommand::Revoke { at })
            .then_expect_error(ApiKeyError::NotFound);
    }

    #[test]
    fn only_an_issued_unrevoked_key_is_active() {
        let mut state = ApiKey::default();
        assert!(!state.is_active());
        state.apply(ApiKeyEvent::ApiKeyIssued { key: key(), at: chrono::Utc::now() });
        assert!(state.is_active());
        state.apply(ApiKeyEvent::ApiKeyRevoked { at: chrono::Utc::now() });
        assert!(!state.is_active());
    }
}
