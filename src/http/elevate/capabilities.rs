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
    route("GET", "/user/v1/account/search", UserSearch),
    route("POST", "/user/v1/account/registrationOtp", OtpRegistrationRequest),
    route("POST", "/user/v1/account/generateOtp", OtpResetRequest),
    route("POST", "/user/v1/account/resetPassword", PasswordReset),
    route("POST", "/user/v1/account/changePassword", PasswordChangeSelf),
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
    route("POST", "/user/v1/admin/apiKey/create", ApiKeyManage),
    route("GET", "/user/v1/admin/apiKey/list", ApiKeyManage),
    route("POST", "/user/v1/admin/apiKey/revoke/{id}", ApiKeyManage),
    route("POST", "/user/v1/admin/registerApp", ClientAppRegister),
    // organization
    route("POST", "/user/v1/organization/create", OrgCreate),
    route("PATCH", "/user/v1/organization/update/{id}", OrgUpdate),
    route("POST", "/user/v1/organization/update/{id}", OrgUpdate),
    route("GET", "/user/v1/organization/list", OrgList),
    route("GET", "/user/v1/organization/read", OrgRead),
    route("POST", "/user/v1/organization/requestOrgRole", OrgRequestCreate),
    // org-admin
    route("POST", "/user/v1/org-admin/getRequests", OrgRequestList),
    route("POST", "/user/v1/org-admin/updateRequestStatus", OrgRequestDecide),
    route("GET", "/user/v1/org-admin/getRequestDetails", OrgRequestRead),
    route("GET", "/user/v1/org-admin/getRequestDetails/{id}", OrgRequestRead),
    route("POST", "/user/v1/org-admin/deactivateUser", UserDeactivateOrg),
    route("POST", "/user/v1/org-admin/bulkUserCreate", UserBulkInvite),
    route("GET", "/user/v1/org-admin/getBulkInvitesFilesList", UserBulkInvite),
    route("POST", "/user/v1/org-admin/deactivateUser/{id}", UserDeactivateOrg),
    // catalogue: roles, under both spellings
    route("POST", "/user/v1/userRole/create", RoleCreate),
    route("POST", "/user/v1/userRole/Create", RoleCreate),
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
    // forms
    route("POST", "/user/v1/form/create", FormWrite),
    route("POST", "/user/v1/form/update", FormWrite),
    route("PATCH", "/user/v1/form/update", FormWrite),
    route("POST", "/user/v1/form/update/{id}", FormWrite),
    route("PATCH", "/user/v1/form/update/{id}", FormWrite),
    route("POST", "/user/v1/form/read", FormRead),
    route("GET", "/user/v1/form/read", FormRead),
    route("POST", "/user/v1/form/read/{id}", FormRead),
    route("GET", "/user/v1/form/read/{id}", FormRead),
    // notification templates
    route("POST", "/user/v1/notification/template", NotificationTemplateWrite),
    route("PATCH", "/user/v1/notification/template", NotificationTemplateWrite),
    route("PATCH", "/user/v1/notification/template/{id}", NotificationTemplateWrite),
    route("GET", "/user/v1/notification/template", NotificationTemplateRead),
    route("GET", "/user/v1/notification/template/{id}", NotificationTemplateRead),
    // entity types and entities
    route("POST", "/user/v1/entity-type/create", EntityTypeWrite),
    route("POST", "/user/v1/entity-type/update/{id}", EntityTypeWrite),
    route("PATCH", "/user/v1/entity-type/update/{id}", EntityTypeWrite),
    route("DELETE", "/user/v1/entity-type/delete/{id}", EntityTypeWrite),
    route("POST", "/user/v1/entity-type/delete/{id}", EntityTypeWrite),
    route("POST", "/user/v1/entity-type/read", EntityTypeRead),
    route("GET", "/user/v1/entity-type/read", EntityTypeRead),
    route("POST", "/user/v1/org-admin/inheritEntityType", EntityTypeWrite),
    route("POST", "/user/v1/entity/create", EntityWrite),
    route("POST", "/user/v1/entity/update/{id}", EntityWrite),
    route("PATCH", "/user/v1/entity/update/{id}", EntityWrite),
    route("DELETE", "/user/v1/entity/delete/{id}", EntityWrite),
    route("POST", "/user/v1/entity/delete/{id}", EntityWrite),
    route("GET", "/user/v1/entity/read", EntityRead),
    route("POST", "/user/v1/entity/read", EntityRead),
    route("GET", "/user/v1/entity/list", EntityRead),
    route("POST", "/user/v1/entity/list", EntityRead),
    // files
    route("GET", "/user/v1/cloud-services/file/getSignedUrl", FileLink),
    route("POST", "/user/v1/cloud-services/file/getSignedUrl", FileLink),
    route("GET", "/user/v1/cloud-services/file/getDownloadableUrl", FileLink),
    route("POST", "/user/v1/cloud-services/file/getDownloadableUrl", FileLink),
    route("GET", "/user/v1/cloud-services/file/getSampleCSV", FileLink),
    route("POST", "/user/v1/cloud-services/file/getSampleCSV", FileLink),
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

