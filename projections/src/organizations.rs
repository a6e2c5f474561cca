use aggregates::OrganizationEvent;

use crate::{format_time, Projection, ProjectionError, Statement, StoredEvent};

/// `organizations`: one row per organisation, for reads and for embedding in profiles.
pub struct OrganizationsProjection;

impl Projection for OrganizationsProjection {
    fn name(&self) -> &'static str {
        "organizations"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["organizations"]
    }

    fn handle(&self, event: &StoredEvent) -> Result<Vec<Statement>, ProjectionError> {
        if event.aggregate_type != "organization" {
            return Ok(vec![]);
        }
        Ok(match event.decode::<OrganizationEvent>()? {
            OrganizationEvent::OrganizationCreated { numeric_id, name, code, description, at } => {
                let at = format_time(&at);
                vec![Statement::new(
                    "INSERT INTO organizations (id, org_uuid, name, code, description, status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, 'ACTIVE', $6, $6)",
                    vec![
                        numeric_id.into(),
                        event.aggregate_id.clone().into(),
                        name.into(),
                        code.into(),
                        description.into(),
                        at.into(),
                    ],
                )]
            }
        })
    }
}
