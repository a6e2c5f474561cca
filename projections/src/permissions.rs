use aggregates::PermissionEvent;

use crate::{format_time, Projection, ProjectionError, Statement, StoredEvent};

/// `permissions`: what each permission allows (module, methods, API path).
pub struct PermissionsProjection;

impl Projection for PermissionsProjection {
    fn name(&self) -> &'static str {
        "permissions"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["permissions"]
    }

    fn handle(&self, event: &StoredEvent) -> Result<Vec<Statement>, ProjectionError> {
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
        })
    }
}