/// The default ELEVATE permissions read through this table (here, so that
/// `authorization` stays below HTTP).
#[cfg(test)]
mod default_permissions {
    use super::ROUTES as ELEVATE_ROUTES;
    use crate::authorization::*;
    use crate::capabilities::Capability::{self, *};
    use crate::capabilities::CapabilitySet;

    fn of_permission(id: i64) -> CapabilitySet {
        let (_, _, _, methods, path) = DEFAULT_PERMISSIONS.iter().find(|p| p.0 == id).unwrap();
        let methods: Vec<String> = methods.iter().map(|m| m.to_string()).collect();
        granted_by(ELEVATE_ROUTES, path, &methods)
    }

    fn of_role(title: &str) -> CapabilitySet {
        default_grants(title).iter().fold(CapabilitySet::default(), |all, id| all.union(of_permission(*id)))
    }

    #[test]
    fn every_default_permission_grants_something() {
        for (id, code, ..) in DEFAULT_PERMISSIONS {
            assert!(of_permission(*id).iter().count() > 0, "{code} covers no route");
        }
    }

    #[test]
    fn default_permissions_read_as_the_capabilities_of_their_routes() {
        let read: Vec<Capability> = of_permission(14).iter().collect();
        assert_eq!(read, [UserReadSelf, UserReadAny], "user/read* covers both reads");
        let all = of_permission(99);
        let routed: CapabilitySet = ELEVATE_ROUTES.iter().map(|r| r.capability).collect();
        assert_eq!(all, routed, "/user/v1/* grants every route's capability");
        assert!(all.contains(UserContactRead), "and what they imply");
    }

    #[test]
    fn only_administrators_see_contacts_by_default() {
        for title in ["public", "user", "mentor", "mentee", "session_manager"] {
            assert!(!of_role(title).contains(UserContactRead), "{title}");
        }
        assert!(of_role("org_admin").contains(UserContactRead));
        assert!(of_role("org_admin").contains(UserDeactivateOrg));
        assert!(!of_role("org_admin").contains(UserDeactivateAny));
        assert!(of_role("admin").contains(UserContactRead));
    }

    #[test]
    fn a_method_outside_the_permission_grants_nothing() {
        assert_eq!(granted_by(ELEVATE_ROUTES, "/user/v1/user/read*", &["PATCH".to_string()]), CapabilitySet::default());
        assert_eq!(
            granted_by(ELEVATE_ROUTES, "/user/v1/no-such-module/*", &["*".to_string()]),
            CapabilitySet::default()
        );
    }

    /// The grant cache is invalidated by exactly these projections; it must
    /// cover every table the grants are read from.
    #[test]
    fn the_grant_projections_write_every_table_grants_are_read_from() {
        let registry = projections::registry();
        let written: Vec<&str> = registry
            .iter()
            .filter(|p| GRANT_PROJECTIONS.contains(&p.name()))
            .flat_map(|p| p.tables().iter().copied())
            .collect();
        assert_eq!(registry.iter().filter(|p| GRANT_PROJECTIONS.contains(&p.name())).count(), GRANT_PROJECTIONS.len());
        for table in ["role_permissions", "permissions"] {
            assert!(written.contains(&table), "{table} is not written by a grant projection");
        }
        // No other projection writes them behind the cache's back.
        for projection in registry.iter().filter(|p| !GRANT_PROJECTIONS.contains(&p.name())) {
            assert!(!projection.tables().iter().any(|t| ["role_permissions", "permissions"].contains(t)));
        }
    }
}
