use aggregates::RoleEvent;

use crate::{format_time, Projection, ProjectionError, Statement, StoredEvent};

/// `roles`: role definitions, used to render `user_roles` and token claims.
pub struct RolesProjection;

impl Projection for RolesProjection {
    fn name(&self) -> &'static str {
        "roles"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["role_permissions", "roles"]
    }

    fn handle(&self, event: &StoredEvent) -> Result<Vec<Statement>, ProjectionError> {
        if event.aggregate_type != "role" {
            return Ok(vec![]);
        }
        Ok(match event.decode::<RoleEvent>()? {
            RoleEvent::RoleCreated { role, at } => {
                let at = format_time(&at);
                vec![Statement::new(
                    "INSERT INTO roles (id, role_uuid, title, label, user_type, status, visibility, organization_id, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
                    vec![
                        role.numeric_id.into(),
                        event.aggregate_id.clone().into(),
                        role.title.into(),
                        role.label.into(),
                        role.user_type.into(),
                        role.status.into(),
                        role.visibility.into(),
                        role.organization_id.into(),
                        at.into(),
                    ],
                )]
            }
            RoleEvent::PermissionGranted { permission_id, .. } => vec![Statement::new(
                "INSERT INTO role_permissions (role_id, permission_id) \
                 SELECT id, $2 FROM roles WHERE role_uuid = $1 ON CONFLICT (role_id, permission_id) DO NOTHING",
                vec![event.aggregate_id.clone().into(), permission_id.into()],
            )],
            RoleEvent::PermissionRevoked { permission_id, .. } => vec![Statement::new(
                "DELETE FROM role_permissions WHERE permission_id = $2 \
                 AND role_id = (SELECT id FROM roles WHERE role_uuid = $1)",
                vec![event.aggregate_id.clone().into(), permission_id.into()],
            )],
        })
    }
}
