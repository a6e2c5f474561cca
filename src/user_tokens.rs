//! Who an acting user's token names, for the dialects whose clients may
//! bring another identity provider's tokens (Sunbird's
//! `x-authenticated-user-token` and `x-authenticated-for`): a Roster access
//! token with a live session, or, when Keycloak's keys are configured, a
//! Keycloak RS256 token (`crate::auth::keycloak`) naming a Roster user.
//! Either way the user must exist and be active: an unknown or blocked
//! user is `Unauthenticated`, as a revoked session is.

use uuid::Uuid;

use crate::accounts::Caller;
use crate::auth::keycloak::{KeycloakKeys, KeycloakUser};
use crate::error::ServiceError;
use crate::read_models::{self, UserKey};
use crate::services::Services;

/// What a token turned out to be.
enum Verified {
    Roster(Box<Caller>),
    Keycloak(KeycloakUser),
}

impl Services {
    async fn verify_user_token(&self, token: &str) -> Result<Verified, ServiceError> {
        match &self.keycloak {
            Some(keys) if KeycloakKeys::claims_token(token) => {
                keys.verify(token).map(Verified::Keycloak).ok_or(ServiceError::Unauthenticated)
            }
            _ => self.authenticate(token).await.map(|caller| Verified::Roster(Box::new(caller))),
        }
    }

    /// The active Roster user `user_id` names, as a caller without a session.
    async fn external_caller(&self, user_id: &str) -> Result<Caller, ServiceError> {
        let uuid = Uuid::parse_str(user_id).map_err(|_| ServiceError::Unauthenticated)?.to_string();
        let profile =
            read_models::profile(&self.db, &UserKey::Uuid(uuid)).await?.ok_or(ServiceError::Unauthenticated)?;
        if profile.user.status != aggregates::UserStatus::Active.as_str() {
            return Err(ServiceError::Unauthenticated);
        }
        Ok(Caller::without_session(&profile))
    }

    /// The acting user of `token`: a Roster access token, or a Keycloak
    /// token of an active Roster user.
    pub async fn authenticate_user(&self, token: &str) -> Result<Caller, ServiceError> {
        match self.verify_user_token(token).await? {
            Verified::Roster(caller) => Ok(*caller),
            Verified::Keycloak(user) => self.external_caller(&user.user_id).await,
        }
    }

    /// The managed user `token` (Sunbird's `x-authenticated-for`) lets
    /// `manager` act for: the managed user's own Roster access token, or a
    /// Keycloak token whose `sub` is the managed user and whose `parentId`
    /// is the manager. A token that proves neither is `Unauthenticated`;
    /// a valid one for a user `manager` does not manage is `Forbidden`.
    pub async fn authenticate_managed_for(&self, manager: &Caller, token: &str) -> Result<Caller, ServiceError> {
        let managed = match self.verify_user_token(token).await? {
            Verified::Roster(caller) => *caller,
            Verified::Keycloak(user) => {
                if !user.parent_id.as_deref().is_some_and(|parent| parent.eq_ignore_ascii_case(manager.user_uuid())) {
                    return Err(ServiceError::Unauthenticated);
                }
                self.external_caller(&user.user_id).await?
            }
        };
        let row = read_models::user(&self.db, &UserKey::Uuid(managed.user_uuid().to_string()))
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        if row.managed_by.as_deref() != Some(manager.user_uuid()) {
            return Err(ServiceError::Forbidden);
        }
        Ok(managed)
    }
}
