//! The one error of every use case: what went wrong, named by a stable code
//! (`ServiceError::code`). It carries no HTTP status, no dialect wording and
//! no JSON: each dialect maps the codes onto its own statuses and messages
//! (ELEVATE's: `src/http/elevate/errors.rs`). Internals keep their error
//! chain and are logged by the dialect, never shown to clients.

use aggregates::validation::InvalidInput;
use aggregates::{ClaimError, ModuleError, OrganizationError, PermissionError, RoleError, RoleRequestError, UserError};

use crate::commands::CommandError;

/// What a use case was looking for, or found twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    User,
    /// A user's state at an instant of the audit log.
    UserState,
    /// The user who asked for a role request.
    Requester,
    Organization,
    Role,
    Module,
    Permission,
    RoleRequest,
    Form,
    NotificationTemplate,
    /// A value catalogue (ELEVATE's entity type).
    EntityType,
    /// One value of a catalogue (ELEVATE's entity).
    EntityValue,
    /// A stored file (`crate::files`).
    File,
    ApiKey,
    /// A client application (entity v5's `X-APP-ID`).
    ClientApp,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::User => "user",
            Entity::UserState => "user_state",
            Entity::Requester => "requester",
            Entity::Organization => "organization",
            Entity::Role => "role",
            Entity::Module => "module",
            Entity::Permission => "permission",
            Entity::RoleRequest => "role_request",
            Entity::Form => "form",
            Entity::NotificationTemplate => "notification_template",
            Entity::EntityType => "entity_type",
            Entity::EntityValue => "entity",
            Entity::File => "file",
            Entity::ApiKey => "api_key",
            Entity::ClientApp => "client_app",
        }
    }
}

/// How a module change would break the permissions that use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Renamed,
    Deleted,
}

/// Why one field of the input was refused.
#[derive(Debug)]
pub enum Reason {
    /// A value the aggregates' validation refused.
    Input(InvalidInput),
    /// Neither this field nor `or` was given.
    Required {
        or: Option<&'static str>,
    },
    /// The field names something that does not exist; `id` when the value is worth echoing.
    NotFound {
        entity: Entity,
        id: Option<String>,
    },
    NotActive {
        entity: Entity,
        id: Option<String>,
    },
    /// Only a system admin may set this field.
    AdminOnly,
    /// An organisation named as related to itself.
    SelfReference,
    /// A role nobody may ask for (admin, public, inactive).
    NotRequestable,
    AlreadyAssigned,
    /// The requester left the request's organisation after asking.
    RequesterMoved,
    /// A module code that `count` permissions use.
    InUse {
        value: String,
        count: i64,
        change: Change,
    },
}

#[derive(Debug)]
pub struct Invalid {
    pub field: String,
    pub reason: Reason,
}

impl Invalid {
    pub fn new(field: impl Into<String>, reason: Reason) -> Self {
        Invalid { field: field.into(), reason }
    }

    /// A stable code for this field's refusal, e.g. `invalid.not_found.role`.
    pub fn code(&self) -> String {
        match &self.reason {
            Reason::Input(_) => "invalid.input".into(),
            Reason::Required { .. } => "invalid.required".into(),
            Reason::NotFound { entity, .. } => format!("invalid.not_found.{}", entity.as_str()),
            Reason::NotActive { entity, .. } => format!("invalid.not_active.{}", entity.as_str()),
            Reason::AdminOnly => "invalid.admin_only".into(),
            Reason::SelfReference => "invalid.self_reference".into(),
            Reason::NotRequestable => "invalid.not_requestable".into(),
            Reason::AlreadyAssigned => "invalid.already_assigned".into(),
            Reason::RequesterMoved => "invalid.requester_moved".into(),
            Reason::InUse { .. } => "invalid.in_use".into(),
        }
    }
}

/// A state that refuses the change, apart from the aggregates' own refusals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clash {
    /// The user has a role request pending already.
    PendingRoleRequest,
    OrganizationDeactivated,
    /// The default roles cannot be deleted.
    DefaultRole,
    PermissionGranted,
    PermissionNotGranted,
    /// An admin deactivating their own account would lock themselves out.
    SelfDeactivation,
}

