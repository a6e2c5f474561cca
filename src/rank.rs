//! Rank: whom a caller may act on. Organisation scoping alone is not enough:
//! an org admin of the default organisation must not deactivate a system
//! admin who happens to belong to it.
//!
//! The rule, written once (`Caller::may_grant`, `Caller::outranks`):
//! - A caller may grant a role to a user of organisation O if the caller is a
//!   system admin, or if the caller is an org admin of O and the role is
//!   neither `admin` nor `public` and is defined in O or in the default
//!   organisation (whose roles every organisation shares).
//! - A caller outranks a user of O (may deactivate, delete, change the roles
//!   of, or approve a role for them) if the caller is a system admin, or if
//!   the caller may grant, in O, every role the user holds.
//!
//! So an org admin acts on the plain members and on the peer org admins of
//! their own organisation (they can grant `org_admin` themselves, by
//! approving a request), never on a system admin, never on anyone in another
//! organisation (related organisations give no power over each other's
//! users), and never on the holder of a role another organisation defined.
//! Refusals are 403.

use crate::accounts::Caller;
use crate::authorization::PUBLIC_ROLE_ID;
use crate::bootstrap::{ADMIN_ROLE_ID, DEFAULT_ORGANIZATION_ID};
use crate::error::{Entity, Reason, ServiceError};
use crate::read_models::UserRow;
use crate::services::Services;
use projections::Statement;

/// A role someone holds, with the organisation that defined it (`None` if
/// the definition is not in the read model: only a system admin outranks that).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HeldRole {
    pub role_id: i64,
    pub defined_in: Option<i64>,
}

/// Whether an org admin of `organization_id` may grant `role` there (the
/// rule of `Caller::may_grant`, for work done later on an org admin's
/// behalf, such as a bulk invite).
pub fn org_admin_may_grant(role: &HeldRole, organization_id: i64) -> bool {
    role.role_id != ADMIN_ROLE_ID
        && role.role_id != PUBLIC_ROLE_ID
        && role.defined_in.is_some_and(|org| org == DEFAULT_ORGANIZATION_ID || org == organization_id)
}

impl Caller {
    /// Whether the caller may grant `role` to a user of `organization_id`.
    pub fn may_grant(&self, role: &HeldRole, organization_id: i64) -> bool {
        if self.is_admin() {
            return true;
        }
        self.administers(organization_id) && org_admin_may_grant(role, organization_id)
    }

    /// Whether the caller may act on a user of `organization_id` who holds `held`.
    pub fn outranks(&self, organization_id: i64, held: &[HeldRole]) -> bool {
        self.is_admin()
            || (self.administers(organization_id) && held.iter().all(|role| self.may_grant(role, organization_id)))
    }
}

const HELD_ROLES: &str = "SELECT DISTINCT ur.role_id, r.organization_id AS defined_in FROM user_roles ur \
     LEFT JOIN roles r ON r.id = ur.role_id";

