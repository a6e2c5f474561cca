//! Permissions (module, API path, request type) and which roles hold them.

use aggregates::validation;
use aggregates::{ClaimKind, Permission, PermissionCommand, PermissionDefinition, PermissionError};

use super::{claim, release};
use crate::bootstrap::permission_uuid;
use crate::commands::{CommandError, Metadata};
use crate::error::{Entity, ServiceError};
use crate::read_models::{self, PermissionRow};
use crate::services::Services;
use crate::storage::query::Window;
use crate::storage::Count;

impl Services {
    pub async fn permission(&self, id: i64) -> Result<PermissionRow, ServiceError> {
        read_models::permission(&self.db, id).await?.ok_or_else(|| ServiceError::not_found(Entity::Permission))
    }

    pub async fn save_permission(
        &self,
        id: Option<i64>,
        permission: PermissionDefinition,
        meta: &Metadata,
    ) -> Result<PermissionRow, ServiceError> {
        let mut permission = validation::permission_definition(permission).map_err(ServiceError::invalid_input)?;
        let current = match id {
            Some(id) => Some(self.permission(id).await?),
            None => None,
        };
        // A permission may keep the module it has, even one defined before modules were checked.
        if current.as_ref().is_none_or(|p| p.module != permission.module) {
            self.require_module(&permission.module).await?;
        }
        permission.numeric_id = match &current {
            Some(p) => p.id,
            None => self.db.next_numeric_id("permission").await?,
        };
        let uuid = permission_uuid(permission.numeric_id);
        let code_changed = current.as_ref().is_none_or(|p| p.code != permission.code);
        let (numeric_id, code) = (permission.numeric_id, permission.code.clone());
        let at = chrono::Utc::now();
        let command = if current.is_some() {
            PermissionCommand::Redefine { permission, at }
        } else {
            PermissionCommand::Define { permission, at }
        };
        // A new code is claimed, and the old one given back, with the definition.
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            if code_changed {
                claim(&mut unit, ClaimKind::PermissionCode, &code, &uuid, Entity::Permission, "code").await?;
            }
            unit.decide::<Permission>(&uuid, command.clone()).await.map_err(|e| match e {
                CommandError::Domain(PermissionError::NotFound) => ServiceError::not_found(Entity::Permission),
                other => other.into(),
            })?;
            if let (Some(old), true) = (&current, code_changed) {
                release(&mut unit, ClaimKind::PermissionCode, &old.code, &uuid).await?;
            }
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await?;
        self.permission(numeric_id).await
    }

    pub async fn delete_permission(&self, id: i64, meta: &Metadata) -> Result<(), ServiceError> {
        let current = self.permission(id).await?;
        let uuid = permission_uuid(id);
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            unit.decide::<Permission>(&uuid, PermissionCommand::Delete { at: chrono::Utc::now() }).await?;
            release(&mut unit, ClaimKind::PermissionCode, &current.code, &uuid).await?;
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await?;
        Ok(())
    }

    pub async fn list_permissions(
        &self,
        search: Option<&str>,
        page: i64,
        limit: i64,
    ) -> Result<(Vec<PermissionRow>, Count), ServiceError> {
        Ok(read_models::list_permissions(&self.reader, search, Window::page(page, limit)).await?)
    }

    /// (role id, permission) pairs, optionally for some roles only.
    pub async fn role_permissions(&self, role_ids: &[i64]) -> Result<Vec<(i64, PermissionRow)>, ServiceError> {
        Ok(read_models::role_permissions(&self.db, role_ids).await?)
    }
}
