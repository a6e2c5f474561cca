use aggregates::FormEvent;

use crate::{format_time, Projection, ProjectionError, SqlValue, Statement, StoredEvent};

/// `forms`: one row per form, with its version, for reads and for the
/// list of form versions ELEVATE answers with.
pub struct FormsProjection;

impl Projection for FormsProjection {
    fn name(&self) -> &'static str {
        "forms"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["forms"]
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["form"]
    }

    fn handle(&self, event: &StoredEvent) -> Result<Vec<Statement>, ProjectionError> {
        if event.aggregate_type != "form" {
            return Ok(vec![]);
        }
        let uuid = SqlValue::Text(event.aggregate_id.clone());
        Ok(match event.decode::<FormEvent>()? {
            FormEvent::FormCreated { form, at } => {
                let at = format_time(&at);
                vec![Statement::new(
                    "INSERT INTO forms (id, form_uuid, organization_id, type, sub_type, data, version, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7)",
                    vec![
                        form.numeric_id.into(),
                        uuid,
                        form.organization_id.into(),
                        form.form_type.into(),
                        form.sub_type.into(),
                        form.data.to_string().into(),
                        at.into(),
                    ],
                )]
            }
            FormEvent::FormUpdated { form, version, at } => vec![Statement::new(
                "UPDATE forms SET type = $2, sub_type = $3, data = $4, version = $5, updated_at = $6 WHERE form_uuid = $1",
                vec![
                    uuid,
                    form.form_type.into(),
                    form.sub_type.into(),
                    form.data.to_string().into(),
                    version.into(),
                    format_time(&at).into(),
                ],
            )],
        })
    }
}
