//! Notification templates as data: an admin's or org admin's organisation
//! defines its own template of a code (`notification/template`), which
//! replaces the default organisation's and the built-in one for its users'
//! messages. Reads fall back the same way: the caller's organisation's,
//! else the default organisation's, else the built-in defaults.

use aggregates::validation::{self, InvalidInput};
use aggregates::{NotificationTemplate, TemplateCommand, TemplateDefinition, TemplateError};
use uuid::Uuid;

use crate::accounts::Caller;
use crate::bootstrap::DEFAULT_ORGANIZATION_ID;
use crate::commands::{CommandError, Metadata};
use crate::error::{Entity, ServiceError};
use crate::notifications::templates::{self, TemplateText};
use crate::read_models;
pub use crate::read_models::{TemplateKey, TemplateRow};
use crate::services::Services;

const SUBJECT_MAX: usize = 256;
/// Bodies, headers and footers are HTML; well under the 1 MiB body limit.
const BODY_MAX: usize = 100_000;
const STATUSES: &[&str] = &["ACTIVE", "INACTIVE"];
const KINDS: &[&str] = &["email"];

/// A template as a client writes it; `None` keeps (on update) or defaults (on create).
#[derive(Debug, Clone, Default)]
pub struct TemplateInput {
    pub code: Option<String>,
    pub kind: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub email_header: Option<String>,
    pub email_footer: Option<String>,
    pub status: Option<String>,
}

fn built_in(code: &str) -> Option<TemplateRow> {
    let text = templates::default_template(code)?;
    Some(TemplateRow {
        id: None,
        organization_id: None,
        code: code.to_string(),
        kind: "email".into(),
        subject: text.subject,
        body: text.body,
        email_header: None,
        email_footer: None,
        status: "ACTIVE".into(),
        created_by: None,
        updated_by: None,
        created_at: None,
        updated_at: None,
    })
}

/// The aggregate of an organisation's template of `code`: two creates of
/// one code meet on one id.
fn template_uuid(organization_id: i64, code: &str) -> String {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("roster:notification_template:{organization_id}:{code}").as_bytes())
        .to_string()
}

fn template_error(error: CommandError<TemplateError>) -> ServiceError {
    match error {
        CommandError::Domain(TemplateError::AlreadyExists) => {
            ServiceError::Duplicate { entity: Entity::NotificationTemplate, field: "code" }
        }
        CommandError::Domain(TemplateError::NotFound) => ServiceError::not_found(Entity::NotificationTemplate),
        other => other.into(),
    }
}

/// Checks what was given; a template text must parse.
fn checked(input: TemplateInput, base: Option<&TemplateDefinition>) -> Result<TemplateInput, ServiceError> {
    let mut errors: Vec<InvalidInput> = Vec::new();
    let mut keep = |result: Result<String, InvalidInput>| result.map_err(|e| errors.push(e)).ok();
    let code = input.code.as_deref().and_then(|c| keep(validation::code("code", c)));
    let kind = input.kind.as_deref().and_then(|k| keep(validation::one_of("type", k, KINDS).map(str::to_string)));
    let status =
        input.status.as_deref().and_then(|s| keep(validation::one_of("status", s, STATUSES).map(str::to_string)));
    let subject = input.subject.as_deref().and_then(|s| keep(validation::single_line("subject", s, true, SUBJECT_MAX)));
    let body = input.body.as_deref().and_then(|b| keep(validation::free_text("body", b, BODY_MAX)));
    let email_header =
        input.email_header.as_deref().and_then(|h| keep(validation::free_text("email_header", h, BODY_MAX)));
    let email_footer =
        input.email_footer.as_deref().and_then(|f| keep(validation::free_text("email_footer", f, BODY_MAX)));
    if base.is_none() {
        if input.code.is_none() {
            errors.push(InvalidInput::Empty { field: "code" });
        }
        if input.subject.is_none() {
            errors.push(InvalidInput::Empty { field: "subject" });
        }
        if input.body.as_deref().is_none_or(|b| b.trim().is_empty()) {
            errors.push(InvalidInput::Empty { field: "body" });
        }
    }
    let template_fields =
        [("subject", &subject), ("body", &body), ("email_header", &email_header), ("email_footer", &email_footer)];
    for (field, text) in template_fields {
        if let Some(text) = text {
            if templates::check(text).is_err() {
                errors.push(InvalidInput::Format { field, rule: "is not a valid template ({{ name }} placeholders)" });
            }
        }
    }
    if !errors.is_empty() {
        return Err(ServiceError::invalid_input(errors));
    }
    Ok(TemplateInput { code, kind, subject, body, email_header, email_footer, status })
}

