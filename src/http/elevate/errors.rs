//! ELEVATE's errors: the status and the exact message its clients read for
//! each neutral code (`crate::error::ServiceError`), plus the errors the
//! dialect raises itself (bad query values, JSON rejections).

use aggregates::validation::InvalidInput;

use crate::commands::CommandError;
use crate::error::{Change, Clash, Entity, Invalid, Reason, Refusal, ServiceError};
use crate::http::refusal::EdgeRefusal;

#[derive(Debug, Clone, serde::Serialize)]
pub struct FieldError {
    pub param: String,
    pub msg: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{message}")]
    BadRequest { message: String, errors: Vec<FieldError> },
    /// Wrong password, unknown user, locked account: one shape for all.
    #[error("Email id or password is invalid")]
    InvalidCredentials,
    #[error("Unauthorized request")]
    Unauthorized,
    #[error("Permission denied")]
    Forbidden,
    #[error("{0}")]
    NotFound(String),
    /// The status is the response's; the message alone is what clients read.
    #[error("{message}")]
    Http { status: u16, message: String },
    #[error("Service temporarily busy, please retry")]
    Busy,
    #[error("The change was saved, but it cannot be shown: the {} read model could not apply it (operators: roster projections failed)", .0.join(", "))]
    NotProjected(Vec<String>),
    #[error("The search took too long; narrow it (a longer term, a role or a smaller page) and retry")]
    ReadTimeout,
    #[error("internal error")]
    Internal(anyhow::Error),
}

impl AppError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        AppError::BadRequest { message: message.into(), errors: vec![] }
    }

    pub fn invalid_field(param: &str, msg: impl Into<String>) -> Self {
        let msg = msg.into();
        AppError::BadRequest { message: msg.clone(), errors: vec![FieldError { param: param.into(), msg }] }
    }

    /// A 400 naming every refused field; the message is the first one's.
    fn fields(errors: Vec<FieldError>) -> Self {
        let message = errors.first().map(|e| e.msg.clone()).unwrap_or_else(|| "Invalid request".into());
        AppError::BadRequest { message, errors }
    }
}

/// "Role not found", "Request not found"…: a 404's message, or a field's.
fn not_found(entity: Entity) -> &'static str {
    match entity {
        Entity::User => "User not found",
        Entity::UserState => "User did not exist at that time",
        Entity::Requester => "The requester no longer exists",
        Entity::Organization => "Organization not found",
        Entity::Role => "Role not found",
        Entity::Module => "Module not found",
        Entity::Permission => "Permission not found",
        Entity::RoleRequest => "Request not found",
        Entity::Form => "Form not found",
        Entity::NotificationTemplate => "Notification template not found",
        Entity::EntityType => "Entity type not found",
        Entity::EntityValue => "Entity not found",
        Entity::File => "File not found",
        Entity::ApiKey => "API key not found",
        Entity::ClientApp => "App not found",
    }
}

fn field_message(invalid: &Invalid) -> String {
    let field = invalid.field.as_str();
    match &invalid.reason {
        Reason::Input(e) => e.to_string(),
        Reason::Required { or: Some(or) } => format!("{field} or {or} is required"),
        Reason::Required { or: None } => format!("{field} is required"),
        Reason::NotFound { entity: Entity::User, id: Some(id) } => format!("User {id} not found"),
        Reason::NotFound { entity: Entity::Organization, id: Some(id) } => format!("organisation {id} does not exist"),
        Reason::NotFound { entity: Entity::Module, id: Some(id) } => format!("module {id} does not exist"),
        Reason::NotFound { entity: Entity::EntityValue, id: Some(id) } => format!("{id} is not a valid {field}"),
        Reason::NotFound { entity, .. } => not_found(*entity).to_string(),
        Reason::NotActive { entity: Entity::Organization, id: Some(id) } => format!("organisation {id} is not active"),
        Reason::NotActive { entity: Entity::Role, .. } => "Role is not active".to_string(),
        Reason::NotActive { entity: Entity::Organization, .. } => "Organization is not active".to_string(),
        Reason::NotActive { entity, .. } => format!("{} is not active", entity.as_str()),
        Reason::AdminOnly => format!("only a system admin can change {field}"),
        Reason::SelfReference => "an organisation cannot be related to itself".to_string(),
        Reason::NotRequestable => "This role cannot be requested".to_string(),
        Reason::AlreadyAssigned => "Role already assigned".to_string(),
        Reason::RequesterMoved => {
            "The requester has moved to another organisation since asking; reject this request".to_string()
        }
        Reason::InUse { value, count, change } => {
            let change = match change {
                Change::Renamed => "renamed",
                Change::Deleted => "deleted",
            };
            format!("module {value} is used by {count} permission(s) and cannot be {change}")
        }
    }
}

