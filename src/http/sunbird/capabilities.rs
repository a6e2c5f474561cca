//! What each Sunbird route asks for (a capability, so the permission data
//! that grants an ELEVATE route grants the same action here), and how
//! Sunbird names it: the operation code of its `params.err` codes
//! (`UOS_<op><number>`) and its response `id`. Both forms of a route (the
//! gateway's `/api/user/vN/...` and the service's `/vN/user/...`) are listed.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::capabilities::Capability::{self, *};
use crate::capabilities::RouteCapability;

#[derive(Debug, Clone, Copy)]
pub struct SunbirdRoute {
    pub method: &'static str,
    pub path: &'static str,
    pub capability: Capability,
    /// Sunbird's operation code, e.g. `USRCRT`.
    pub op: &'static str,
    /// The response `id`; `{idType}` is replaced by the path's value.
    pub id: &'static str,
    /// One of Sunbird's private routes (account merge): its answers carry
    /// `id: null` and `ver: "private"`, as Sunbird's do.
    pub private: bool,
}

const fn sb(
    method: &'static str,
    path: &'static str,
    capability: Capability,
    op: &'static str,
    id: &'static str,
) -> SunbirdRoute {
    SunbirdRoute { method, path, capability, op, id, private: false }
}

const fn private(method: &'static str, path: &'static str, capability: Capability, op: &'static str) -> SunbirdRoute {
    SunbirdRoute { method, path, capability, op, id: "api.user.account.merge", private: true }
}

const CREATE: &str = "api.user.create";
const READ: &str = "api.user.read";
const GET: &str = "api.user.get.{idType}";
const EXISTS: &str = "api.user.exists.{idType}";
const UPDATE: &str = "api.user.update";
const SEARCH: &str = "api.user.search";
const ROLES: &str = "api.user.assign.role";
const MANAGED_CREATE: &str = "api.manageduser.create";
const MANAGED: &str = "api.user.managed";
const GET_USER: &str = "api.user.getuser";
const TNC: &str = "api.user.tnc.accept";
const MIGRATE: &str = "api.user.migrate";
const FEED_READ: &str = "api.user.feed.read";
const FEED_CREATE: &str = "api.user.feed.create";
const DECLARATIONS: &str = "api.user.declarations";

