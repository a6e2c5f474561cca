//! Granting and revoking roles, and moving a user to the organisation a
//! role is granted in.

use aggregates::{User, UserCommand};

use crate::accounts::Caller;
use crate::bootstrap::ORG_ADMIN_ROLE_ID;
use crate::commands::Metadata;
use crate::error::{Entity, Reason, ServiceError};
use crate::read_models::{self, OrganizationKey, UserKey, UserRow};
use crate::services::Services;
use crate::users::{RoleRow, UserRef};

/// A role granted to a user, and the roles they hold now.
#[derive(Debug, Clone)]
pub struct RoleAssignment {
    pub user: UserRow,
    pub organization_id: i64,
    pub roles: Vec<RoleRow>,
}

/// Roles to grant and to revoke by title, in one organisation (`None`: the
/// user's own); `replace` revokes every other role the user holds.
#[derive(Debug, Clone, Default)]
pub struct RoleChanges {
    pub organization_id: Option<i64>,
    pub grant: Vec<String>,
    pub revoke: Vec<String>,
    pub replace: bool,
}

impl Services {
    /// Grants a role to the user `who` names, in `organization_id` (or the
    /// user's own organisation); returns the roles the user holds now.
    pub async fn assign_role(
        &self,
        caller: &Caller,
        who: &UserRef,
        role_id: i64,
        organization_id: Option<i64>,
        meta: &Metadata,
    ) -> Result<RoleAssignment, ServiceError> {
        let user = self.named_user(who).await?;
        let organization_id = organization_id.unwrap_or(user.organization_id);
        self.grant_role(caller, &user, role_id, organization_id, meta).await?;
        let roles = self.roles_of(&user).await?;
        Ok(RoleAssignment { user, organization_id, roles })
    }

    /// The roles a user who leaves `organization_id` gives up: `org_admin`
    /// (power over the organisation left) and the roles that organisation
    /// defined. The default roles other than `org_admin` (user, mentor,
    /// mentee, ...) and system roles travel with the user.
    pub(crate) async fn roles_of_organization(&self, organization_id: i64) -> Result<Vec<i64>, ServiceError> {
        let defined = read_models::roles_of_organization(&self.db, organization_id).await?;
        let default_ids: Vec<i64> = crate::bootstrap::DEFAULT_ROLES.iter().map(|r| r.0).collect();
        let mut dropped: Vec<i64> = defined.into_iter().filter(|id| !default_ids.contains(id)).collect();
        dropped.push(ORG_ADMIN_ROLE_ID);
        Ok(dropped)
    }

    /// Grants a role to a user the caller outranks; the caller must be able to
    /// grant that role in that organisation.
    pub(super) async fn grant_role(
        &self,
        caller: &Caller,
        user: &UserRow,
        role_id: i64,
        organization_id: i64,
        meta: &Metadata,
    ) -> Result<(), ServiceError> {
        let role = read_models::role(&self.db, role_id)
            .await?
            .filter(|r| r.status != "DELETED")
            .ok_or_else(|| ServiceError::invalid("role_id", Reason::NotFound { entity: Entity::Role, id: None }))?;
        if role.status != "ACTIVE" {
            return Err(ServiceError::invalid("role_id", Reason::NotActive { entity: Entity::Role, id: None }));
        }
        self.require_outranks(caller, user).await?;
        self.require_may_grant(caller, role_id, organization_id).await?;
        self.require_active_organization(organization_id).await?;
        // Only a move drops roles (the aggregate decides whether it moves).
        let dropped_on_move = match user.organization_id == organization_id {
            true => Vec::new(),
            false => self.roles_of_organization(user.organization_id).await?,
        };
        let assign = UserCommand::AssignRole { role_id, organization_id, dropped_on_move, at: chrono::Utc::now() };
        let committed = self.bus.execute::<User>(&user.user_uuid, assign, meta).await?;
        self.settle(committed).await?;
        Ok(())
    }

