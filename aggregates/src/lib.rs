//! Roster's pure domain: every change is a command handled by an aggregate that
//! answers with events. Nothing here does I/O; time, ids and password hashes
//! arrive inside commands so that handling stays deterministic and testable.

pub mod api_key;
pub mod bulk_invite;
pub mod claim;
pub mod client_app;
pub mod declaration;
pub mod entity;
pub mod entity_type;
pub mod form;
pub mod module;
pub mod notification;
pub mod notification_template;
pub mod organization;
pub mod otp;
pub mod permission;
pub mod role;
pub mod role_request;
#[cfg(test)]
mod testing;
pub mod user;
pub mod validation;

pub use api_key::{ApiKey, ApiKeyCommand, ApiKeyDefinition, ApiKeyError, ApiKeyEvent};
pub use bulk_invite::{
    BulkInvite, BulkInviteCommand, BulkInviteError, BulkInviteEvent, BulkInviteJob, BulkInviteStatus, RowCounts,
};
pub use claim::{ClaimCommand, ClaimError, ClaimEvent, ClaimKind, UniqueClaim};
pub use client_app::{ClientApp, ClientAppCommand, ClientAppError, ClientAppEvent};
pub use declaration::{Declaration, DeclarationChange, DeclarationOp, DeclarationSet};
pub use entity::{Entity, EntityCommand, EntityDefinition, EntityError, EntityEvent};
pub use entity_type::{EntityType, EntityTypeCommand, EntityTypeDefinition, EntityTypeError, EntityTypeEvent};
pub use form::{Form, FormCommand, FormDefinition, FormError, FormEvent};
pub use module::{Module, ModuleCommand, ModuleDefinition, ModuleError, ModuleEvent};
pub use notification::{Message, Notification, NotificationCommand, NotificationError, NotificationEvent};
pub use notification_template::{
    NotificationTemplate, TemplateCommand, TemplateDefinition, TemplateError, TemplateEvent,
};
pub use organization::{Organization, OrganizationChanges, OrganizationCommand, OrganizationError, OrganizationEvent};
pub use otp::{Otp, OtpCheck, OtpCommand, OtpError, OtpEvent};
pub use permission::{Permission, PermissionCommand, PermissionDefinition, PermissionError, PermissionEvent};
pub use role::{Role, RoleChanges, RoleCommand, RoleDefinition, RoleError, RoleEvent};
pub use role_request::{
    RequestStatus, RoleRequest, RoleRequestCommand, RoleRequestDetails, RoleRequestError, RoleRequestEvent,
};
pub use user::{
    ContactChanges, LockoutPolicy, NewPassword, ProfileChanges, ProfileExtension, Registration, User, UserCommand,
    UserError, UserEvent, UserPool, UserStatus,
};
pub use user::{ExternalId, Migration, MigrationProspect, PendingProspect, MAX_MIGRATION_ATTEMPTS};

/// Every aggregate type the log holds, as written in its `aggregate_type`
/// column: filters on a type (CLI, audit API) are checked against this list.
pub const AGGREGATE_TYPES: [&str; 16] = [
    User::TYPE,
    Organization::TYPE,
    Role::TYPE,
    Permission::TYPE,
    Module::TYPE,
    RoleRequest::TYPE,
    UniqueClaim::TYPE,
    Form::TYPE,
    Otp::TYPE,
    Notification::TYPE,
    NotificationTemplate::TYPE,
    EntityType::TYPE,
    Entity::TYPE,
    ApiKey::TYPE,
    ClientApp::TYPE,
    BulkInvite::TYPE,
];

/// Instants in events are UTC.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// An aggregate: state folded from its own events, which decides whether a
/// command is allowed and which events it leads to. Deciding and applying are
/// pure (no I/O, no clock), so a decision can be retried on fresher state and
/// several aggregates can decide before anything is stored (the command bus's
/// unit of work).
///
/// Our own trait rather than cqrs-es's: its `handle` is async, takes a
/// services argument and writes into a sink that applies as it goes; ours
/// returns the events and leaves applying them to the caller.
pub trait Aggregate: Default + Clone + Send + Sync + 'static {
    /// The `aggregate_type` its events are stored under.
    const TYPE: &'static str;
    type Command;
    type Event: DomainEvent;
    type Error: std::error::Error + Send + Sync + 'static;

    /// The events `command` leads to from this state (none: nothing to do),
    /// or why it is refused. The state does not change until they are applied.
    fn decide(&self, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// Folds one event into the state. It happened, so this cannot fail.
    fn apply(&mut self, event: Self::Event);
}

/// An event as the log stores it: serialised in serde's externally tagged
/// form (`{"Variant": {...}}`) and named by its variant, so the log stays
/// readable by tools that do not link this crate. Its schema version is the
/// log's business (the service's upcaster registry), not the type's.
pub trait DomainEvent: serde::Serialize + serde::de::DeserializeOwned + Clone + std::fmt::Debug + Send + Sync {
    fn event_type(&self) -> &'static str;
}

macro_rules! domain_event {
    ($event:ty, [$($variant:ident),+ $(,)?]) => {
        impl $crate::DomainEvent for $event {
            fn event_type(&self) -> &'static str {
                match self {
                    $(Self::$variant { .. } => stringify!($variant),)+
                }
            }
        }
    };
}
pub(crate) use domain_event;