impl Clash {
    pub fn as_str(self) -> &'static str {
        match self {
            Clash::PendingRoleRequest => "role_request_pending",
            Clash::OrganizationDeactivated => "organization_deactivated",
            Clash::DefaultRole => "default_role",
            Clash::PermissionGranted => "permission_granted",
            Clash::PermissionNotGranted => "permission_not_granted",
            Clash::SelfDeactivation => "self_deactivation",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// One or more fields refused; never empty.
    #[error("invalid input ({})", describe(.0))]
    Invalid(Vec<Invalid>),
    #[error("nothing to update")]
    NothingToUpdate,
    /// Wrong password, unknown user, locked account: one answer for all.
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("not authenticated")]
    Unauthenticated,
    #[error("forbidden")]
    Forbidden,
    #[error("{} not found", .entity.as_str())]
    NotFound { entity: Entity },
    /// A unique value (email, organisation code, role title…) taken already.
    #[error("{} {field} already exists", .entity.as_str())]
    Duplicate { entity: Entity, field: &'static str },
    #[error("conflict: {}", .what.as_str())]
    Conflict { what: Clash },
    #[error("request already decided")]
    AlreadyDecided,
    /// An aggregate refused the command: `refusal` names it
    /// (`Refusal::code`), `reason` is the domain's own words.
    #[error("{reason}")]
    Refused { refusal: &'static str, reason: String },
    #[error("busy")]
    Busy,
    /// A list or search statement ran past `READ_STATEMENT_TIMEOUT_MS`.
    #[error("read timed out")]
    ReadTimeout,
    /// The change is recorded, but these read models refused it (see
    /// `roster projections failed`), so reads will not show it.
    #[error("not projected by {}", .0.join(", "))]
    NotProjected(Vec<String>),
    #[error("internal failure: {0:#}")]
    Internal(#[from] anyhow::Error),
}

fn describe(fields: &[Invalid]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|f| match &f.reason {
            Reason::Input(e) => format!("{}: {e}", f.field),
            _ => format!("{}: {}", f.field, f.code()),
        })
        .collect();
    parts.join("; ")
}

impl ServiceError {
    pub fn invalid(field: impl Into<String>, reason: Reason) -> Self {
        ServiceError::Invalid(vec![Invalid::new(field, reason)])
    }

    pub fn invalid_input(errors: Vec<InvalidInput>) -> Self {
        ServiceError::Invalid(errors.into_iter().map(|e| Invalid::new(e.field(), Reason::Input(e))).collect())
    }

    pub fn not_found(entity: Entity) -> Self {
        ServiceError::NotFound { entity }
    }

    pub fn internal(error: impl std::fmt::Display) -> Self {
        ServiceError::Internal(anyhow::anyhow!("{error}"))
    }

    /// The stable code a dialect maps to its status and message, e.g.
    /// `duplicate.user.email`, `not_found.user`, `refused.user.locked`,
    /// `invalid` (see each field's `Invalid::code`).
    pub fn code(&self) -> String {
        match self {
            ServiceError::Invalid(_) => "invalid".into(),
            ServiceError::NothingToUpdate => "nothing_to_update".into(),
            ServiceError::InvalidCredentials => "invalid_credentials".into(),
            ServiceError::Unauthenticated => "unauthenticated".into(),
            ServiceError::Forbidden => "forbidden".into(),
            ServiceError::NotFound { entity } => format!("not_found.{}", entity.as_str()),
            ServiceError::Duplicate { entity, field } => format!("duplicate.{}.{field}", entity.as_str()),
            ServiceError::Conflict { what } => format!("conflict.{}", what.as_str()),
            ServiceError::AlreadyDecided => "already_decided".into(),
            ServiceError::Refused { refusal, .. } => format!("refused.{refusal}"),
            ServiceError::Busy => "busy".into(),
            ServiceError::ReadTimeout => "read_timeout".into(),
            ServiceError::NotProjected(_) => "not_projected".into(),
            ServiceError::Internal(_) => "internal".into(),
        }
    }
}

impl From<InvalidInput> for ServiceError {
    fn from(error: InvalidInput) -> Self {
        ServiceError::invalid_input(vec![error])
    }
}

/// PostgreSQL's `query_canceled` (statement_timeout) and SQLite's
/// `SQLITE_INTERRUPT` (the read pool's progress handler): `storage::reader`.
fn cancelled(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if matches!(e.code().as_deref(), Some("57014") | Some("9")))
}

impl From<sqlx::Error> for ServiceError {
    fn from(error: sqlx::Error) -> Self {
        if cancelled(&error) {
            ServiceError::ReadTimeout
        } else if matches!(error, sqlx::Error::PoolTimedOut) {
            ServiceError::Busy
        } else {
            ServiceError::Internal(error.into())
        }
    }
}

/// An aggregate's refusal, named by a stable code (`user.not_active`).
pub trait Refusal: std::error::Error + Send + Sync + 'static {
    fn code(&self) -> &'static str;
}

