//! The capability each ELEVATE route asks for. This table is also how
//! ELEVATE's permission data (`module`, `api_path`, `request_type`) is read:
//! a permission grants the capabilities of the routes its `api_path` and
//! `request_type` cover (`authorization::GrantCache`), so a route of another
//! dialect asking for the same capability needs no permission of its own.
//!
//! Aliases of one action (`userRole` and `user-role`, the two forms of
//! `getRequestDetails`) share a capability: a permission for one alias
//! covers the other.

use crate::capabilities::Capability::*;
use crate::capabilities::{route, RouteCapability};

pub const ROUTES: &[RouteCapability] = &[
    // account
    route("POST", "/user/v1/account/create", AccountCreate),
    route("POST", "/user/v1/account/login", SessionLogin),
    route("POST", "/user/v1/account/generateToken", SessionRefresh),
    route("POST", "/user/v1/account/logout", SessionLogout),
    route("PATCH", "/user/v1/account/acceptTermsAndCondition", UserTermsAcceptSelf),
    route("GET", "/user/v1/account/list", UserList),
    route("POST", "/user/v1/account/search", UserSearch),
    // user
    route("GET", "/user/v1/user/read", UserReadSelf),
    route("GET", "/user/v1/user/read/{id}", UserReadAny),
    route("PATCH", "/user/v1/user/update", UserUpdateSelf),
    route("PATCH", "/user/v1/user/setLanguagePreference", UserLanguageUpdateSelf),
    // admin
    route("POST", "/user/v1/admin/create", AdminCreate),
    route("POST", "/user/v1/admin/login", AdminLogin),
    route("POST", "/user/v1/admin/addOrgAdmin", OrgAdminAdd),
    route("POST", "/user/v1/admin/deactivateOrg/{id}", OrgDeactivate),
    route("POST", "/user/v1/admin/deactivateUser", UserDeactivateAny),
    route("DELETE", "/user/v1/admin/deleteUser/{id}", UserDeleteAny),
    route("POST", "/user/v1/admin/assignRole", UserRoleAssign),
    // organization
    route("POST", "/user/v1/organization/create", OrgCreate),
    route("PATCH", "/user/v1/organization/update/{id}", OrgUpdate),
    route("GET", "/user/v1/organization/list", OrgList),
    route("GET", "/user/v1/organization/read", OrgRead),
    route("POST", "/user/v1/organization/requestOrgRole", OrgRequestCreate),
    // org-admin
    route("POST", "/user/v1/org-admin/getRequests", OrgRequestList),
    route("POST", "/user/v1/org-admin/updateRequestStatus", OrgRequestDecide),
    route("GET", "/user/v1/org-admin/getRequestDetails", OrgRequestRead),
    route("GET", "/user/v1/org-admin/getRequestDetails/{id}", OrgRequestRead),
    route("POST", "/user/v1/org-admin/deactivateUser", UserDeactivateOrg),
    // catalogue: roles, under both spellings
    route("POST", "/user/v1/userRole/create", RoleCreate),
    route("POST", "/user/v1/userRole/update/{id}", RoleUpdate),
    route("PATCH", "/user/v1/userRole/update/{id}", RoleUpdate),
    route("DELETE", "/user/v1/userRole/delete/{id}", RoleDelete),
    route("GET", "/user/v1/userRole/list", RoleList),
    route("POST", "/user/v1/user-role/create", RoleCreate),
    route("POST", "/user/v1/user-role/update/{id}", RoleUpdate),
    route("PATCH", "/user/v1/user-role/update/{id}", RoleUpdate),
    route("DELETE", "/user/v1/user-role/delete/{id}", RoleDelete),
    route("GET", "/user/v1/user-role/list", RoleList),
    // catalogue: role-permission mappings, under both spellings
    route("POST", "/user/v1/rolePermissionMapping/create/{role_id}", RolePermissionGrant),
    route("POST", "/user/v1/rolePermissionMapping/delete/{role_id}", RolePermissionRevoke),
    route("POST", "/user/v1/rolePermissionMapping/list", RolePermissionList),
    route("POST", "/user/v1/role-permission-mapping/create/{role_id}", RolePermissionGrant),
    route("POST", "/user/v1/role-permission-mapping/delete/{role_id}", RolePermissionRevoke),
    route("POST", "/user/v1/role-permission-mapping/list", RolePermissionList),
    // catalogue: modules and permissions
    route("POST", "/user/v1/modules/create", ModuleCreate),
    route("POST", "/user/v1/modules/update/{id}", ModuleUpdate),
    route("PATCH", "/user/v1/modules/update/{id}", ModuleUpdate),
    route("DELETE", "/user/v1/modules/delete/{id}", ModuleDelete),
    route("GET", "/user/v1/modules/list", ModuleList),
    route("POST", "/user/v1/permissions/create", PermissionCreate),
    route("POST", "/user/v1/permissions/update/{id}", PermissionUpdate),
    route("PATCH", "/user/v1/permissions/update/{id}", PermissionUpdate),
    route("DELETE", "/user/v1/permissions/delete/{id}", PermissionDelete),
    route("GET", "/user/v1/permissions/list", PermissionList),
    // audit
    route("GET", "/user/v1/audit/events", AuditEventsRead),
    route("GET", "/user/v1/audit/users/{id}/history", AuditUserRead),
    route("GET", "/user/v1/audit/users/{id}/state", AuditUserRead),
    route("GET", "/user/v1/audit/organizations/{id}/history", AuditOrganizationRead),
];
