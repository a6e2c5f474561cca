use aggregates::notification_template::{TemplateDefinition, TemplateEvent};

use crate::{format_time, Projection, ProjectionError, SqlValue, Statement, StoredEvent};

/// `notification_templates`: one row per organisation's template, for
/// `notification/template` reads and for rendering messages.
pub struct NotificationTemplatesProjection;

fn text(value: &Option<String>) -> SqlValue {
    value.clone().map(SqlValue::Text).unwrap_or(SqlValue::Null)
}

fn values(uuid: &str, t: TemplateDefinition, at: &str) -> Vec<SqlValue> {
    vec![
        t.numeric_id.into(),
        uuid.to_string().into(),
        t.organization_id.into(),
        t.code.into(),
        t.kind.into(),
        t.subject.into(),
        t.body.into(),
        text(&t.email_header),
        text(&t.email_footer),
        t.status.into(),
        t.written_by.into(),
        at.to_string().into(),
    ]
}

impl Projection for NotificationTemplatesProjection {
    fn name(&self) -> &'static str {
        "notification_templates"
    }

    fn tables(&self) -> &'static [&'static str] {
        &["notification_templates"]
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["notification_template"]
    }

    fn handle(&self, event: &StoredEvent) -> Result<Vec<Statement>, ProjectionError> {
        if event.aggregate_type != "notification_template" {
            return Ok(vec![]);
        }
        Ok(match event.decode::<TemplateEvent>()? {
            TemplateEvent::TemplateCreated { template, at } => vec![Statement::new(
                "INSERT INTO notification_templates (id, template_uuid, organization_id, code, type, subject, body, \
                 email_header, email_footer, status, created_by, created_at, updated_by, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $11, $12)",
                values(&event.aggregate_id, template, &format_time(&at)),
            )],
            TemplateEvent::TemplateUpdated { template, at } => vec![Statement::new(
                "UPDATE notification_templates SET organization_id = $3, code = $4, type = $5, subject = $6, body = $7, \
                 email_header = $8, email_footer = $9, status = $10, updated_by = $11, updated_at = $12 \
                 WHERE id = $1 AND template_uuid = $2",
                values(&event.aggregate_id, template, &format_time(&at)),
            )],
        })
    }
}
