//! Organisation, role-request and administration use cases, shared by every
//! dialect. Organisation scoping is checked here: an org admin acts only on
//! their own organisation, a system admin on every one; and on a user only if
//! the caller outranks them (`rank`).

mod administration;
mod role_assignment;
mod role_requests;

use aggregates::validation::{self, InvalidInput};
use aggregates::{
    ClaimCommand, ClaimError, ClaimKind, Organization, OrganizationChanges, OrganizationCommand, OrganizationError,
    UniqueClaim, User, UserCommand, UserError,
};

use crate::accounts::Caller;
use crate::auth::sessions;
use crate::bootstrap::organization_uuid;
use crate::commands::{CommandError, Metadata};
use crate::error::{Clash, Entity, Reason, ServiceError};
use crate::read_models::{self};
use crate::services::Services;
use crate::storage::Count;

pub use role_assignment::{RoleAssignment, RoleChanges};
pub use role_requests::{Handler, RequestDetails, RequestQuery};

/// The rows these use cases return, and the key an organisation is read by.
pub use crate::read_models::{OrganizationDetails, OrganizationKey, RoleRequestRow};

/// Users deactivated in one commit with their organisation (see `deactivate_organization`).
pub const USERS_PER_COMMIT: usize = 1_000;

/// Organisation codes are compared without case: stored lower-cased.
pub fn normalize_org_code(raw: &str) -> Result<String, InvalidInput> {
    validation::code("code", &raw.to_lowercase())
}

fn org_error(error: CommandError<OrganizationError>) -> ServiceError {
    match error {
        CommandError::Domain(OrganizationError::NotFound) => ServiceError::not_found(Entity::Organization),
        CommandError::Domain(OrganizationError::AlreadyInactive) => {
            ServiceError::Conflict { what: Clash::OrganizationDeactivated }
        }
        other => other.into(),
    }
}

impl Services {
    pub async fn organization(&self, key: &OrganizationKey) -> Result<OrganizationDetails, ServiceError> {
        read_models::organization_details(&self.db, key)
            .await?
            .ok_or_else(|| ServiceError::not_found(Entity::Organization))
    }

    /// Organisations whose name or code holds `search`, by id.
    pub async fn list_organizations(
        &self,
        search: Option<&str>,
        page: i64,
        limit: i64,
    ) -> Result<(Vec<OrganizationDetails>, Count), ServiceError> {
        Ok(read_models::list_organizations(&self.reader, search, page, limit).await?)
    }

    pub async fn create_organization(
        &self,
        name: &str,
        code: &str,
        description: &str,
        meta: &Metadata,
    ) -> Result<OrganizationDetails, ServiceError> {
        let checked = (
            validation::normalize_name(name),
            normalize_org_code(code),
            validation::free_text("description", description, validation::limits::DESCRIPTION),
        );
        let (name, code, description) = match checked {
            (Ok(name), Ok(code), Ok(description)) => (name, code, description),
            (name, code, description) => {
                let errors = [name.err(), code.err(), description.err()].into_iter().flatten().collect();
                return Err(ServiceError::invalid_input(errors));
            }
        };
        let numeric_id = self.db.next_numeric_id("organization").await?;
        let org_uuid = organization_uuid(numeric_id);
        let at = chrono::Utc::now();
        let claim = self.bus.claim_id(ClaimKind::OrganizationCode, &code);
        let create = OrganizationCommand::Create { numeric_id, name, code, description, at };
        // The code's claim and the organisation are one commit: a refused
        // creation leaves the code free.
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            match unit.decide::<UniqueClaim>(&claim, ClaimCommand::Claim { owner: org_uuid.clone(), at }).await {
                Ok(_) => {}
                Err(CommandError::Domain(ClaimError::Taken)) => {
                    return Err(ServiceError::Duplicate { entity: Entity::Organization, field: "code" })
                }
                Err(other) => return Err(other.into()),
            }
            unit.decide_new::<Organization>(&org_uuid, create.clone()).await.map_err(org_error)?;
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await?;
        self.organization(&OrganizationKey::Id(numeric_id)).await
    }