pub const ROUTES: &[SunbirdRoute] = &[
    // create: sign-ups and users created by a client app
    sb("POST", "/api/user/v1/create", AccountCreate, "USRCRT", CREATE),
    sb("POST", "/api/user/v2/create", AccountCreate, "USRCRT", CREATE),
    sb("POST", "/api/user/v3/create", AccountCreate, "USRCRT", CREATE),
    sb("POST", "/api/user/v1/sso/create", AccountCreate, "USRCRT", CREATE),
    sb("POST", "/api/user/v1/signup", AccountCreate, "USRCRT", CREATE),
    sb("POST", "/api/user/v2/signup", AccountCreate, "USRCRT", CREATE),
    sb("POST", "/v1/user/create", AccountCreate, "USRCRT", CREATE),
    sb("POST", "/v2/user/create", AccountCreate, "USRCRT", CREATE),
    sb("POST", "/v3/user/create", AccountCreate, "USRCRT", CREATE),
    sb("POST", "/v1/ssouser/create", AccountCreate, "USRCRT", CREATE),
    sb("POST", "/v1/user/signup", AccountCreate, "USRCRT", CREATE),
    sb("POST", "/v2/user/signup", AccountCreate, "USRCRT", CREATE),
    // read one user
    sb("GET", "/api/user/v1/read/{userId}", UserReadAny, "USRRED", READ),
    sb("GET", "/api/user/v2/read/{userId}", UserReadAny, "USRRED", READ),
    sb("GET", "/api/user/v3/read/{userId}", UserReadAny, "USRRED", READ),
    sb("GET", "/api/user/v4/read/{userId}", UserReadAny, "USRRED", READ),
    sb("GET", "/api/user/v5/read/{userId}", UserReadAny, "USRRED", READ),
    sb("GET", "/v1/user/read/{userId}", UserReadAny, "USRRED", READ),
    sb("GET", "/v2/user/read/{userId}", UserReadAny, "USRRED", READ),
    sb("GET", "/v3/user/read/{userId}", UserReadAny, "USRRED", READ),
    sb("GET", "/v4/user/read/{userId}", UserReadAny, "USRRED", READ),
    sb("GET", "/v5/user/read/{userId}", UserReadAny, "USRRED", READ),
    // a user by email, phone or login id; whether one exists
    sb("GET", "/api/user/v1/get/{idType}/{id}", UserSearch, "USRRED", GET),
    sb("GET", "/api/user/v2/get/{idType}/{id}", UserSearch, "USRRED", GET),
    sb("GET", "/v1/user/get/{idType}/{id}", UserSearch, "USRRED", GET),
    sb("GET", "/v2/user/get/{idType}/{id}", UserSearch, "USRRED", GET),
    sb("GET", "/api/user/v1/exists/{idType}/{id}", UserSearch, "UEXIST", EXISTS),
    sb("GET", "/api/user/v2/exists/{idType}/{id}", UserSearch, "UEXIST", EXISTS),
    sb("GET", "/v1/user/exists/{idType}/{id}", UserSearch, "UEXIST", EXISTS),
    sb("GET", "/v2/user/exists/{idType}/{id}", UserSearch, "UEXIST", EXISTS),
    // block and unblock: an admin, or an org admin of the user's organisation
    sb("POST", "/api/user/v1/block", UserDeactivateOrg, "USRBLOK", "api.user.block"),
    sb("POST", "/api/user/v1/unblock", UserDeactivateOrg, "USRUNBLOK", "api.user.unblock"),
    sb("POST", "/v1/user/block", UserDeactivateOrg, "USRBLOK", "api.user.block"),
    sb("POST", "/v1/user/unblock", UserDeactivateOrg, "USRUNBLOK", "api.user.unblock"),
    // update: oneself, or a user one administers (checked by the use case)
    sb("PATCH", "/api/user/v1/update", UserUpdateSelf, "USRUPD", UPDATE),
    sb("PATCH", "/api/user/v2/update", UserUpdateSelf, "USRUPD", UPDATE),
    sb("PATCH", "/api/user/v3/update", UserUpdateSelf, "USRUPD", UPDATE),
    sb("PATCH", "/v1/user/update", UserUpdateSelf, "USRUPD", UPDATE),
    sb("PATCH", "/v2/user/update", UserUpdateSelf, "USRUPD", UPDATE),
    sb("PATCH", "/v3/user/update", UserUpdateSelf, "USRUPD", UPDATE),
    // search
    sb("POST", "/api/user/v1/search", UserSearch, "USRSER", SEARCH),
    sb("POST", "/api/user/v2/search", UserSearch, "USRSER", SEARCH),
    sb("POST", "/api/user/v3/search", UserSearch, "USRSER", SEARCH),
    sb("POST", "/v1/user/search", UserSearch, "USRSER", SEARCH),
    sb("POST", "/v2/user/search", UserSearch, "USRSER", SEARCH),
    sb("POST", "/v3/user/search", UserSearch, "USRSER", SEARCH),
    // roles: v1 replaces the set in one organisation, v2 adds and removes
    sb("POST", "/api/user/v1/role/assign", UserRoleAssign, "ROLUPD", ROLES),
    sb("POST", "/api/user/v2/role/assign", UserRoleAssign, "ROLUPD", ROLES),
    sb("POST", "/v1/user/assign/role", UserRoleAssign, "ROLUPD", ROLES),
    sb("POST", "/v2/user/assign/role", UserRoleAssign, "ROLUPD", ROLES),
    // managed users: created by the signed-in user who manages them (the
    // use case checks that `managedBy` is the caller), and listed
    sb("POST", "/api/user/v4/create", AccountCreate, "USRCRT", CREATE),
    sb("POST", "/api/user/v1/managed/create", AccountCreate, "USRCRT", MANAGED_CREATE),
    sb("POST", "/v4/user/create", AccountCreate, "USRCRT", CREATE),
    sb("POST", "/v1/manageduser/create", AccountCreate, "USRCRT", MANAGED_CREATE),
    // Sunbird's v2 form (the same controller); its gateway form by analogy with v1's
    sb("POST", "/api/user/v2/managed/create", AccountCreate, "USRCRT", MANAGED_CREATE),
    sb("POST", "/v2/manageduser/create", AccountCreate, "USRCRT", MANAGED_CREATE),
    sb("GET", "/api/user/v1/managed/{userId}", UserReadAny, "USRRED", MANAGED),
    sb("GET", "/v1/user/managed/{userId}", UserReadAny, "USRRED", MANAGED),
    // a user by login id, in the body
    sb("POST", "/api/user/v1/profile/read", UserSearch, "USRRED", GET_USER),
    sb("POST", "/v1/user/getuser", UserSearch, "USRRED", GET_USER),
    // terms and conditions: one's own, or a managed user's
    sb("POST", "/api/user/v1/tnc/accept", UserTermsAcceptSelf, "TNCACCPT", TNC),
    sb("POST", "/v1/user/tnc/accept", UserTermsAcceptSelf, "TNCACCPT", TNC),
    // account merge: the target is the acting user, the source proves
    // itself with `x-source-user-token` (checked by the use case)
    private("PATCH", "/api/user/v1/account/merge", UserUpdateSelf, "USRMRG"),
    private("PATCH", "/private/user/v1/account/merge", UserUpdateSelf, "USRMRG"),
    // migration: one's own answer to a prospect; the prospects as one's
    // feed; an admin adds one (it moves a user into an organisation, as a
    // role assignment does)
    sb("POST", "/api/user/v1/migrate", UserUpdateSelf, "USRMIG", MIGRATE),
    sb("POST", "/v1/user/migrate", UserUpdateSelf, "USRMIG", MIGRATE),
    sb("GET", "/api/user/v1/feed/{userId}", UserReadSelf, "FEEDRED", FEED_READ),
    sb("GET", "/v1/user/feed/{userId}", UserReadSelf, "FEEDRED", FEED_READ),
    sb("POST", "/api/user/v1/feed/create", UserRoleAssign, "FEEDCRT", FEED_CREATE),
    sb("POST", "/v1/user/feed/create", UserRoleAssign, "FEEDCRT", FEED_CREATE),
    // self-declarations: one's own, or a user one administers (checked by the use case)
    sb("PATCH", "/api/user/v1/declarations", UserUpdateSelf, "UDECLUPD", DECLARATIONS),
    sb("PATCH", "/v1/user/declarations", UserUpdateSelf, "UDECLUPD", DECLARATIONS),
];