impl Services {
    /// A template of the caller's organisation; its code must be new there.
    pub async fn create_template(
        &self,
        caller: &Caller,
        input: TemplateInput,
        meta: &Metadata,
    ) -> Result<TemplateRow, ServiceError> {
        let input = checked(input, None)?;
        let organization_id = caller.organization_id;
        let code = input.code.clone().unwrap_or_default();
        let uuid = template_uuid(organization_id, &code);
        if self.own_template(organization_id, &TemplateKey::Code(code.clone())).await?.is_some() {
            return Err(ServiceError::Duplicate { entity: Entity::NotificationTemplate, field: "code" });
        }
        let numeric_id = self.db.next_numeric_id("notification_template").await?;
        let template = TemplateDefinition {
            numeric_id,
            organization_id,
            code,
            kind: input.kind.unwrap_or_else(|| "email".into()),
            subject: input.subject.unwrap_or_default(),
            body: input.body.unwrap_or_default(),
            email_header: input.email_header,
            email_footer: input.email_footer,
            status: input.status.unwrap_or_else(|| "ACTIVE".into()),
            written_by: caller.numeric_id(),
        };
        let create = TemplateCommand::Create { template, at: chrono::Utc::now() };
        let committed = self.bus.execute::<NotificationTemplate>(&uuid, create, meta).await.map_err(template_error)?;
        self.settle(committed).await?;
        self.own_template(organization_id, &TemplateKey::Id(numeric_id))
            .await?
            .ok_or(ServiceError::not_found(Entity::NotificationTemplate))
    }

    /// Changes a template of the caller's organisation (by id, or by code);
    /// fields not given stay. Its code stays too.
    pub async fn update_template(
        &self,
        caller: &Caller,
        key: TemplateKey,
        input: TemplateInput,
        meta: &Metadata,
    ) -> Result<TemplateRow, ServiceError> {
        let organization_id = caller.organization_id;
        let current = self
            .own_template(organization_id, &key)
            .await?
            .ok_or(ServiceError::not_found(Entity::NotificationTemplate))?;
        let uuid = template_uuid(organization_id, &current.code);
        let stored = self.bus.load::<NotificationTemplate>(&uuid).await.map_err(template_error)?;
        let base = stored.definition.ok_or(ServiceError::not_found(Entity::NotificationTemplate))?;
        let input = checked(input, Some(&base))?;
        if input.code.as_ref().is_some_and(|c| *c != base.code) {
            return Err(ServiceError::invalid(
                "code",
                crate::error::Reason::Input(InvalidInput::Format { field: "code", rule: "cannot be changed" }),
            ));
        }
        let template = TemplateDefinition {
            kind: input.kind.unwrap_or(base.kind.clone()),
            subject: input.subject.unwrap_or(base.subject.clone()),
            body: input.body.unwrap_or(base.body.clone()),
            email_header: input.email_header.or(base.email_header.clone()),
            email_footer: input.email_footer.or(base.email_footer.clone()),
            status: input.status.unwrap_or(base.status.clone()),
            written_by: caller.numeric_id(),
            ..base
        };
        let update = TemplateCommand::Update { template, at: chrono::Utc::now() };
        let committed = self.bus.execute::<NotificationTemplate>(&uuid, update, meta).await.map_err(template_error)?;
        self.settle(committed).await?;
        self.own_template(organization_id, &key).await?.ok_or(ServiceError::not_found(Entity::NotificationTemplate))
    }

    /// The caller's organisation's templates (one by id or code, or all,
    /// optionally of one `type`), else the default organisation's, with
    /// the built-in templates their organisation does not replace.
    pub async fn templates(
        &self,
        caller: &Caller,
        key: Option<TemplateKey>,
        kind: Option<&str>,
    ) -> Result<Vec<TemplateRow>, ServiceError> {
        let mut found = Vec::new();
        for organization_id in [caller.organization_id, DEFAULT_ORGANIZATION_ID] {
            found = self.own_templates(organization_id, key.as_ref(), kind).await?;
            if !found.is_empty() {
                break;
            }
        }
        if !matches!(key, Some(TemplateKey::Id(_))) && kind.is_none_or(|k| k.eq_ignore_ascii_case("email")) {
            let wanted: Vec<&str> = match &key {
                Some(TemplateKey::Code(code)) => vec![code.as_str()],
                _ => templates::DEFAULT_CODES.to_vec(),
            };
            for code in wanted {
                if !found.iter().any(|t| t.code == code) {
                    found.extend(built_in(code));
                }
            }
        }
        if found.is_empty() {
            return Err(ServiceError::not_found(Entity::NotificationTemplate));
        }
        Ok(found)
    }

    /// The active stored template of `code` an organisation defines (for rendering).
    pub(crate) async fn stored_template(
        &self,
        organization_id: i64,
        code: &str,
    ) -> Result<Option<TemplateText>, ServiceError> {
        Ok(self
            .own_template(organization_id, &TemplateKey::Code(code.to_string()))
            .await?
            .filter(|t| t.status == "ACTIVE")
            .map(|t| TemplateText {
                subject: t.subject,
                body: t.body,
                email_header: t.email_header,
                email_footer: t.email_footer,
            }))
    }

    async fn own_template(&self, organization_id: i64, key: &TemplateKey) -> Result<Option<TemplateRow>, ServiceError> {
        Ok(read_models::notification_templates(&self.db, organization_id, Some(key), None).await?.into_iter().next())
    }

    async fn own_templates(
        &self,
        organization_id: i64,
        key: Option<&TemplateKey>,
        kind: Option<&str>,
    ) -> Result<Vec<TemplateRow>, ServiceError> {
        Ok(read_models::notification_templates(&self.db, organization_id, key, kind).await?)
    }
}