    /// Org admins may update their own organisation; only system admins may
    /// change `related_orgs`.
    pub async fn update_organization(
        &self,
        caller: &Caller,
        id: i64,
        changes: OrganizationChanges,
        meta: &Metadata,
    ) -> Result<OrganizationDetails, ServiceError> {
        if !caller.administers(id) {
            return Err(ServiceError::Forbidden);
        }
        if changes.related_orgs.is_some() && !caller.is_admin() {
            return Err(ServiceError::invalid("related_orgs", Reason::AdminOnly));
        }
        let changes = validation::organization_changes(changes).map_err(ServiceError::invalid_input)?;
        let org = self.organization(&OrganizationKey::Id(id)).await?;
        for related in changes.related_orgs.iter().flatten() {
            if *related == id {
                return Err(ServiceError::invalid("related_orgs", Reason::SelfReference));
            }
            if read_models::organization_details(&self.db, &OrganizationKey::Id(*related)).await?.is_none() {
                return Err(ServiceError::invalid(
                    "related_orgs",
                    Reason::NotFound { entity: Entity::Organization, id: Some(related.to_string()) },
                ));
            }
        }
        let update = OrganizationCommand::Update { changes, at: chrono::Utc::now() };
        let committed = self.bus.execute::<Organization>(&org.org_uuid, update, meta).await.map_err(|e| match e {
            CommandError::Domain(OrganizationError::NothingToUpdate) => ServiceError::NothingToUpdate,
            other => org_error(other),
        })?;
        self.settle(committed).await?;
        self.organization(&OrganizationKey::Id(id)).await
    }

    /// Deactivates the organisation and every active user in it; returns how
    /// many users. The caller must outrank every one of them.
    ///
    /// Up to `USERS_PER_COMMIT` users are deactivated in the same commit as
    /// the organisation. A larger organisation's users go first, in commits
    /// of that many, and the organisation with the last of them: a failure
    /// midway leaves an active organisation some of whose users are inactive
    /// (what an admin deactivating them one by one would leave), never an
    /// inactive one with active users, and asking again finishes the job.
    /// Why a bound: a unit of work loads each user (one query each) and is
    /// decided again whenever any of them changes meanwhile (a login is a
    /// change), so its cost and its chance of a conflict grow with its size.
    pub async fn deactivate_organization(
        &self,
        caller: &Caller,
        id: i64,
        meta: &Metadata,
    ) -> Result<usize, ServiceError> {
        self.require_outranks_members(caller, id).await?;
        let org = self.organization(&OrganizationKey::Id(id)).await?;
        // Refused before any user is touched.
        let current = self.bus.load::<Organization>(&org.org_uuid).await.map_err(org_error)?;
        if !current.created {
            return Err(org_error(CommandError::Domain(OrganizationError::NotFound)));
        }
        if !current.active {
            return Err(org_error(CommandError::Domain(OrganizationError::AlreadyInactive)));
        }
        let members = read_models::active_users_of_organization(&self.db, id).await?;
        let batches: Vec<&[String]> =
            if members.is_empty() { vec![&[]] } else { members.chunks(USERS_PER_COMMIT).collect() };
        let last = batches.len() - 1;
        let mut deactivated = 0;
        for (n, batch) in batches.into_iter().enumerate() {
            let organization = (n == last).then_some((org.org_uuid.as_str(), id));
            deactivated += self.deactivate_together(batch, organization, meta).await?;
        }
        Ok(deactivated)
    }

    /// Deactivates `users` (those still active, and still in the
    /// organisation if one is given) and the `organization`, if given, in one
    /// commit; revokes their sessions. Returns how many users changed.
    async fn deactivate_together(
        &self,
        users: &[String],
        organization: Option<(&str, i64)>,
        meta: &Metadata,
    ) -> Result<usize, ServiceError> {
        let at = chrono::Utc::now();
        let mut unit = self.bus.unit(meta);
        let (committed, changed) = loop {
            let mut changed = Vec::new();
            for user_uuid in users {
                if let Some((_, organization_id)) = organization {
                    // Moved to another organisation since the list was read.
                    if unit.load::<User>(user_uuid).await?.organization_id != organization_id {
                        continue;
                    }
                }
                match unit.decide::<User>(user_uuid, UserCommand::Deactivate { at }).await {
                    Ok(_) => changed.push(user_uuid.as_str()),
                    Err(CommandError::Domain(UserError::AlreadyInactive)) => {}
                    Err(other) => return Err(other.into()),
                }
            }
            if let Some((org_uuid, _)) = organization {
                unit.decide::<Organization>(org_uuid, OrganizationCommand::Deactivate { at })
                    .await
                    .map_err(org_error)?;
            }
            if let Some(committed) = unit.commit().await? {
                break (committed, changed);
            }
        };
        for user_uuid in &changed {
            sessions::revoke_user(&self.db, user_uuid, "deactivated").await?;
        }
        self.settle(committed).await?;
        Ok(changed.len())
    }
}