impl Refusal for std::convert::Infallible {
    fn code(&self) -> &'static str {
        match *self {}
    }
}

impl Refusal for UserError {
    fn code(&self) -> &'static str {
        match self {
            UserError::NotFound => "user.not_found",
            UserError::AlreadyRegistered => "user.already_registered",
            UserError::NotActive => "user.not_active",
            UserError::AlreadyActive => "user.already_active",
            UserError::AlreadyInactive => "user.already_inactive",
            UserError::Locked => "user.locked",
            UserError::NothingToUpdate => "user.nothing_to_update",
            UserError::ManagedUserLimit => "user.managed_user_limit",
            UserError::OwnerLimit => "user.owner_limit",
            UserError::NoMigrationProspect => "user.no_migration_prospect",
            UserError::ProspectExists => "user.migration_prospect_exists",
        }
    }
}

impl Refusal for OrganizationError {
    fn code(&self) -> &'static str {
        match self {
            OrganizationError::AlreadyExists => "organization.already_exists",
            OrganizationError::NotFound => "organization.not_found",
            OrganizationError::AlreadyInactive => "organization.already_inactive",
            OrganizationError::NotActive => "organization.not_active",
            OrganizationError::NothingToUpdate => "organization.nothing_to_update",
        }
    }
}

impl Refusal for RoleError {
    fn code(&self) -> &'static str {
        match self {
            RoleError::AlreadyExists => "role.already_exists",
            RoleError::NotFound => "role.not_found",
            RoleError::AlreadyGranted => "role.already_granted",
            RoleError::NotGranted => "role.not_granted",
            RoleError::NothingToUpdate => "role.nothing_to_update",
        }
    }
}

impl Refusal for PermissionError {
    fn code(&self) -> &'static str {
        match self {
            PermissionError::AlreadyExists => "permission.already_exists",
            PermissionError::NotFound => "permission.not_found",
        }
    }
}

impl Refusal for ModuleError {
    fn code(&self) -> &'static str {
        match self {
            ModuleError::AlreadyExists => "module.already_exists",
            ModuleError::NotFound => "module.not_found",
        }
    }
}

impl Refusal for aggregates::FormError {
    fn code(&self) -> &'static str {
        match self {
            aggregates::FormError::AlreadyExists => "form.already_exists",
            aggregates::FormError::NotFound => "form.not_found",
            aggregates::FormError::OrganizationChanged => "form.organization_changed",
        }
    }
}

impl Refusal for aggregates::EntityTypeError {
    fn code(&self) -> &'static str {
        match self {
            aggregates::EntityTypeError::AlreadyExists => "entity_type.already_exists",
            aggregates::EntityTypeError::NotFound => "entity_type.not_found",
            aggregates::EntityTypeError::OrganizationChanged => "entity_type.organization_changed",
        }
    }
}

