//! Authorisation is data: roles hold permissions (module, methods, API
//! path, as ELEVATE models them), a permission grants the capabilities of
//! the routes it covers, and one middleware checks the capability each
//! route asks for against the caller's current roles. These are the
//! defaults written at bootstrap; admins change them through the permission
//! APIs.

use std::collections::HashMap;
use std::sync::Arc;

use aggregates::permission::permits;
use projections::Statement;

use crate::capabilities::{CapabilitySet, RouteCapability};
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
    (6, "account_registration_otp", "account", &["POST"], "/user/v1/account/registrationOtp"),
    (7, "account_generate_otp", "account", &["POST"], "/user/v1/account/generateOtp"),
    (8, "account_reset_password", "account", &["POST"], "/user/v1/account/resetPassword"),
    (10, "account_logout", "account", &["POST"], "/user/v1/account/logout"),
    (11, "account_accept_terms", "account", &["PATCH"], "/user/v1/account/acceptTermsAndCondition"),
    (12, "account_list", "account", &["GET"], "/user/v1/account/list"),
    (13, "account_search", "account", &["POST"], "/user/v1/account/search"),
    (14, "user_read", "user", &["GET"], "/user/v1/user/read*"),
    (15, "user_update", "user", &["PATCH"], "/user/v1/user/update"),
    (16, "user_language", "user", &["PATCH"], "/user/v1/user/setLanguagePreference"),
    (18, "account_change_password", "account", &["POST"], "/user/v1/account/changePassword"),
    // Reaches every user's audit routes; the handlers let non-admins read only their own.
    (17, "audit_own_user", "audit", &["GET"], "/user/v1/audit/users/*"),
    (20, "organization_read", "organization", &["GET"], "/user/v1/organization/read"),
    (21, "organization_list", "organization", &["GET"], "/user/v1/organization/list"),
    (22, "organization_request_role", "organization", &["POST"], "/user/v1/organization/requestOrgRole"),
    (23, "form_read", "form", &["GET", "POST"], "/user/v1/form/read*"),
    (24, "entity_type_read", "entity-type", &["GET", "POST"], "/user/v1/entity-type/read"),
    (25, "entity_read", "entity", &["GET", "POST"], "/user/v1/entity/read"),
    (26, "entity_list", "entity", &["GET", "POST"], "/user/v1/entity/list"),
    // An org admin manages their organisation's catalogue (the use cases scope it).
    (27, "entity_type_apis", "entity-type", &["*"], "/user/v1/entity-type/*"),
    (28, "entity_apis", "entity", &["*"], "/user/v1/entity/*"),
    (29, "cloud_services_file", "cloud-services", &["GET", "POST"], "/user/v1/cloud-services/file/*"),
    (30, "org_admin_apis", "org-admin", &["*"], "/user/v1/org-admin/*"),
    (31, "organization_update", "organization", &["PATCH"], "/user/v1/organization/update/*"),
    (32, "notification_template", "notification", &["*"], "/user/v1/notification/template*"),
    (99, "all_apis", "system", &["*"], "/user/v1/*"),
];

const PUBLIC: &[i64] = &[1, 2, 3, 4, 5, 6, 7, 8];
const SIGNED_IN: &[i64] = &[10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21, 22, 23, 24, 25, 26, 29];
const ORG_ADMIN: &[i64] = &[10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32];

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

/// One active grant: a role holds a permission covering `api_path` with `methods`.
struct Grant {
    role_id: i64,
    api_path: String,
    methods: Vec<String>,
}

/// The capabilities one permission grants: those of the routes of
/// `vocabulary` (the ELEVATE route table) its `api_path` and `request_type`
/// cover. A pattern that covers no route grants nothing.
pub fn granted_by(vocabulary: &[RouteCapability], api_path: &str, methods: &[String]) -> CapabilitySet {
    vocabulary.iter().filter(|r| permits(api_path, methods, r.path, r.method)).map(|r| r.capability).collect()
}

/// Every role's capabilities, held in memory and computed again as soon as
/// the tables of a projection that writes grants may have changed on this
/// instance (`Projector::changes_of`). On the instance that ran the change,
/// its read-your-writes wait ends after that, so a permission change counts
/// at the next request; other instances follow within their checkpoint
/// polling (100 ms). Saves a query on every request, and reading the
/// permission patterns against the route table happens once per change.
pub struct GrantCache {
    vocabulary: &'static [RouteCapability],
    loaded: std::sync::RwLock<Option<LoadedGrants>>,
}

/// The capabilities of each role, with the change counts of
/// `GRANT_PROJECTIONS` read before them.
type LoadedGrants = (Vec<u64>, Arc<HashMap<i64, CapabilitySet>>);

impl GrantCache {
    /// `vocabulary` says which capability each route of the permission
    /// data's `api_path`s asks for (the ELEVATE route table).
    pub fn new(vocabulary: &'static [RouteCapability]) -> GrantCache {
        GrantCache { vocabulary, loaded: Default::default() }
    }

    /// What the roles `role_ids` may do between them.
    pub async fn capabilities(
        &self,
        db: &Db,
        projector: &Projector,
        role_ids: &[i64],
    ) -> Result<CapabilitySet, sqlx::Error> {
        // Read before the grants are: a stale version only costs a reload.
        let version: Option<Vec<u64>> = GRANT_PROJECTIONS.iter().map(|name| projector.changes_of(name)).collect();
        let cached = match (&version, &*self.loaded.read().unwrap_or_else(|p| p.into_inner())) {
            (Some(version), Some((at, roles))) if at == version => Some(roles.clone()),
            _ => None,
        };
        let roles = match cached {
            Some(roles) => roles,
            None => {
                let roles = Arc::new(self.by_role(load_grants(db).await?));
                if let Some(version) = version {
                    *self.loaded.write().unwrap_or_else(|p| p.into_inner()) = Some((version, roles.clone()));
                }
                roles
            }
        };
        Ok(role_ids.iter().filter_map(|id| roles.get(id)).fold(CapabilitySet::default(), |all, set| all.union(*set)))
    }

    fn by_role(&self, grants: Vec<Grant>) -> HashMap<i64, CapabilitySet> {
        let mut roles: HashMap<i64, CapabilitySet> = HashMap::new();
        for grant in grants {
            let granted = granted_by(self.vocabulary, &grant.api_path, &grant.methods);
            let set = roles.entry(grant.role_id).or_default();
            *set = set.union(granted);
        }
        roles
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
