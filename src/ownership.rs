//! Who looks after a user (entity v5): the users who own them, and the pool
//! they are in (`alive`, `dead`, `public`). Both are events on the user's
//! aggregate, so parallel changes are serialised by its sequence, and both
//! are projected (`user_owners`, `users.pool`) for reads. Owners are users
//! of the same organisation; the caller must administer it and outrank the
//! user, as for any change to another user.

use aggregates::{User, UserCommand, UserPool};

use crate::accounts::Caller;
use crate::commands::Metadata;
use crate::error::{Entity, Reason, ServiceError};
use crate::read_models::{self, OrganizationKey, UserKey};
use crate::services::Services;

pub use crate::read_models::Ownership;

/// How many owners one user may have.
pub const OWNER_LIMIT: u32 = 100;

/// An owner added or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerChange {
    Add,
    Remove,
}

impl Services {
    /// Adds or removes `owner` of the user `user` of organisation
    /// `organization`; answers the user's UUID and owners after the change.
    pub async fn change_owner(
        &self,
        caller: &Caller,
        organization: &OrganizationKey,
        user: &UserKey,
        owner: &UserKey,
        change: OwnerChange,
        meta: &Metadata,
    ) -> Result<(String, Ownership), ServiceError> {
        let (organization, target) = self.member_of(caller, organization, user).await?;
        self.require_outranks(caller, &target).await?;
        let owner_id = match (self.user(owner).await, change) {
            (Ok(owner), _) if owner.organization_id == organization.id => owner.user_uuid,
            // A removed owner may have left the organisation (or been erased) since.
            (_, OwnerChange::Remove) => match owner {
                UserKey::Uuid(uuid) => uuid.clone(),
                UserKey::Numeric(_) => return Err(owner_not_found()),
            },
            (Ok(_) | Err(ServiceError::NotFound { .. }), OwnerChange::Add) => return Err(owner_not_found()),
            (Err(other), _) => return Err(other),
        };
        let at = chrono::Utc::now();
        let command = match change {
            OwnerChange::Add => UserCommand::AddOwner { owner_id, limit: OWNER_LIMIT, at },
            OwnerChange::Remove => UserCommand::RemoveOwner { owner_id, at },
        };
        let committed = self.bus.execute::<User>(&target.user_uuid, command, meta).await?;
        self.settle(committed).await?;
        let ownership = read_models::ownership(&self.db, &target.user_uuid).await?;
        Ok((target.user_uuid, ownership))
    }

    /// Moves the user to `pool`.
    pub async fn set_pool(
        &self,
        caller: &Caller,
        organization: &OrganizationKey,
        user: &UserKey,
        pool: UserPool,
        meta: &Metadata,
    ) -> Result<String, ServiceError> {
        let (_, target) = self.member_of(caller, organization, user).await?;
        self.require_outranks(caller, &target).await?;
        let command = UserCommand::SetPool { pool, at: chrono::Utc::now() };
        let committed = self.bus.execute::<User>(&target.user_uuid, command, meta).await?;
        self.settle(committed).await?;
        Ok(target.user_uuid)
    }

    /// The owners and pool of a user (as reads show them).
    pub async fn ownership(&self, user_uuid: &str) -> Result<Ownership, ServiceError> {
        Ok(read_models::ownership(&self.db, user_uuid).await?)
    }
}

fn owner_not_found() -> ServiceError {
    ServiceError::invalid("owner_id", Reason::NotFound { entity: Entity::User, id: None })
}
