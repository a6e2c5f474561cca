//! "Access to users in the organisation only" (entity v5): a caller acts on
//! an organisation they administer (its org admins; admins: any), and on a
//! user only through the organisation the user belongs to. A user of
//! another organisation is "not found" in this one, so a caller cannot tell
//! which organisation holds a user id.

use crate::accounts::Caller;
use crate::error::{Clash, Entity, ServiceError};
use crate::read_models::{OrganizationDetails, OrganizationKey, UserKey, UserRow};
use crate::services::Services;

impl Services {
    /// What `key` names, if the caller administers that organisation:
    /// `NotFound` when there is none, `Forbidden` when it is not theirs.
    pub async fn organization_managed_by(
        &self,
        caller: &Caller,
        key: &OrganizationKey,
    ) -> Result<OrganizationDetails, ServiceError> {
        let organization = self.organization(key).await?;
        if !caller.administers(organization.id) {
            return Err(ServiceError::Forbidden);
        }
        Ok(organization)
    }

    /// As `organization_managed_by`, and active (users are created in it).
    pub async fn active_organization_managed_by(
        &self,
        caller: &Caller,
        key: &OrganizationKey,
    ) -> Result<OrganizationDetails, ServiceError> {
        let organization = self.organization_managed_by(caller, key).await?;
        if organization.status != "ACTIVE" {
            return Err(ServiceError::Conflict { what: Clash::OrganizationDeactivated });
        }
        Ok(organization)
    }

    /// The user `user` names, if they belong to the organisation `key` names
    /// and the caller administers it (else `Forbidden`); a user of another
    /// organisation is `NotFound`.
    pub async fn member_of(
        &self,
        caller: &Caller,
        key: &OrganizationKey,
        user: &UserKey,
    ) -> Result<(OrganizationDetails, UserRow), ServiceError> {
        let organization = self.organization_managed_by(caller, key).await?;
        let user = self.user(user).await?;
        if user.organization_id != organization.id {
            return Err(ServiceError::not_found(Entity::User));
        }
        Ok((organization, user))
    }
}
