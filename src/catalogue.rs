//! Roles, modules, permissions and role–permission mappings: the data that
//! authorisation runs on, managed by system admins.

use aggregates::validation::{self, STATUSES};
use aggregates::{
    ClaimCommand, ClaimError, ClaimKind, Module, ModuleCommand, ModuleDefinition, ModuleError, Permission,
    PermissionCommand, PermissionDefinition, PermissionError, Role, RoleChanges, RoleCommand, RoleDefinition,
    RoleError, UniqueClaim,
};
use projections::{SqlValue, Statement};
use uuid::Uuid;

use crate::bootstrap::{claim_id, permission_uuid, role_uuid};
use crate::commands::{CommandError, Metadata};
use crate::error::{Change, Clash, Entity, Reason, ServiceError};
use crate::read_models;
use crate::services::Services;
use crate::storage::{Count, Reader};
use crate::unit_of_work::UnitOfWork;

fn module_uuid(numeric_id: i64) -> String {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("roster:module:{numeric_id}").as_bytes()).to_string()
}

fn role_error(error: CommandError<RoleError>) -> ServiceError {
    match error {
        CommandError::Domain(RoleError::NotFound) => ServiceError::not_found(Entity::Role),
        other => other.into(),
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoleDetails {
    pub id: i64,
    pub title: String,
    pub label: String,
    pub user_type: i64,
    pub status: String,
    pub visibility: String,
    pub organization_id: i64,
    pub translations: Option<String>,
    pub meta: Option<String>,
}

const ROLE_COLUMNS: &str =
    "id, title, label, CAST(user_type AS BIGINT) AS user_type, status, visibility, organization_id, \
    translations, meta";

#[derive(Debug, Default)]
pub struct RoleFilter {
    pub search: Option<String>,
    pub user_type: Option<i64>,
    pub visibility: Option<String>,
    pub status: Option<String>,
    pub organization_id: Option<i64>,
    pub page: i64,
    pub limit: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PermissionRow {
    pub id: i64,
    pub code: String,
    pub module: String,
    pub request_type: String,
    pub api_path: String,
    pub status: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ModuleRow {
    pub id: i64,
    pub code: String,
    pub status: String,
}

/// `WHERE` clauses and their arguments, numbered as they are added.
struct Conditions {
    clauses: Vec<String>,
    args: Vec<SqlValue>,
}

impl Conditions {
    fn new(base: &str) -> Self {
        Conditions { clauses: vec![base.to_string()], args: vec![] }
    }
    fn add(&mut self, clause: &str, value: SqlValue) {
        self.args.push(value);
        self.clauses.push(clause.replace("$?", &format!("${}", self.args.len())));
    }
    fn search(&mut self, column: &str, search: Option<&str>) {
        if let Some(s) = search.map(str::trim).filter(|s| !s.is_empty()) {
            let pattern =
                format!("%{}%", s.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            self.add(&format!("lower({column}) LIKE $? ESCAPE '\\'"), pattern.into());
        }
    }
    async fn page<T>(
        self,
        reader: &Reader,
        table: &str,
        columns: &str,
        page: i64,
        limit: i64,
    ) -> Result<(Vec<T>, Count), sqlx::Error>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + Send
            + Unpin,
    {
        let where_clause = self.clauses.join(" AND ");
        let count = reader.count(&format!("{table} WHERE {where_clause}"), self.args.clone()).await?;
        let mut args = self.args;
        let n = args.len();
        args.push(limit.into());
        args.push(((page - 1) * limit).into());
        let sql = format!(
            "SELECT {columns} FROM {table} WHERE {where_clause} ORDER BY id LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        Ok((reader.db().fetch_all(&Statement::new(sql, args)).await?, count))
    }
}

/// Claims a code or title for `owner` in the unit: committed with the
/// definition that needs it, so a refused one leaves the value free.
async fn claim(
    unit: &mut UnitOfWork,
    kind: ClaimKind,
    value: &str,
    owner: &str,
    entity: Entity,
    field: &'static str,
) -> Result<(), ServiceError> {
    let claim = ClaimCommand::Claim { owner: owner.to_string(), at: chrono::Utc::now() };
    match unit.decide::<UniqueClaim>(&claim_id(kind, value), claim).await {
        Ok(_) => Ok(()),
        Err(CommandError::Domain(ClaimError::Taken)) => Err(ServiceError::Duplicate { entity, field }),
        Err(other) => Err(other.into()),
    }
}

/// Gives back a code or title `owner` held, in the unit; one it no longer
/// holds is left as it is.
async fn release(unit: &mut UnitOfWork, kind: ClaimKind, value: &str, owner: &str) -> Result<(), ServiceError> {
    let release = ClaimCommand::Release { owner: owner.to_string(), at: chrono::Utc::now() };
    match unit.decide::<UniqueClaim>(&claim_id(kind, value), release).await {
        Ok(_) => Ok(()),
        Err(CommandError::Domain(ClaimError::NotOwner)) => {
            tracing::warn!("a unique-value claim to give back is held by another owner; left as it is");
            Ok(())
        }
        Err(other) => Err(other.into()),
    }
}

impl Services {
    pub async fn role_details(&self, id: i64) -> Result<RoleDetails, ServiceError> {
        self.db
            .fetch_optional(&Statement::new(
                format!("SELECT {ROLE_COLUMNS} FROM roles WHERE id = $1 AND status <> 'DELETED'"),
                vec![id.into()],
            ))
            .await?
            .ok_or_else(|| ServiceError::not_found(Entity::Role))
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
        let mut c = Conditions::new("status <> 'DELETED'");
        c.search("title", filter.search.as_deref());
        if let Some(v) = filter.user_type {
            c.add("user_type = $?", v.into());
        }
        if let Some(v) = &filter.visibility {
            c.add("visibility = $?", v.clone().into());
        }
        if let Some(v) = &filter.status {
            c.add("status = $?", v.clone().into());
        }
        if let Some(v) = filter.organization_id {
            c.add("organization_id = $?", v.into());
        }
        Ok(c.page(&self.reader, "roles", ROLE_COLUMNS, filter.page, filter.limit).await?)
    }

    pub async fn module(&self, id: i64) -> Result<ModuleRow, ServiceError> {
        self.db
            .fetch_optional(&Statement::new("SELECT id, code, status FROM modules WHERE id = $1", vec![id.into()]))
            .await?
            .ok_or_else(|| ServiceError::not_found(Entity::Module))
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
        let used = self
            .db
            .fetch_count(&Statement::new(
                "SELECT count(*) FROM permissions WHERE module = $1",
                vec![code.to_string().into()],
            ))
            .await?;
        if used > 0 {
            return Err(ServiceError::invalid("code", Reason::InUse { value: code.to_string(), count: used, change }));
        }
        Ok(())
    }

    /// A permission's module is a module defined through the API or one the
    /// default permissions use.
    async fn require_module(&self, code: &str) -> Result<(), ServiceError> {
        if crate::authorization::DEFAULT_PERMISSIONS.iter().any(|p| p.2 == code) {
            return Ok(());
        }
        let defined = self
            .db
            .fetch_count(&Statement::new("SELECT count(*) FROM modules WHERE code = $1", vec![code.to_string().into()]))
            .await?;
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
        let mut c = Conditions::new("1 = 1");
        c.search("code", search);
        Ok(c.page(&self.reader, "modules", "id, code, status", page, limit).await?)
    }

    pub async fn permission(&self, id: i64) -> Result<PermissionRow, ServiceError> {
        self.db
            .fetch_optional(&Statement::new(
                "SELECT id, code, module, request_type, api_path, status FROM permissions WHERE id = $1",
                vec![id.into()],
            ))
            .await?
            .ok_or_else(|| ServiceError::not_found(Entity::Permission))
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
        let mut c = Conditions::new("1 = 1");
        c.search("code", search);
        Ok(c.page(&self.reader, "permissions", "id, code, module, request_type, api_path, status", page, limit).await?)
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

    /// (role id, permission) pairs, optionally for some roles only.
    pub async fn role_permissions(&self, role_ids: &[i64]) -> Result<Vec<(i64, PermissionRow)>, ServiceError> {
        #[derive(sqlx::FromRow)]
        struct Mapped {
            role_id: i64,
            id: i64,
            code: String,
            module: String,
            request_type: String,
            api_path: String,
            status: String,
        }
        let mut c = Conditions::new("1 = 1");
        if !role_ids.is_empty() {
            let marks: Vec<String> = role_ids
                .iter()
                .map(|id| {
                    c.args.push((*id).into());
                    format!("${}", c.args.len())
                })
                .collect();
            c.clauses.push(format!("rp.role_id IN ({})", marks.join(", ")));
        }
        let rows: Vec<Mapped> = self
            .db
            .fetch_all(&Statement::new(
                format!(
                    "SELECT rp.role_id, p.id, p.code, p.module, p.request_type, p.api_path, p.status FROM role_permissions rp \
                     JOIN permissions p ON p.id = rp.permission_id WHERE {} ORDER BY rp.role_id, p.id",
                    c.clauses.join(" AND ")
                ),
                c.args,
            ))
            .await?;
        Ok(rows
            .into_iter()
            .map(|m| {
                let p = PermissionRow {
                    id: m.id,
                    code: m.code,
                    module: m.module,
                    request_type: m.request_type,
                    api_path: m.api_path,
                    status: m.status,
                };
                (m.role_id, p)
            })
            .collect())
    }
}
