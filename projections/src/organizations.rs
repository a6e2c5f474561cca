use aggregates::OrganizationEvent;

use crate::{format_time, Projection, ProjectionError, SqlValue, Statement, StoredEvent};

/// `organizations`: one row per organisation, for reads and for embedding in profiles.
pub struct OrganizationsProjection;

impl Projection for OrganizationsProjection {
    fn name(&self) -> &'static str {
        "organizations"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["organizations"]
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["organization"]
    }
    fn inline(&self) -> bool {
        true
    }

    fn handle(&self, event: &StoredEvent) -> Result<Vec<Statement>, ProjectionError> {
        if event.aggregate_type != "organization" {
            return Ok(vec![]);
        }
        let id = SqlValue::Text(event.aggregate_id.clone());
        Ok(match event.decode::<OrganizationEvent>()? {
            OrganizationEvent::OrganizationCreated { numeric_id, name, code, description, at } => {
                let at = format_time(&at);
                vec![Statement::new(
                    "INSERT INTO organizations (id, org_uuid, name, code, description, status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, 'ACTIVE', $6, $6)",
                    vec![numeric_id.into(), id, name.into(), code.into(), description.into(), at.into()],
                )]
            }
            OrganizationEvent::OrganizationUpdated { changes, at } => {
                let mut sets = vec!["updated_at = $2".to_string()];
                let mut args = vec![id, format_time(&at).into()];
                let related = changes.related_orgs.map(|r| serde_json::to_string(&r).unwrap_or_else(|_| "[]".into()));
                for (column, value) in
                    [("name", changes.name), ("description", changes.description), ("related_orgs", related)]
                {
                    if let Some(value) = value {
                        args.push(value.into());
                        sets.push(format!("{column} = ${}", args.len()));
                    }
                }
                vec![Statement::new(format!("UPDATE organizations SET {} WHERE org_uuid = $1", sets.join(", ")), args)]
            }
            OrganizationEvent::OrganizationDeactivated { at } => vec![Statement::new(
                "UPDATE organizations SET status = 'INACTIVE', updated_at = $2 WHERE org_uuid = $1",
                vec![id, format_time(&at).into()],
            )],
        })
    }
}