impl Refusal for aggregates::EntityError {
    fn code(&self) -> &'static str {
        match self {
            aggregates::EntityError::AlreadyExists => "entity.already_exists",
            aggregates::EntityError::NotFound => "entity.not_found",
        }
    }
}

impl Refusal for RoleRequestError {
    fn code(&self) -> &'static str {
        match self {
            RoleRequestError::AlreadySubmitted => "role_request.already_submitted",
            RoleRequestError::NotFound => "role_request.not_found",
            RoleRequestError::AlreadyDecided => "role_request.already_decided",
            RoleRequestError::InvalidStatus => "role_request.invalid_status",
        }
    }
}

impl Refusal for ClaimError {
    fn code(&self) -> &'static str {
        match self {
            ClaimError::Taken => "claim.taken",
            ClaimError::NotOwner => "claim.not_owner",
        }
    }
}

impl Refusal for aggregates::OtpError {
    fn code(&self) -> &'static str {
        match self {
            aggregates::OtpError::Invalid => "otp.invalid",
            aggregates::OtpError::ResendLimit { .. } => "otp.resend_limit",
        }
    }
}

impl Refusal for aggregates::ClientAppError {
    fn code(&self) -> &'static str {
        match self {
            aggregates::ClientAppError::AlreadyRegistered => "client_app.already_registered",
        }
    }
}

impl Refusal for aggregates::TemplateError {
    fn code(&self) -> &'static str {
        match self {
            aggregates::TemplateError::AlreadyExists => "notification_template.already_exists",
            aggregates::TemplateError::NotFound => "notification_template.not_found",
            aggregates::TemplateError::Moved => "notification_template.moved",
        }
    }
}

impl Refusal for aggregates::NotificationError {
    fn code(&self) -> &'static str {
        match self {
            aggregates::NotificationError::AlreadyQueued => "notification.already_queued",
        }
    }
}

impl Refusal for aggregates::BulkInviteError {
    fn code(&self) -> &'static str {
        match self {
            aggregates::BulkInviteError::AlreadyExists => "bulk_invite.already_exists",
            aggregates::BulkInviteError::NotFound => "bulk_invite.not_found",
            aggregates::BulkInviteError::Finished => "bulk_invite.finished",
            aggregates::BulkInviteError::OutOfOrder { .. } => "bulk_invite.out_of_order",
        }
    }
}

impl Refusal for aggregates::ApiKeyError {
    fn code(&self) -> &'static str {
        match self {
            aggregates::ApiKeyError::AlreadyIssued => "api_key.already_issued",
            aggregates::ApiKeyError::NotFound => "api_key.not_found",
        }
    }
}

impl<E: Refusal> From<CommandError<E>> for ServiceError {
    fn from(error: CommandError<E>) -> Self {
        match error {
            CommandError::Domain(e) => ServiceError::Refused { refusal: e.code(), reason: e.to_string() },
            CommandError::Conflict => ServiceError::Busy,
            CommandError::Store(error) => ServiceError::Internal(error.context("event store")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        let duplicate = ServiceError::Duplicate { entity: Entity::User, field: "email" };
        assert_eq!(duplicate.code(), "duplicate.user.email");
        assert_eq!(ServiceError::not_found(Entity::User).code(), "not_found.user");
        let role = Invalid::new("role_id", Reason::NotFound { entity: Entity::Role, id: None });
        assert_eq!(role.code(), "invalid.not_found.role");
        let refused: ServiceError = CommandError::Domain(UserError::Locked).into();
        assert_eq!(refused.code(), "refused.user.locked");
    }

    #[test]
    fn a_store_error_keeps_its_chain() {
        let source = std::io::Error::other("disk full");
        let error: ServiceError = CommandError::<std::convert::Infallible>::Store(anyhow::Error::new(source)).into();
        let ServiceError::Internal(internal) = error else { panic!("not internal") };
        assert!(internal.chain().any(|e| e.to_string() == "disk full"), "{internal:#}");
    }
}
