use aggregates::RoleEvent;

use crate::{format_time, Projection, ProjectionError, SqlValue, Statement, StoredEvent};

fn json_or_null(value: &serde_json::Value) -> SqlValue {
    if value.is_null() {
        SqlValue::Null
    } else {
        SqlValue::Text(value.to_string())
    }
}

/// `roles`: role definitions, used to render `user_roles` and token claims.
pub struct RolesProjection;

impl Projection for RolesProjection {
    fn name(&self) -> &'static str {
        "roles"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["role_permissions", "roles"]
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["role"]
    }

    fn handle(&self, event: &StoredEvent) -> Result<Vec<Statement>, ProjectionError> {
        if event.aggregate_type != "role" {
            return Ok(vec![]);
        }
        Ok(match event.decode::<RoleEvent>()? {
            RoleEvent::RoleCreated { role, at } => {
                let at = format_time(&at);
                vec![Statement::new(
                    "INSERT INTO roles (id, role_uuid, title, label, user_type, status, visibility, organization_id, created_at, \
                     updated_at, translations, meta) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)",
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
                        json_or_null(&role.translations),
                        json_or_null(&role.meta),
                    ],
                )]
            }
            RoleEvent::RoleUpdated { changes: c, at } => {
                let mut sets = vec!["updated_at = $2".to_string()];
                let mut args: Vec<SqlValue> = vec![event.aggregate_id.clone().into(), format_time(&at).into()];
                let user_type = c.user_type.map(i64::from);
                let translations = c.translations.as_ref().map(json_or_null);
                let meta = c.meta.as_ref().map(json_or_null);
                let text = |v: Option<String>| v.map(SqlValue::from);
                for (column, value) in [
                    ("title", text(c.title)),
                    ("label", text(c.label)),
                    ("user_type", user_type.map(SqlValue::from)),
                    ("status", text(c.status)),
                    ("visibility", text(c.visibility)),
                    ("translations", translations),
                    ("meta", meta),
                ] {
                    if let Some(value) = value {
                        args.push(value);
                        sets.push(format!("{column} = ${}", args.len()));
                    }
                }
                vec![Statement::new(format!("UPDATE roles SET {} WHERE role_uuid = $1", sets.join(", ")), args)]
            }
            RoleEvent::RoleDeleted { at } => vec![
                Statement::new(
                    "DELETE FROM role_permissions WHERE role_id = (SELECT id FROM roles WHERE role_uuid = $1)",
                    vec![event.aggregate_id.clone().into()],
                ),
                Statement::new(
                    "UPDATE roles SET status = 'DELETED', updated_at = $2 WHERE role_uuid = $1",
                    vec![event.aggregate_id.clone().into(), format_time(&at).into()],
                ),
            ],
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
