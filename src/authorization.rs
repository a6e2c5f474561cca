//! Authorisation is data: roles hold permissions (module, methods, API
//! path), and one middleware checks every `/user/v1` route against the
//! caller's current roles. These are the defaults written at bootstrap;
//! admins change them through the permission APIs.

use aggregates::permission::permits;
use projections::{SqlValue, Statement};

use crate::storage::Db;

pub const PUBLIC_ROLE_ID: i64 = 7;

/// (numeric id, code, module, methods, api path)
pub type PermissionSeed = (i64, &'static str, &'static str, &'static [&'static str], &'static str);

pub const DEFAULT_PERMISSIONS: &[PermissionSeed] = &[
    (1, "account_sign_up", "account", &["POST"], "/user/v1/account/create"),
    (2, "account_login", "account", &["POST"], "/user/v1/account/login"),
    (3, "account_generate_token", "account", &["POST"], "/user/v1/account/generateToken"),
    (4, "admin_create", "admin", &["POST"], "/user/v1/admin/create"),
    (5, "admin_login", "admin", &["POST"], "/user/v1/admin/login"),
    (10, "account_logout", "account", &["POST"], "/user/v1/account/logout"),
    (11, "account_accept_terms", "account", &["PATCH"], "/user/v1/account/acceptTermsAndCondition"),
    (12, "account_list", "account", &["GET"], "/user/v1/account/list"),
    (13, "account_search", "account", &["POST"], "/user/v1/account/search"),
    (14, "user_read", "user", &["GET"], "/user/v1/user/read*"),
    (15, "user_update", "user", &["PATCH"], "/user/v1/user/update"),
    (16, "user_language", "user", &["PATCH"], "/user/v1/user/setLanguagePreference"),
    // Reaches every user's audit routes; the handlers let non-admins read only their own.
    (17, "audit_own_user", "audit", &["GET"], "/user/v1/audit/users/*"),
    (20, "organization_read", "organization", &["GET"], "/user/v1/organization/read"),
    (21, "organization_list", "organization", &["GET"], "/user/v1/organization/list"),
    (22, "organization_request_role", "organization", &["POST"], "/user/v1/organization/requestOrgRole"),
    (30, "org_admin_apis", "org-admin", &["*"], "/user/v1/org-admin/*"),
    (31, "organization_update", "organization", &["PATCH"], "/user/v1/organization/update/*"),
    (99, "all_apis", "system", &["*"], "/user/v1/*"),
];

const PUBLIC: &[i64] = &[1, 2, 3, 4, 5];
const SIGNED_IN: &[i64] = &[10, 11, 12, 13, 14, 15, 16, 17, 20, 21, 22];
const ORG_ADMIN: &[i64] = &[10, 11, 12, 13, 14, 15, 16, 17, 20, 21, 22, 30, 31];

/// Which default role holds which permissions.
pub fn default_grants(role_title: &str) -> &'static [i64] {
    match role_title {
        "public" => PUBLIC,
        "admin" => &[99],
        "org_admin" => ORG_ADMIN,
        "user" | "mentor" | "mentee" | "session_manager" => SIGNED_IN,
        _ => &[],
    }
}

/// Whether any of `role_ids` holds an active permission covering the route.
pub async fn allowed(db: &Db, role_ids: &[i64], route: &str, method: &str) -> Result<bool, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Grant {
        api_path: String,
        request_type: String,
    }
    let marks: Vec<String> = (1..=role_ids.len()).map(|i| format!("${i}")).collect();
    let grants: Vec<Grant> = db
        .fetch_all(&Statement::new(
            format!(
                "SELECT p.api_path, p.request_type FROM role_permissions rp JOIN permissions p ON p.id = rp.permission_id \
                 WHERE rp.role_id IN ({}) AND p.status = 'ACTIVE'",
                marks.join(", ")
            ),
            role_ids.iter().map(|id| SqlValue::Int(*id)).collect(),
        ))
        .await?;
    Ok(grants.iter().any(|g| {
        let methods: Vec<String> = serde_json::from_str(&g.request_type).unwrap_or_default();
        permits(&g.api_path, &methods, route, method)
    }))
}
