use aggregates::{ModuleEvent, PermissionEvent};

use crate::{format_time, Projection, ProjectionError, Statement, StoredEvent};

/// `permissions`: what each permission allows (module, methods, API path).
pub struct PermissionsProjection;

impl Projection for PermissionsProjection {
    fn name(&self) -> &'static str {
        "permissions"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["modules", "permissions"]
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["module", "permission"]
    }

    fn handle(&self, event: &StoredEvent) -> Result<Vec<Statement>, ProjectionError> {
        if event.aggregate_type == "module" {
            return modules(event);
        }
        if event.aggregate_type != "permission" {
            return Ok(vec![]);
        }
        Ok(match event.decode::<PermissionEvent>()? {
            PermissionEvent::PermissionDefined { permission: p, at } => vec![Statement::new(
                "INSERT INTO permissions (id, permission_uuid, code, module, request_type, api_path, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
                vec![
                    p.numeric_id.into(),
                    event.aggregate_id.clone().into(),
                    p.code.into(),
                    p.module.into(),
                    serde_json::to_string(&p.request_type).unwrap_or_else(|_| "[]".into()).into(),
                    p.api_path.into(),
                    p.status.into(),
                    format_time(&at).into(),
                ],
            )],
            PermissionEvent::PermissionRedefined { permission: p, at } => vec![Statement::new(
                "UPDATE permissions SET code = $2, module = $3, request_type = $4, api_path = $5, status = $6, updated_at = $7 \
                 WHERE permission_uuid = $1",
                vec![
                    event.aggregate_id.clone().into(),
                    p.code.into(),
                    p.module.into(),
                    serde_json::to_string(&p.request_type).unwrap_or_else(|_| "[]".into()).into(),
                    p.api_path.into(),
                    p.status.into(),
                    format_time(&at).into(),
                ],
            )],
            PermissionEvent::PermissionDeleted { .. } => vec![
                Statement::new(
                    "DELETE FROM role_permissions WHERE permission_id = (SELECT id FROM permissions WHERE permission_uuid = $1)",
                    vec![event.aggregate_id.clone().into()],
                ),
                Statement::new("DELETE FROM permissions WHERE permission_uuid = $1", vec![event.aggregate_id.clone().into()]),
            ],
        })
    }
}

/// Modules live in the same projection as permissions: they are one catalogue.
fn modules(event: &StoredEvent) -> Result<Vec<Statement>, ProjectionError> {
    let id = event.aggregate_id.clone();
    Ok(match event.decode::<ModuleEvent>()? {
        ModuleEvent::ModuleDefined { module: m, at } => vec![Statement::new(
            "INSERT INTO modules (id, module_uuid, code, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
            vec![m.numeric_id.into(), id.into(), m.code.into(), m.status.into(), format_time(&at).into()],
        )],
        ModuleEvent::ModuleRedefined { module: m, at } => vec![Statement::new(
            "UPDATE modules SET code = $2, status = $3, updated_at = $4 WHERE module_uuid = $1",
            vec![id.into(), m.code.into(), m.status.into(), format_time(&at).into()],
        )],
        ModuleEvent::ModuleDeleted { .. } => {
            vec![Statement::new("DELETE FROM modules WHERE module_uuid = $1", vec![id.into()])]
        }
    })
}
