//! Modules: the groups permissions name by code.

use aggregates::validation::{self, STATUSES};
use aggregates::{ClaimKind, Module, ModuleCommand, ModuleDefinition, ModuleError};
use uuid::Uuid;

use super::{claim, release};
use crate::commands::{CommandError, Metadata};
use crate::error::{Change, Entity, Reason, ServiceError};
use crate::read_models::{self, ModuleRow};
use crate::services::Services;
use crate::storage::query::Window;
use crate::storage::Count;

fn module_uuid(numeric_id: i64) -> String {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("roster:module:{numeric_id}").as_bytes()).to_string()
}

impl Services {
    pub async fn module(&self, id: i64) -> Result<ModuleRow, ServiceError> {
        read_models::module(&self.db, id).await?.ok_or_else(|| ServiceError::not_found(Entity::Module))
    }

    pub async fn save_module(
        &self,
        id: Option<i64>,
        code: &str,
        status: Option<String>,
        meta: &Metadata,
    ) -> Result<ModuleRow, ServiceError> {
        let checked = (
            validation::code("code", &code.to_lowercase()),
            status.as_deref().map(|s| validation::one_of("status", s, STATUSES)).transpose(),
        );
        let (code, status) = match checked {
            (Ok(code), Ok(status)) => (code, status.map(str::to_string)),
            (code, status) => {
                return Err(ServiceError::invalid_input([code.err(), status.err()].into_iter().flatten().collect()))
            }
        };
        let current = match id {
            Some(id) => Some(self.module(id).await?),
            None => None,
        };
        if let Some(old) = current.as_ref().filter(|m| m.code != code) {
            self.refuse_if_module_used(&old.code, Change::Renamed).await?;
        }
        let numeric_id = match &current {
            Some(m) => m.id,
            None => self.db.next_numeric_id("module").await?,
        };
        let uuid = module_uuid(numeric_id);
        let code_changed = current.as_ref().is_none_or(|m| m.code != code);
        let status = status.or_else(|| current.as_ref().map(|m| m.status.clone())).unwrap_or_else(|| "ACTIVE".into());
        let module = ModuleDefinition { numeric_id, code: code.clone(), status };
        let at = chrono::Utc::now();
        let command = if current.is_some() {
            ModuleCommand::Redefine { module, at }
        } else {
            ModuleCommand::Define { module, at }
        };
        // A new code is claimed, and the old one given back, with the definition.
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            if code_changed {
                claim(&mut unit, ClaimKind::ModuleCode, &code, &uuid, Entity::Module, "code").await?;
            }
            unit.decide::<Module>(&uuid, command.clone()).await.map_err(|e| match e {
                CommandError::Domain(ModuleError::NotFound) => ServiceError::not_found(Entity::Module),
                other => other.into(),
            })?;
            if let (Some(old), true) = (&current, code_changed) {
                release(&mut unit, ClaimKind::ModuleCode, &old.code, &uuid).await?;
            }
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await?;
        self.module(numeric_id).await
    }

    /// Permissions name their module by code: a module they use keeps its code.
    async fn refuse_if_module_used(&self, code: &str, change: Change) -> Result<(), ServiceError> {
        let used = read_models::permissions_of_module(&self.db, code).await?;
        if used > 0 {
            return Err(ServiceError::invalid("code", Reason::InUse { value: code.to_string(), count: used, change }));
        }
        Ok(())
    }

    /// A permission's module is a module defined through the API or one the
    /// default permissions use.
    pub(super) async fn require_module(&self, code: &str) -> Result<(), ServiceError> {
        if crate::authorization::DEFAULT_PERMISSIONS.iter().any(|p| p.2 == code) {
            return Ok(());
        }
        let defined = read_models::modules_with_code(&self.db, code).await?;
        if defined == 0 {
            return Err(ServiceError::invalid(
                "module",
                Reason::NotFound { entity: Entity::Module, id: Some(code.to_string()) },
            ));
        }
        Ok(())
    }

    pub async fn delete_module(&self, id: i64, meta: &Metadata) -> Result<(), ServiceError> {
        let current = self.module(id).await?;
        self.refuse_if_module_used(&current.code, Change::Deleted).await?;
        let uuid = module_uuid(id);
        let mut unit = self.bus.unit(meta);
        let committed = loop {
            unit.decide::<Module>(&uuid, ModuleCommand::Delete { at: chrono::Utc::now() }).await?;
            release(&mut unit, ClaimKind::ModuleCode, &current.code, &uuid).await?;
            if let Some(committed) = unit.commit().await? {
                break committed;
            }
        };
        self.settle(committed).await?;
        Ok(())
    }

    pub async fn list_modules(
        &self,
        search: Option<&str>,
        page: i64,
        limit: i64,
    ) -> Result<(Vec<ModuleRow>, Count), ServiceError> {
        Ok(read_models::list_modules(&self.reader, search, Window::page(page, limit)).await?)
    }
}