/// The table as the authorisation check reads every dialect's.
pub fn route_capabilities() -> &'static [RouteCapability] {
    static TABLE: OnceLock<Vec<RouteCapability>> = OnceLock::new();
    TABLE.get_or_init(|| {
        ROUTES.iter().map(|r| RouteCapability { method: r.method, path: r.path, capability: r.capability }).collect()
    })
}

/// The route a matched path is (any method: a 405 still names its operation).
pub fn route_at(path: &str) -> Option<&'static SunbirdRoute> {
    static BY_PATH: OnceLock<HashMap<&'static str, &'static SunbirdRoute>> = OnceLock::new();
    BY_PATH.get_or_init(|| ROUTES.iter().map(|r| (r.path, r)).collect()).get(path).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_gateway_route_has_its_service_form_and_one_operation_per_path() {
        let mut paths = std::collections::HashSet::new();
        for route in ROUTES {
            assert!(paths.insert((route.method, route.path)), "{} twice", route.path);
            assert!(route.op.chars().all(|c| c.is_ascii_uppercase()), "{}", route.op);
            assert!(route.id.starts_with("api."), "{}", route.id);
        }
        let gateway = ROUTES.iter().filter(|r| r.path.starts_with("/api/user/")).count();
        assert_eq!(gateway * 2, ROUTES.len(), "as many service-form routes as gateway ones");
    }
}
