//! Roles, modules, permissions and role–permission mappings: the data that
//! authorisation runs on, managed by system admins.

mod modules;
mod permissions;
mod roles;

use aggregates::{ClaimCommand, ClaimError, ClaimKind, UniqueClaim};

use crate::commands::CommandError;
use crate::error::{Entity, ServiceError};
use crate::unit_of_work::UnitOfWork;

pub use crate::read_models::{ModuleRow, PermissionRow, RoleDetails, RoleFilter};

/// Claims a code or title for `owner` in the unit: committed with the
/// definition that needs it, so a refused one leaves the value free.
pub(crate) async fn claim(
    unit: &mut UnitOfWork,
    kind: ClaimKind,
    value: &str,
    owner: &str,
    entity: Entity,
    field: &'static str,
) -> Result<(), ServiceError> {
    let claim = ClaimCommand::Claim { owner: owner.to_string(), at: chrono::Utc::now() };
    match unit.decide::<UniqueClaim>(&unit.claim_id(kind, value), claim).await {
        Ok(_) => Ok(()),
        Err(CommandError::Domain(ClaimError::Taken)) => Err(ServiceError::Duplicate { entity, field }),
        Err(other) => Err(other.into()),
    }
}

/// Gives back a code or title `owner` held, in the unit; one it no longer
/// holds is left as it is.
pub(crate) async fn release(
    unit: &mut UnitOfWork,
    kind: ClaimKind,
    value: &str,
    owner: &str,
) -> Result<(), ServiceError> {
    let release = ClaimCommand::Release { owner: owner.to_string(), at: chrono::Utc::now() };
    match unit.decide::<UniqueClaim>(&unit.claim_id(kind, value), release).await {
        Ok(_) => Ok(()),
        Err(CommandError::Domain(ClaimError::NotOwner)) => {
            tracing::warn!("a unique-value claim to give back is held by another owner; left as it is");
            Ok(())
        }
        Err(other) => Err(other.into()),
    }
}
