//! Capabilities: the actions a caller may take, named once for every API
//! dialect. A route asks for one capability; a role holds the capabilities
//! its permissions reach (`authorization`), so one permission covers the same
//! action in every dialect. Which users or organisations an action may touch
//! (self, own organisation, any) is decided in the use cases, from the
//! caller's capabilities together with their roles and organisation.
//!
//! Codes are stable: they are what operators read in the README and logs,
//! and a dialect's route table names them. Rename a variant freely, never a
//! code.

use std::fmt;

macro_rules! capabilities {
    ($($(#[$doc:meta])* $variant:ident = $code:literal,)+) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Capability {
            $($(#[$doc])* $variant,)+
        }

        impl Capability {
            pub const ALL: &'static [Capability] = &[$(Capability::$variant,)+];

            pub fn code(self) -> &'static str {
                match self {
                    $(Capability::$variant => $code,)+
                }
            }
        }
    };
}

capabilities! {
    /// Sign up.
    AccountCreate = "account.create",
    /// Log in with a password.
    SessionLogin = "session.login",
    /// Trade a refresh token for new tokens.
    SessionRefresh = "session.refresh",
    SessionLogout = "session.logout",
    /// Ask for an OTP to sign up with (mailed to the address).
    OtpRegistrationRequest = "otp.registration.request",
    /// Ask for an OTP to reset a forgotten password.
    OtpResetRequest = "otp.reset.request",
    /// Reset a password with an OTP.
    PasswordReset = "password.reset",
    /// Change one's own password with the old one.
    PasswordChangeSelf = "password.change.self",
    /// Create a system admin (the request also needs the admin secret).
    AdminCreate = "admin.create",
    AdminLogin = "admin.login",
    UserTermsAcceptSelf = "user.terms.accept.self",
    UserReadSelf = "user.read.self",
    /// Any user's profile, in the view the caller may see (`visibility`).
    UserReadAny = "user.read.any",
    /// Lists of users, in the view the caller may see of each.
    UserList = "user.list",
    /// Searches of users by ids, emails and a term.
    UserSearch = "user.search",
    UserUpdateSelf = "user.update.self",
    UserLanguageUpdateSelf = "user.language.update.self",
    /// Deactivate users of the caller's own organisation.
    UserDeactivateOrg = "user.deactivate.org",
    /// Deactivate users of any organisation the caller administers.
    UserDeactivateAny = "user.deactivate.any",
    UserDeleteAny = "user.delete.any",
    UserRoleAssign = "user.role.assign",
    /// Invite users to the caller's organisation from a CSV, and list those jobs.
    UserBulkInvite = "user.bulk.invite",
    /// Create users in, and change and read the users of, the organisations
    /// the caller administers (entity v5's routes). No ELEVATE route asks
    /// for it: deactivating users of an organisation implies it (`implied`).
    UserManageOrg = "user.manage.org",
    /// Register a client application (entity v5's `X-APP-ID`).
    ClientAppRegister = "app.register",
    /// See the contact and personal data (email, phone, ...) of the users
    /// the caller administers. No route asks for it; the capabilities of
    /// acting on users picked by their identity imply it (`implied`).
    UserContactRead = "user.contact.read",
    OrgCreate = "org.create",
    OrgUpdate = "org.update",
    OrgList = "org.list",
    OrgRead = "org.read",
    OrgDeactivate = "org.deactivate",
    /// Make a user an org admin.
    OrgAdminAdd = "org.admin.add",
    /// Ask for a role in one's organisation.
    OrgRequestCreate = "org.request.create",
    OrgRequestList = "org.request.list",
    OrgRequestRead = "org.request.read",
    OrgRequestDecide = "org.request.decide",
    RoleCreate = "role.create",
    RoleUpdate = "role.update",
    RoleDelete = "role.delete",
    RoleList = "role.list",
    RolePermissionGrant = "role.permission.grant",
    RolePermissionRevoke = "role.permission.revoke",
    RolePermissionList = "role.permission.list",
    ModuleCreate = "module.create",
    ModuleUpdate = "module.update",
    ModuleDelete = "module.delete",
    ModuleList = "module.list",
    PermissionCreate = "permission.create",
    PermissionUpdate = "permission.update",
    PermissionDelete = "permission.delete",
    PermissionList = "permission.list",
    AuditEventsRead = "audit.events.read",
    /// A user's history and past state (self or, for admins, anyone).
    AuditUserRead = "audit.user.read",
    AuditOrganizationRead = "audit.organization.read",
    /// Create and update forms (of the caller's organisation).
    FormWrite = "form.write",
    /// Read forms: the caller's organisation's, or the default one's.
    FormRead = "form.read",
    /// Create and change the notification templates of the caller's organisation.
    NotificationTemplateWrite = "notification.template.write",
    NotificationTemplateRead = "notification.template.read",
    /// Create, change and delete the entity types of the organisations the
    /// caller administers, and inherit the default organisation's.
    EntityTypeWrite = "entity.type.write",
    /// Read entity types: the caller's organisation's and the default one's.
    EntityTypeRead = "entity.type.read",
    /// Create, change and delete entities of those types.
    EntityWrite = "entity.write",
    EntityRead = "entity.read",
    /// Links to upload a file and to download stored ones.
    FileLink = "file.link",
    /// Issue, list and revoke the API keys of client applications.
    ApiKeyManage = "client.key.manage",
}

impl Capability {
    /// Capabilities that come with this one. Whoever may deactivate, delete
    /// or promote users, or assign them roles, picks them by identity (the
    /// deactivation routes take emails), so may see their contact data.
    pub fn implied(self) -> &'static [Capability] {
        use Capability::*;
        match self {
            // Who may deactivate an organisation's users administers them:
            // they may manage them (entity v5) too.
            UserDeactivateOrg | UserDeactivateAny => &[UserContactRead, UserManageOrg],
            UserDeleteAny | UserRoleAssign | OrgAdminAdd => &[UserContactRead],
            _ => &[],
        }
    }

    fn bit(self) -> u128 {
        1 << (self as u32)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A set of capabilities: one machine word, so a caller's set is the union
/// of their roles' sets at the cost of a few ORs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapabilitySet(u128);

impl CapabilitySet {
    /// Adds `capability` and what it implies.
    pub fn insert(&mut self, capability: Capability) {
        self.0 |= capability.bit();
        for implied in capability.implied() {
            self.0 |= implied.bit();
        }
    }

    pub fn contains(&self, capability: Capability) -> bool {
        self.0 & capability.bit() != 0
    }

    pub fn union(self, other: CapabilitySet) -> CapabilitySet {
        CapabilitySet(self.0 | other.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = Capability> + '_ {
        Capability::ALL.iter().copied().filter(|c| self.contains(*c))
    }
}

impl FromIterator<Capability> for CapabilitySet {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut set = CapabilitySet::default();
        for capability in iter {
            set.insert(capability);
        }
        set
    }
}

/// One route of a dialect and the capability it asks for. `path` is the
/// route as the router matches it (`MatchedPath`, with `{id}` parameters).
#[derive(Debug, Clone, Copy)]
pub struct RouteCapability {
    pub method: &'static str,
    pub path: &'static str,
    pub capability: Capability,
}

/// Shorthand for route tables.
pub const fn route(method: &'static str, path: &'static str, capability: Capability) -> RouteCapability {
    RouteCapability { method, path, capability }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_unique_and_shaped_alike() {
        let codes: HashSet<&str> = Capability::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(codes.len(), Capability::ALL.len());
        for code in codes {
            assert!(
                code.split('.').count() >= 2
                    && code.split('.').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase())),
                "{code}"
            );
        }
    }

    #[test]
    fn every_capability_fits_the_set() {
        assert!(Capability::ALL.len() <= 128);
        let all: CapabilitySet = Capability::ALL.iter().copied().collect();
        assert_eq!(all.iter().count(), Capability::ALL.len());
    }

    #[test]
    fn acting_on_users_by_identity_implies_seeing_their_contacts() {
        let set: CapabilitySet = [Capability::UserDeactivateOrg].into_iter().collect();
        assert!(set.contains(Capability::UserContactRead));
        let set: CapabilitySet = [Capability::UserReadAny, Capability::UserList].into_iter().collect();
        assert!(!set.contains(Capability::UserContactRead));
        assert!(set.union(CapabilitySet::default()).contains(Capability::UserList));
    }
}
