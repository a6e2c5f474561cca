//! Authorisation is data: roles hold permissions (module, methods, API
//! path), and one middleware checks every `/user/v1` route against the
//! caller's current roles. These are the defaults written at bootstrap;
//! admins change them through the permission APIs.

use std::sync::Arc;

use aggregates::permission::permits;
use projections::Statement;

use crate::projector::Projector;
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

/// The projections whose read tables grants are read from.
pub const GRANT_PROJECTIONS: [&str; 2] = ["roles", "permissions"];

/// One active grant: a role may call `api_path` with `methods`.
struct Grant {
    role_id: i64,
    api_path: String,
    methods: Vec<String>,
}

/// Every active grant, held in memory and read again as soon as the tables of
/// a projection that writes grants may have changed on this instance
/// (`Projector::changes_of`). On the instance that ran the change, its
/// read-your-writes wait ends after that, so a permission change counts at
/// the next request; other instances follow within their checkpoint polling
/// (100 ms). Saves a query on every request.
#[derive(Default)]
pub struct GrantCache {
    loaded: std::sync::RwLock<Option<LoadedGrants>>,
}

/// The grants, with the change counts of `GRANT_PROJECTIONS` read before them.
type LoadedGrants = (Vec<u64>, Arc<Vec<Grant>>);

impl GrantCache {
    /// Whether any of `role_ids` holds an active permission covering the route.
    pub async fn allowed(
        &self,
        db: &Db,
        projector: &Projector,
        role_ids: &[i64],
        route: &str,
        method: &str,
    ) -> Result<bool, sqlx::Error> {
        // Read before the grants are: a stale version only costs a reload.
        let version: Option<Vec<u64>> = GRANT_PROJECTIONS.iter().map(|name| projector.changes_of(name)).collect();
        let cached = match (&version, &*self.loaded.read().unwrap_or_else(|p| p.into_inner())) {
            (Some(version), Some((at, grants))) if at == version => Some(grants.clone()),
            _ => None,
        };
        let grants = match cached {
            Some(grants) => grants,
            None => {
                let grants = Arc::new(load_grants(db).await?);
                if let Some(version) = version {
                    *self.loaded.write().unwrap_or_else(|p| p.into_inner()) = Some((version, grants.clone()));
                }
                grants
            }
        };
        Ok(grants.iter().any(|g| role_ids.contains(&g.role_id) && permits(&g.api_path, &g.methods, route, method)))
    }
}

async fn load_grants(db: &Db) -> Result<Vec<Grant>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        role_id: i64,
        api_path: String,
        request_type: String,
    }
    let rows: Vec<Row> = db
        .fetch_all(&Statement::new(
            "SELECT rp.role_id, p.api_path, p.request_type FROM role_permissions rp \
             JOIN permissions p ON p.id = rp.permission_id WHERE p.status = 'ACTIVE'",
            vec![],
        ))
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| Grant {
            role_id: row.role_id,
            methods: serde_json::from_str(&row.request_type).unwrap_or_default(),
            api_path: row.api_path,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::GRANT_PROJECTIONS;

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