/// A taken unique value, in ELEVATE's words for each.
fn duplicate(entity: Entity, field: &str) -> String {
    match (entity, field) {
        (Entity::User, "email") => "User already exists".to_string(),
        (Entity::User, field) => format!("{field} already in use"),
        (Entity::Organization, "code") => "Organization code already exists".to_string(),
        (Entity::Form, _) => "Form already exists".to_string(),
        (Entity::NotificationTemplate, _) => "Notification template already exists".to_string(),
        (Entity::EntityType, _) => "Entity type already exists".to_string(),
        (Entity::EntityValue, _) => "Entity already exists".to_string(),
        (_, field) => format!("{field} already exists"),
    }
}

impl From<ServiceError> for AppError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid(fields) => AppError::fields(
                fields.iter().map(|f| FieldError { param: f.field.clone(), msg: field_message(f) }).collect(),
            ),
            ServiceError::NothingToUpdate => AppError::bad_request("Nothing to update"),
            ServiceError::InvalidCredentials => AppError::InvalidCredentials,
            ServiceError::Unauthenticated => AppError::Unauthorized,
            ServiceError::Forbidden => AppError::Forbidden,
            ServiceError::NotFound { entity } => AppError::NotFound(not_found(entity).to_string()),
            ServiceError::Duplicate { entity, field } => AppError::invalid_field(field, duplicate(entity, field)),
            ServiceError::Conflict { what: Clash::PendingRoleRequest } => {
                AppError::Http { status: 406, message: "Role change request is already pending".into() }
            }
            ServiceError::Conflict { what: Clash::OrganizationDeactivated } => {
                AppError::bad_request("Organization is already deactivated")
            }
            ServiceError::Conflict { what: Clash::DefaultRole } => {
                AppError::bad_request("Default roles cannot be deleted")
            }
            ServiceError::Conflict { what: Clash::PermissionGranted } => {
                AppError::bad_request("Permission already added to the role")
            }
            ServiceError::Conflict { what: Clash::PermissionNotGranted } => {
                AppError::bad_request("Permission is not mapped to the role")
            }
            ServiceError::Conflict { what: Clash::SelfDeactivation } => {
                AppError::bad_request("You cannot deactivate your own account")
            }

            ServiceError::AlreadyDecided => AppError::bad_request("Request has already been decided"),
            // ELEVATE's words (`RESET_OTP_INVALID`, `SAME_PASSWORD_ERROR`, `INCORRECT_OLD_PASSWORD`).
            ServiceError::Refused { refusal: "otp.invalid", .. } => {
                AppError::bad_request("Please enter the correct OTP.")
            }
            ServiceError::Refused { refusal: "otp.resend_limit", .. } => {
                AppError::Http { status: 429, message: "Too many OTPs were asked for this email; retry later".into() }
            }
            ServiceError::Refused { refusal: "user.same_password", .. } => {
                AppError::bad_request("New password cannot be same as old password")
            }
            ServiceError::Refused { refusal: "user.incorrect_old_password", .. } => {
                AppError::bad_request("Invalid old password")
            }
            ServiceError::Refused { reason, .. } => AppError::bad_request(reason),
            ServiceError::Busy => AppError::Busy,
            ServiceError::ReadTimeout => AppError::ReadTimeout,
            ServiceError::NotProjected(projections) => AppError::NotProjected(projections),
            ServiceError::Internal(error) => AppError::Internal(error),
        }
    }
}

impl From<EdgeRefusal> for AppError {
    fn from(refusal: EdgeRefusal) -> Self {
        match refusal {
            EdgeRefusal::Unstorable { field } => {
                let message = format!("{field} contains a NUL character, which cannot be stored");
                AppError::invalid_field(&field, message)
            }
            EdgeRefusal::CorrelationTooLong { max } => {
                AppError::invalid_field("x-request-id", format!("x-request-id must be at most {max} characters"))
            }
            EdgeRefusal::BodyTimeout { after } => AppError::Http {
                status: 408,
                message: format!("The request body did not arrive within {} ms", after.as_millis()),
            },
        }
    }
}

impl From<InvalidInput> for AppError {
    fn from(error: InvalidInput) -> Self {
        ServiceError::from(error).into()
    }
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        ServiceError::from(error).into()
    }
}

impl From<anyhow::Error> for AppError {
    fn from(error: anyhow::Error) -> Self {
        AppError::Internal(error)
    }
}

impl<E: Refusal> From<CommandError<E>> for AppError {
    fn from(error: CommandError<E>) -> Self {
        ServiceError::from(error).into()
    }
}
