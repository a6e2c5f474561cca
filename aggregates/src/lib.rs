//! Roster's pure domain: every change is a command handled by an aggregate that
//! answers with events. Nothing here does I/O; time, ids and password hashes
//! arrive inside commands so that handling stays deterministic and testable.

pub mod claim;
pub mod module;
pub mod organization;
pub mod permission;
pub mod role;
pub mod role_request;
pub mod user;
pub mod validation;

pub use claim::{ClaimCommand, ClaimError, ClaimEvent, ClaimKind, UniqueClaim};
pub use module::{Module, ModuleCommand, ModuleDefinition, ModuleError, ModuleEvent};
pub use organization::{Organization, OrganizationChanges, OrganizationCommand, OrganizationError, OrganizationEvent};
pub use permission::{Permission, PermissionCommand, PermissionDefinition, PermissionError, PermissionEvent};
pub use role::{Role, RoleChanges, RoleCommand, RoleDefinition, RoleError, RoleEvent};
pub use role_request::{
    RequestStatus, RoleRequest, RoleRequestCommand, RoleRequestDetails, RoleRequestError, RoleRequestEvent,
};
pub use user::{LockoutPolicy, ProfileChanges, Registration, User, UserCommand, UserError, UserEvent, UserStatus};

/// Every aggregate type the log holds, as written in its `aggregate_type`
/// column: filters on a type (CLI, audit API) are checked against this list.
pub const AGGREGATE_TYPES: [&str; 7] = [
    <User as cqrs_es::Aggregate>::TYPE,
    <Organization as cqrs_es::Aggregate>::TYPE,
    <Role as cqrs_es::Aggregate>::TYPE,
    <Permission as cqrs_es::Aggregate>::TYPE,
    <Module as cqrs_es::Aggregate>::TYPE,
    <RoleRequest as cqrs_es::Aggregate>::TYPE,
    <UniqueClaim as cqrs_es::Aggregate>::TYPE,
];

/// Instants in events are UTC.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// Every event enum reports its variant name as its type and a schema version,
/// so the log stays readable by tools that do not link this crate.
macro_rules! domain_event {
    ($event:ty, $version:literal, [$($variant:ident),+ $(,)?]) => {
        impl cqrs_es::DomainEvent for $event {
            fn event_type(&self) -> String {
                match self {
                    $(Self::$variant { .. } => stringify!($variant).to_string(),)+
                }
            }
            fn event_version(&self) -> String {
                $version.to_string()
            }
        }
    };
}
pub(crate) use domain_event;
