//! Set validation across aggregates: a value that must be unique (an email, a
//! phone, a username, an organisation code) is claimed by an aggregate keyed
//! by that value. The event store's primary key makes two concurrent first
//! claims collide, so exactly one wins. A claim is committed together with
//! the write that needs it (the service's unit of work), so it never
//! outlives a write that failed.

use crate::Aggregate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{domain_event, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    Email,
    Phone,
    Username,
    OrganizationCode,
    /// One open role request per user.
    PendingRoleRequest,
    /// A role title within one organisation ("{organization_id}:{title}").
    RoleTitle,
    ModuleCode,
    PermissionCode,
    /// A form type within one organisation ("{organization_id}:{type}").
    FormType,
    /// An entity type's value within one organisation ("{organization_id}:{value}").
    EntityTypeValue,
    /// An entity's value within its type ("{entity_type_id}:{value}").
    EntityValue,
}

impl ClaimKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimKind::Email => "email",
            ClaimKind::Phone => "phone",
            ClaimKind::Username => "username",
            ClaimKind::OrganizationCode => "organization_code",
            ClaimKind::PendingRoleRequest => "pending_role_request",
            ClaimKind::RoleTitle => "role_title",
            ClaimKind::ModuleCode => "module_code",
            ClaimKind::PermissionCode => "permission_code",
            ClaimKind::FormType => "form_type",
            ClaimKind::EntityTypeValue => "entity_type_value",
            ClaimKind::EntityValue => "entity_value",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClaimCommand {
    /// Claim the value for `owner` (an aggregate id). Claiming again for the same owner is a no-op.
    Claim { owner: String, at: Timestamp },
    /// Give the value up; only its owner may.
    Release { owner: String, at: Timestamp },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ClaimEvent {
    ValueClaimed { owner: String, at: Timestamp },
    ValueReleased { owner: String, at: Timestamp },
}
domain_event!(ClaimEvent, [ValueClaimed, ValueReleased]);

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ClaimError {
    #[error("value already taken")]
    Taken,
    #[error("value is not held by this owner")]
    NotOwner,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct UniqueClaim {
    pub owner: Option<String>,
}

impl Aggregate for UniqueClaim {
    const TYPE: &'static str = "unique_claim";
    type Command = ClaimCommand;
    type Event = ClaimEvent;
    type Error = ClaimError;

    fn decide(&self, command: ClaimCommand) -> Result<Vec<ClaimEvent>, ClaimError> {
        match command {
            ClaimCommand::Claim { owner, at } => match &self.owner {
                Some(current) if *current == owner => Ok(vec![]),
                Some(_) => Err(ClaimError::Taken),
                None => Ok(vec![ClaimEvent::ValueClaimed { owner, at }]),
            },
            ClaimCommand::Release { owner, at } => match &self.owner {
                Some(current) if *current == owner => Ok(vec![ClaimEvent::ValueReleased { owner, at }]),
                None => Ok(vec![]),
                Some(_) => Err(ClaimError::NotOwner),
            },
        }
    }

    fn apply(&mut self, event: ClaimEvent) {
        match event {
            ClaimEvent::ValueClaimed { owner, .. } => self.owner = Some(owner),
            ClaimEvent::ValueReleased { .. } => self.owner = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestFramework;

    fn now() -> Timestamp {
        chrono::Utc::now()
    }

    #[test]
    fn first_claim_wins() {
        let at = now();
        TestFramework::<UniqueClaim>::given_no_previous_events()
            .when(ClaimCommand::Claim { owner: "a".into(), at })
            .then_expect_events(vec![ClaimEvent::ValueClaimed { owner: "a".into(), at }]);
        TestFramework::<UniqueClaim>::given(vec![ClaimEvent::ValueClaimed { owner: "a".into(), at }])
            .when(ClaimCommand::Claim { owner: "b".into(), at })
            .then_expect_error(ClaimError::Taken);
    }

    #[test]
    fn reclaim_by_owner_is_idempotent_and_release_frees() {
        let at = now();
        TestFramework::<UniqueClaim>::given(vec![ClaimEvent::ValueClaimed { owner: "a".into(), at }])
            .when(ClaimCommand::Claim { owner: "a".into(), at })
            .then_expect_events(vec![]);
        TestFramework::<UniqueClaim>::given(vec![ClaimEvent::ValueClaimed { owner: "a".into(), at }])
            .when(ClaimCommand::Release { owner: "b".into(), at })
            .then_expect_error(ClaimError::NotOwner);
        TestFramework::<UniqueClaim>::given(vec![
            ClaimEvent::ValueClaimed { owner: "a".into(), at },
            ClaimEvent::ValueReleased { owner: "a".into(), at },
        ])
        .when(ClaimCommand::Claim { owner: "b".into(), at })
        .then_expect_events(vec![ClaimEvent::ValueClaimed { owner: "b".into(), at }]);
    }
}
