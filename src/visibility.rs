//! Field-level visibility: whose contact and personal data (email, phone,
//! username, gender, location, ...) a caller may see. Everyone sees their
//! own; beyond that it takes the `user.contact.read` capability *and* power
//! over the user: a system admin over every user, an org admin over the
//! users of their organisation, as the use cases scope every other action.
//! Everyone else gets the public profile. Every route that renders another
//! user asks here, through `ContactScope`.

use crate::accounts::Caller;
use crate::bootstrap::ORG_ADMIN_ROLE_ID;
use crate::capabilities::Capability;

/// How much of a user a caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileView {
    /// Everything a profile holds.
    Full,
    /// What any signed-in user may see of anyone (`PUBLIC_PROFILE_FIELDS`).
    Public,
}

/// The users whose contact data a caller may see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ContactScope {
    Everyone,
    /// The users of one organisation, and the caller.
    Organization {
        organization_id: i64,
        caller_id: i64,
    },
    /// The caller alone.
    Themselves {
        caller_id: i64,
    },
    /// No one (no caller): the safe default.
    #[default]
    Nobody,
}

impl ContactScope {
    pub fn of(caller: &Caller) -> ContactScope {
        let caller_id = caller.numeric_id();
        if !caller.can(Capability::UserContactRead) {
            ContactScope::Themselves { caller_id }
        } else if caller.is_admin() {
            ContactScope::Everyone
        } else if caller.role_ids.contains(&ORG_ADMIN_ROLE_ID) {
            ContactScope::Organization { organization_id: caller.organization_id, caller_id }
        } else {
            ContactScope::Themselves { caller_id }
        }
    }

    /// Whether the contact data of user `user_id` of `organization_id` is in scope.
    pub fn covers(&self, user_id: i64, organization_id: i64) -> bool {
        match *self {
            ContactScope::Everyone => true,
            ContactScope::Organization { organization_id: own, caller_id } => {
                user_id == caller_id || organization_id == own
            }
            ContactScope::Themselves { caller_id } => user_id == caller_id,
            ContactScope::Nobody => false,
        }
    }

    pub fn view_of(&self, user_id: i64, organization_id: i64) -> ProfileView {
        if self.covers(user_id, organization_id) {
            ProfileView::Full
        } else {
            ProfileView::Public
        }
    }
}

/// The fields of the public profile: who the user is in the service (name,
/// picture, about, languages, organisation, roles), none of how to reach or
/// identify them (email, phone, username), nor personal details (gender,
/// location) or account state (terms, last login, language preference).
pub const PUBLIC_PROFILE_FIELDS: &[&str] = &[
    "id",
    "uuid",
    "name",
    "about",
    "image",
    "languages",
    "status",
    "organization_id",
    "organization",
    "roles",
    "user_roles",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::ADMIN_ROLE_ID;
    use crate::capabilities::CapabilitySet;

    const MENTEE: i64 = 3;

    fn caller(id: i64, role_ids: &[i64], organization_id: i64, capabilities: &[Capability]) -> Caller {
        let capabilities: CapabilitySet = capabilities.iter().copied().collect();
        Caller::for_tests(id, role_ids, organization_id, capabilities)
    }

    #[test]
    fn everyone_sees_themselves_in_full() {
        let mentee = caller(7, &[MENTEE], 1, &[]);
        assert_eq!(ContactScope::of(&mentee).view_of(7, 1), ProfileView::Full);
        assert_eq!(ContactScope::of(&mentee).view_of(8, 1), ProfileView::Public, "not a colleague");
    }

    #[test]
    fn org_admins_see_their_organisation_in_full() {
        let org_admin = caller(7, &[ORG_ADMIN_ROLE_ID], 1, &[Capability::UserDeactivateOrg]);
        let scope = ContactScope::of(&org_admin);
        assert_eq!(scope.view_of(8, 1), ProfileView::Full);
        assert_eq!(scope.view_of(9, 2), ProfileView::Public);
    }

    #[test]
    fn system_admins_see_everyone_in_full() {
        let admin = caller(7, &[ADMIN_ROLE_ID], 1, &[Capability::UserDeactivateAny]);
        assert_eq!(ContactScope::of(&admin), ContactScope::Everyone);
    }

    #[test]
    fn the_role_without_the_capability_or_the_capability_without_the_role_is_not_enough() {
        let revoked = caller(7, &[ORG_ADMIN_ROLE_ID, ADMIN_ROLE_ID], 1, &[Capability::UserList]);
        assert_eq!(ContactScope::of(&revoked), ContactScope::Themselves { caller_id: 7 });
        let granted = caller(7, &[MENTEE], 1, &[Capability::UserContactRead]);
        assert_eq!(ContactScope::of(&granted), ContactScope::Themselves { caller_id: 7 });
    }
}