impl Services {
    /// 403 unless the caller outranks `user`.
    pub async fn require_outranks(&self, caller: &Caller, user: &UserRow) -> Result<(), ServiceError> {
        if caller.is_admin() {
            return Ok(());
        }
        let held: Vec<HeldRole> = self
            .db
            .fetch_all(&Statement::new(
                format!("{HELD_ROLES} WHERE ur.user_uuid = $1"),
                vec![user.user_uuid.clone().into()],
            ))
            .await?;
        if caller.outranks(user.organization_id, &held) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden)
        }
    }

    /// 403 unless the caller outranks every active member of the organisation.
    pub async fn require_outranks_members(&self, caller: &Caller, organization_id: i64) -> Result<(), ServiceError> {
        if caller.is_admin() {
            return Ok(());
        }
        let held: Vec<HeldRole> = self
            .db
            .fetch_all(&Statement::new(
                format!(
                    "{HELD_ROLES} JOIN users u ON u.user_uuid = ur.user_uuid \
                     WHERE u.organization_id = $1 AND u.status = 'ACTIVE'"
                ),
                vec![organization_id.into()],
            ))
            .await?;
        if caller.outranks(organization_id, &held) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden)
        }
    }

    /// 403 unless the caller may grant the role to a user of `organization_id`;
    /// 400 if the role does not exist.
    pub async fn require_may_grant(
        &self,
        caller: &Caller,
        role_id: i64,
        organization_id: i64,
    ) -> Result<(), ServiceError> {
        let role: Option<HeldRole> = self
            .db
            .fetch_optional(&Statement::new(
                "SELECT id AS role_id, organization_id AS defined_in FROM roles WHERE id = $1",
                vec![role_id.into()],
            ))
            .await?;
        let role =
            role.ok_or_else(|| ServiceError::invalid("role_id", Reason::NotFound { entity: Entity::Role, id: None }))?;
        if caller.may_grant(&role, organization_id) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::ORG_ADMIN_ROLE_ID;

    const MENTEE: i64 = 3;
    const OTHER_ORG: i64 = 2;

    fn caller(role_ids: &[i64], organization_id: i64) -> Caller {
        Caller::for_tests(1, role_ids, organization_id, Default::default())
    }

    fn held(role_id: i64, defined_in: i64) -> HeldRole {
        HeldRole { role_id, defined_in: Some(defined_in) }
    }

    #[test]
    fn a_system_admin_outranks_everyone() {
        let admin = caller(&[ADMIN_ROLE_ID], DEFAULT_ORGANIZATION_ID);
        assert!(admin.outranks(OTHER_ORG, &[held(ADMIN_ROLE_ID, 1), held(9, OTHER_ORG)]));
        assert!(admin.may_grant(&held(ADMIN_ROLE_ID, 1), OTHER_ORG));
    }

    #[test]
    fn an_org_admin_outranks_members_and_peers_of_their_own_organisation_only() {
        let org_admin = caller(&[MENTEE, ORG_ADMIN_ROLE_ID], DEFAULT_ORGANIZATION_ID);
        assert!(org_admin.outranks(1, &[held(MENTEE, 1)]));
        assert!(org_admin.outranks(1, &[held(MENTEE, 1), held(ORG_ADMIN_ROLE_ID, 1)]));
        assert!(org_admin.outranks(1, &[]));
        assert!(!org_admin.outranks(1, &[held(ADMIN_ROLE_ID, 1)]));
        assert!(!org_admin.outranks(1, &[held(MENTEE, 1), held(ADMIN_ROLE_ID, 1)]));
        assert!(!org_admin.outranks(OTHER_ORG, &[held(MENTEE, 1)]));
        // A role another organisation defined, or one whose definition is unknown.
        assert!(!org_admin.outranks(1, &[held(9, OTHER_ORG)]));
        assert!(!org_admin.outranks(1, &[HeldRole { role_id: 9, defined_in: None }]));
    }

    #[test]
    fn an_org_admin_grants_shared_and_own_roles_but_never_admin_or_public() {
        let org_admin = caller(&[ORG_ADMIN_ROLE_ID], OTHER_ORG);
        assert!(org_admin.may_grant(&held(MENTEE, DEFAULT_ORGANIZATION_ID), OTHER_ORG));
        assert!(org_admin.may_grant(&held(ORG_ADMIN_ROLE_ID, DEFAULT_ORGANIZATION_ID), OTHER_ORG));
        assert!(org_admin.may_grant(&held(9, OTHER_ORG), OTHER_ORG));
        assert!(!org_admin.may_grant(&held(10, 3), OTHER_ORG));
        assert!(!org_admin.may_grant(&held(ADMIN_ROLE_ID, DEFAULT_ORGANIZATION_ID), OTHER_ORG));
        assert!(!org_admin.may_grant(&held(PUBLIC_ROLE_ID, DEFAULT_ORGANIZATION_ID), OTHER_ORG));
        assert!(!org_admin.may_grant(&held(MENTEE, DEFAULT_ORGANIZATION_ID), DEFAULT_ORGANIZATION_ID));
    }

    #[test]
    fn members_without_org_admin_outrank_nobody() {
        let mentee = caller(&[MENTEE], DEFAULT_ORGANIZATION_ID);
        assert!(!mentee.outranks(1, &[held(MENTEE, 1)]));
        assert!(!mentee.may_grant(&held(MENTEE, 1), 1));
    }
}