    /// 400 naming `organization_id` unless that organisation exists and is active.
    pub(super) async fn require_active_organization(&self, organization_id: i64) -> Result<(), ServiceError> {
        let org = read_models::organization_details(&self.db, &OrganizationKey::Id(organization_id))
            .await?
            .ok_or_else(|| {
                ServiceError::invalid("organization_id", Reason::NotFound { entity: Entity::Organization, id: None })
            })?;
        if org.status != "ACTIVE" {
            return Err(ServiceError::invalid(
                "organization_id",
                Reason::NotActive { entity: Entity::Organization, id: None },
            ));
        }
        Ok(())
    }

    /// Grants and revokes roles of the user `key` names, by title, in one
    /// commit. `replace`: the user ends up holding exactly the granted roles
    /// (every other one is revoked). Each role must exist and be active, the
    /// organisation too, the caller must outrank the user and may grant (or
    /// take away) each role in that organisation. Returns the roles held now.
    pub async fn change_roles(
        &self,
        caller: &Caller,
        key: &UserKey,
        changes: &RoleChanges,
        meta: &Metadata,
    ) -> Result<RoleAssignment, ServiceError> {
        let user = self.user(key).await?;
        self.require_outranks(caller, &user).await?;
        let organization_id = changes.organization_id.unwrap_or(user.organization_id);
        self.require_active_organization(organization_id).await?;
        let mut grant = Vec::new();
        for title in &changes.grant {
            grant.push(self.changeable_role(caller, title, organization_id).await?);
        }
        let mut revoke = Vec::new();
        for title in &changes.revoke {
            revoke.push(self.changeable_role(caller, title, organization_id).await?);
        }
        if changes.replace {
            for held in self.roles_of(&user).await? {
                if !grant.contains(&held.id) && !revoke.contains(&held.id) {
                    self.require_may_grant(caller, held.id, organization_id).await?;
                    revoke.push(held.id);
                }
            }
        }
        // Only a move drops roles (the aggregate decides whether it moves).
        let dropped_on_move = match user.organization_id == organization_id {
            true => Vec::new(),
            false => self.roles_of_organization(user.organization_id).await?,
        };
        let at = chrono::Utc::now();
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            for role_id in &revoke {
                unit.decide::<User>(&user.user_uuid, UserCommand::RevokeRole { role_id: *role_id, at }).await?;
            }
            for role_id in &grant {
                let dropped_on_move = dropped_on_move.clone();
                let assign = UserCommand::AssignRole { role_id: *role_id, organization_id, dropped_on_move, at };
                unit.decide::<User>(&user.user_uuid, assign).await?;
            }
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await?;
        let roles = self.roles_of(&user).await?;
        Ok(RoleAssignment { user, organization_id, roles })
    }

    /// The id of an active role, by title (compared without case), that the
    /// caller may grant in `organization_id`.
    pub(super) async fn changeable_role(
        &self,
        caller: &Caller,
        title: &str,
        organization_id: i64,
    ) -> Result<i64, ServiceError> {
        let refused = |reason| ServiceError::invalid("roles", reason);
        let role = read_models::role_by_title(&self.db, &title.trim().to_lowercase(), organization_id)
            .await?
            .filter(|r| r.status != "DELETED")
            .ok_or_else(|| refused(Reason::NotFound { entity: Entity::Role, id: Some(title.to_string()) }))?;
        if role.status != "ACTIVE" {
            return Err(refused(Reason::NotActive { entity: Entity::Role, id: Some(title.to_string()) }));
        }
        self.require_may_grant(caller, role.id, organization_id).await?;
        Ok(role.id)
    }

    /// Makes the user `who` names an org admin of `organization_id`.
    pub async fn add_org_admin(
        &self,
        caller: &Caller,
        who: &UserRef,
        organization_id: i64,
        meta: &Metadata,
    ) -> Result<RoleAssignment, ServiceError> {
        self.assign_role(caller, who, ORG_ADMIN_ROLE_ID, Some(organization_id), meta).await
    }
}
