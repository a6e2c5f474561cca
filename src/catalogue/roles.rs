//! Roles: defined per organisation, their titles unique within it.

use aggregates::validation;
use aggregates::{ClaimKind, Role, RoleChanges, RoleCommand, RoleDefinition, RoleError};

use super::{claim, release};
use crate::bootstrap::role_uuid;
use crate::commands::{CommandError, Metadata};
use crate::error::{Clash, Entity, Reason, ServiceError};
use crate::read_models::{self, PermissionRow, RoleDetails, RoleFilter};
use crate::services::Services;
use crate::storage::Count;

fn role_error(error: CommandError<RoleError>) -> ServiceError {
    match error {
        CommandError::Domain(RoleError::NotFound) => ServiceError::not_found(Entity::Role),
        other => other.into(),
    }
}

impl Services {
    pub async fn role_details(&self, id: i64) -> Result<RoleDetails, ServiceError> {
        read_models::role_details(&self.db, id).await?.ok_or_else(|| ServiceError::not_found(Entity::Role))
    }

    /// A role belongs to an organisation that exists and is active.
    async fn require_role_organization(&self, organization_id: i64) -> Result<(), ServiceError> {
        let key = read_models::OrganizationKey::Id(organization_id);
        match read_models::organization_details(&self.db, &key).await? {
            None => Err(ServiceError::invalid(
                "organization_id",
                Reason::NotFound { entity: Entity::Organization, id: Some(organization_id.to_string()) },
            )),
            Some(org) if org.status != "ACTIVE" => Err(ServiceError::invalid(
                "organization_id",
                Reason::NotActive { entity: Entity::Organization, id: Some(organization_id.to_string()) },
            )),
            Some(_) => Ok(()),
        }
    }

    pub async fn create_role(&self, role: RoleDefinition, meta: &Metadata) -> Result<RoleDetails, ServiceError> {
        let mut role = validation::role_definition(role).map_err(ServiceError::invalid_input)?;
        self.require_role_organization(role.organization_id).await?;
        role.numeric_id = self.db.next_numeric_id("role").await?;
        let uuid = role_uuid(role.numeric_id);
        let title_key = format!("{}:{}", role.organization_id, role.title);
        let id = role.numeric_id;
        let create = RoleCommand::Create { role, permission_ids: vec![], at: chrono::Utc::now() };
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            claim(&mut unit, ClaimKind::RoleTitle, &title_key, &uuid, Entity::Role, "title").await?;
            unit.decide_new::<Role>(&uuid, create.clone()).await.map_err(role_error)?;
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await?;
        self.role_details(id).await
    }

    pub async fn update_role(
        &self,
        id: i64,
        changes: RoleChanges,
        meta: &Metadata,
    ) -> Result<RoleDetails, ServiceError> {
        let current = self.role_details(id).await?;
        let mut changes = validation::role_changes(changes).map_err(ServiceError::invalid_input)?;
        let uuid = role_uuid(id);
        let new_title = changes.title.take().filter(|t| *t != current.title);
        changes.title = new_title.clone();
        let update = RoleCommand::Update { changes, at: chrono::Utc::now() };
        // A new title is claimed, and the old one given back, with the update.
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            if let Some(title) = &new_title {
                let title_key = format!("{}:{title}", current.organization_id);
                claim(&mut unit, ClaimKind::RoleTitle, &title_key, &uuid, Entity::Role, "title").await?;
            }
            unit.decide::<Role>(&uuid, update.clone()).await.map_err(|e| match e {
                CommandError::Domain(RoleError::NothingToUpdate) => ServiceError::NothingToUpdate,
                other => role_error(other),
            })?;
            if new_title.is_some() {
                let old_key = format!("{}:{}", current.organization_id, current.title);
                release(&mut unit, ClaimKind::RoleTitle, &old_key, &uuid).await?;
            }
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await?;
        self.role_details(id).await
    }

    pub async fn delete_role(&self, id: i64, meta: &Metadata) -> Result<(), ServiceError> {
        let current = self.role_details(id).await?;
        if id <= crate::bootstrap::DEFAULT_ROLES.len() as i64 {
            return Err(ServiceError::Conflict { what: Clash::DefaultRole });
        }
        let uuid = role_uuid(id);
        let title_key = format!("{}:{}", current.organization_id, current.title);
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            unit.decide::<Role>(&uuid, RoleCommand::Delete { at: chrono::Utc::now() }).await.map_err(role_error)?;
            release(&mut unit, ClaimKind::RoleTitle, &title_key, &uuid).await?;
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await?;
        Ok(())
    }

    pub async fn list_roles(&self, filter: &RoleFilter) -> Result<(Vec<RoleDetails>, Count), ServiceError> {
        Ok(read_models::list_roles(&self.reader, filter).await?)
    }

    pub async fn set_role_permission(
        &self,
        role_id: i64,
        permission_id: i64,
        grant: bool,
        meta: &Metadata,
    ) -> Result<PermissionRow, ServiceError> {
        self.role_details(role_id).await?;
        let permission = self.permission(permission_id).await?;
        let at = chrono::Utc::now();
        let command = if grant {
            RoleCommand::GrantPermission { permission_id, at }
        } else {
            RoleCommand::RevokePermission { permission_id, at }
        };
        let committed = self.bus.execute::<Role>(&role_uuid(role_id), command, meta).await.map_err(|e| match e {
            CommandError::Domain(RoleError::AlreadyGranted) => {
                ServiceError::Conflict { what: Clash::PermissionGranted }
            }
            CommandError::Domain(RoleError::NotGranted) => ServiceError::Conflict { what: Clash::PermissionNotGranted },
            other => role_error(other),
        })?;
        self.settle(committed).await?;
        Ok(permission)
    }
}
