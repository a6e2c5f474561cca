//! The route table: every route with a valid-shaped example request, the
//! records those examples point at, and the check that the table lists
//! exactly the routes of the handler sources.

use super::*;

/// When a route runs: destructive routes after the others (they remove what
/// the others act on), logout last of all (it ends the caller's session).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(super) enum Phase {
    Normal,
    Destructive,
    Logout,
}

pub(super) struct Route {
    pub(super) method: Method,
    pub(super) template: String,
    /// Path parameters with a valid example each.
    pub(super) params: Vec<(&'static str, String)>,
    /// Query parameters with a valid example each.
    pub(super) query: Vec<(&'static str, String)>,
    /// Other names a query parameter answers to: (alias, parameter).
    pub(super) aliases: Vec<(&'static str, &'static str)>,
    pub(super) body: Option<Value>,
    /// A body that passes validation costs an argon2 hash: only the required
    /// probes, each as one caller.
    pub(super) hashes: bool,
    /// Top-level fields that must be unique (a code, a title, an email, a
    /// phone): each probe sends its own values, so a mutation reaches the store
    /// instead of meeting "already exists".
    pub(super) unique: Vec<&'static str>,
    pub(super) phase: Phase,
}

pub(super) fn route(method: Method, template: impl Into<String>) -> Route {
    Route {
        method,
        template: template.into(),
        params: vec![],
        query: vec![],
        aliases: vec![],
        body: None,
        hashes: false,
        unique: vec![],
        phase: Phase::Normal,
    }
}

impl Route {
    pub(super) fn param(mut self, name: &'static str, value: impl ToString) -> Self {
        self.params.push((name, value.to_string()));
        self
    }
    pub(super) fn query(mut self, name: &'static str, value: impl ToString) -> Self {
        self.query.push((name, value.to_string()));
        self
    }
    pub(super) fn alias(mut self, alias: &'static str, of: &'static str) -> Self {
        self.aliases.push((alias, of));
        self
    }
    pub(super) fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    pub(super) fn hashes(mut self) -> Self {
        self.hashes = true;
        self
    }
    pub(super) fn unique(mut self, field: &'static str) -> Self {
        self.unique.push(field);
        self
    }
    pub(super) fn phase(mut self, phase: Phase) -> Self {
        self.phase = phase;
        self
    }
    pub(super) fn key(&self) -> (String, String) {
        (self.method.to_string(), self.template.clone())
    }

    /// The path with the given parameter values (already percent-encoded) and query.
    pub(super) fn url(&self, params: &[(&str, String)], query: &[(String, String)]) -> String {
        let mut path = self.template.clone();
        for (name, value) in params {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        if !query.is_empty() {
            let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            path = format!("{path}?{}", pairs.join("&"));
        }
        path
    }

    pub(super) fn valid_query(&self) -> Vec<(String, String)> {
        self.query.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }
}

/// What the valid-shaped examples point at, made before the run.
#[derive(Default)]
pub(super) struct Targets {
    pub(super) mentee_id: i64,
    pub(super) mentee_uuid: String,
    pub(super) promotee_id: i64,
    /// Deactivated by admin/deactivateUser, deleted by admin/deleteUser,
    /// deactivated by org-admin/deactivateUser.
    pub(super) victims: [i64; 3],
    /// A session of its own: refreshing twice revokes its family.
    pub(super) spare_refresh_token: String,
    pub(super) request_id: i64,
    pub(super) spare_org_id: i64,
    pub(super) doomed_org_id: i64,
    pub(super) role_id: i64,
    pub(super) doomed_role_id: i64,
    pub(super) module_id: i64,
    pub(super) doomed_module_id: i64,
    pub(super) permission_id: i64,
    pub(super) doomed_permission_id: i64,
    pub(super) form_id: i64,
    pub(super) template_id: i64,
    pub(super) entity_type_id: i64,
    pub(super) doomed_entity_type_id: i64,
    pub(super) entity_id: i64,
    pub(super) doomed_entity_id: i64,
    /// Revoked by admin/apiKey/revoke.
    pub(super) api_key_id: String,
}

/// Every route the service serves, with a valid-shaped example request.
pub(super) fn table(t: &Targets) -> Vec<Route> {
    use Method as M;
    let list_query = |r: Route| {
        r.query("userType", "mentee")
            .alias("type", "userType")
            .query("page", 1)
            .query("limit", 10)
            .query("search", "mi")
    };
    let page = |r: Route| r.query("page", 1).query("limit", 10).query("search", "fuzz");
    let mut routes = vec![
        route(M::POST, "/user/v1/account/create")
            .body(json!({
                "name": "Fuzz Signup", "email": "fuzz-signup@example.com", "password": PASSWORD,
                "phone": "+911234567890", "username": "fuzz_signup", "has_accepted_terms_and_conditions": true,
                "preferred_language": "en"
            }))
            .unique("email")
            .unique("phone")
            .unique("username")
            .hashes(),
        // An account that does not exist: failed logins must not lock a caller out.
        route(M::POST, "/user/v1/account/login")
            .body(json!({"email": "nobody@example.com", "identifier": "nobody@example.com", "password": PASSWORD}))
            .hashes(),
        route(M::POST, "/user/v1/account/generateToken").body(json!({"refresh_token": t.spare_refresh_token})),
        route(M::POST, "/user/v1/account/registrationOtp")
            .body(json!({"name": "Fuzz Otp", "email": "fuzz-otp@example.com", "password": PASSWORD}))
            .unique("email"),
        route(M::POST, "/user/v1/account/generateOtp").body(json!({"email": "fuzz-otp@example.com"})).unique("email"),
        // A wrong code costs no hash; the account does not exist.
        route(M::POST, "/user/v1/account/resetPassword")
            .body(json!({"email": "nobody@example.com", "password": PASSWORD, "otp": 123456})),
        // A wrong old password (the caller's sessions must survive the run).
        route(M::POST, "/user/v1/account/changePassword")
            .body(json!({"oldPassword": "Wr0ng!pass", "newPassword": "N3w!password"}))
            .hashes(),
        route(M::POST, "/user/v1/account/logout")
            .body(json!({"refresh_token": t.spare_refresh_token}))
            .phase(Phase::Logout),
        route(M::PATCH, "/user/v1/account/acceptTermsAndCondition"),
        list_query(route(M::GET, "/user/v1/account/list")),
        list_query(route(M::POST, "/user/v1/account/search")).body(json!({
            "user_ids": [t.mentee_id, t.mentee_uuid], "email_ids": ["mina@example.com"], "excluded_user_ids": [t.victims[0]]
        })),
        list_query(route(M::GET, "/user/v1/account/search")),
        route(M::GET, "/user/v1/user/read"),
        route(M::GET, "/user/v1/user/read/{id}").param("id", t.mentee_id),
        route(M::PATCH, "/user/v1/user/update").body(json!({
            "name": "Fuzzed Name", "about": "About me", "gender": {"value": "female", "label": "Female"},
            "location": [{"value": "in", "label": "India"}], "image": "https://example.com/me.png",
            "languages": [{"value": "en", "label": "English"}], "share_link": "fuzzed", "preferred_language": "en",
            "has_accepted_terms_and_conditions": true
        })),
        route(M::PATCH, "/user/v1/user/setLanguagePreference").body(json!({"preferred_language": "en"})),
        route(M::POST, "/user/v1/admin/create")
            .body(json!({"name": "Fuzz Admin", "email": "fuzz-admin@example.com", "password": PASSWORD, "secret_code": ADMIN_SECRET}))
            .unique("email")
            .hashes(),
        route(M::POST, "/user/v1/admin/login").body(json!({"email": "nobody@example.com", "password": PASSWORD})).hashes(),
        route(M::POST, "/user/v1/admin/addOrgAdmin").body(json!({
            "user_id": t.promotee_id, "identifier": "promotee@example.com", "organization_id": t.spare_org_id
        })),
        route(M::POST, "/user/v1/admin/deactivateOrg/{id}").param("id", t.doomed_org_id).body(json!({})).phase(Phase::Destructive),
        route(M::POST, "/user/v1/admin/deactivateUser")
            .body(json!({"id": [t.victims[0]], "email": ["victim0@example.com"]}))
            .phase(Phase::Destructive),
        route(M::DELETE, "/user/v1/admin/deleteUser/{id}").param("id", t.victims[1]).phase(Phase::Destructive),
        route(M::POST, "/user/v1/admin/apiKey/create").body(json!({"name": "fuzz key"})),
        route(M::GET, "/user/v1/admin/apiKey/list"),
        route(M::POST, "/user/v1/admin/apiKey/revoke/{id}").param("id", &t.api_key_id).body(json!({})).phase(Phase::Destructive),
        route(M::POST, "/user/v1/admin/assignRole").body(json!({
            "user_id": t.promotee_id, "identifier": "promotee@example.com", "role_id": t.role_id, "organization_id": 1
        })),
        route(M::POST, "/user/v1/organization/create")
            .body(json!({"name": "Fuzz Org", "code": "fuzzorg", "description": "made by the fuzzer"}))
            .unique("code"),
        route(M::PATCH, "/user/v1/organization/update/{id}")
            .param("id", 1)
            .body(json!({"name": "Default Organisation", "description": "fuzzed", "related_orgs": [t.spare_org_id]})),
        route(M::POST, "/user/v1/organization/update/{id}")
            .param("id", 1)
            .body(json!({"name": "Default Organisation", "description": "fuzzed", "related_orgs": [t.spare_org_id]})),
        page(route(M::GET, "/user/v1/organization/list")),
        route(M::GET, "/user/v1/organization/read")
            .query("organisation_id", 1)
            .query("organisation_code", "default")
            .alias("organization_id", "organisation_id")
            .alias("organization_code", "organisation_code"),
        route(M::POST, "/user/v1/organization/requestOrgRole")
            .body(json!({"role": 2, "form_data": {"why": "to mentor", "more": {"years": 3, "topics": ["rust", "sql"]}}})),
        route(M::POST, "/user/v1/org-admin/getRequests").query("page", 1).query("limit", 10).body(json!({
            "filters": {"role": [2], "status": ["REQUESTED"], "handled_by": [t.mentee_id]}
        })),
        route(M::POST, "/user/v1/org-admin/updateRequestStatus")
            .body(json!({"request_id": t.request_id, "status": "UNDER_REVIEW", "comments": ["looking at it"]})),
        route(M::GET, "/user/v1/org-admin/getRequestDetails").query("request_id", t.request_id),
        route(M::GET, "/user/v1/org-admin/getRequestDetails/{id}").param("id", t.request_id),
        route(M::POST, "/user/v1/org-admin/bulkUserCreate").body(json!({"file_path": "users/fuzz-none.csv"})),
        route(M::GET, "/user/v1/org-admin/getBulkInvitesFilesList")
            .query("page", 1)
            .query("limit", 10)
            .query("status", "processed"),
        route(M::POST, "/user/v1/org-admin/deactivateUser")
            .body(json!({"id": [t.victims[2]], "email": ["victim2@example.com"]}))
            .phase(Phase::Destructive),
        route(M::POST, "/user/v1/org-admin/deactivateUser/{id}")
            .param("id", t.victims[2])
            .body(json!({"email": ["victim2@example.com"]}))
            .phase(Phase::Destructive),
        route(M::POST, "/user/v1/modules/create").body(json!({"code": "fuzz_module_new", "status": "ACTIVE"})).unique("code"),
        route(M::POST, "/user/v1/form/create").body(form_body("fuzz_form_new")).unique("type"),
        route(M::POST, "/user/v1/form/update").body(form_body("fuzz_form")),
        route(M::PATCH, "/user/v1/form/update").body(form_body("fuzz_form")),
        route(M::POST, "/user/v1/form/update/{id}").param("id", t.form_id).body(form_body("fuzz_form")),
        route(M::PATCH, "/user/v1/form/update/{id}").param("id", t.form_id).body(form_body("fuzz_form")),
        route(M::POST, "/user/v1/form/read").body(json!({"type": "fuzz_form", "sub_type": "fuzzForm"})),
        route(M::GET, "/user/v1/form/read").query("type", "fuzz_form").query("sub_type", "fuzzForm"),
        route(M::POST, "/user/v1/form/read/{id}").param("id", t.form_id).body(json!({})),
        route(M::GET, "/user/v1/form/read/{id}").param("id", t.form_id),
        route(M::POST, "/user/v1/notification/template").body(template_body("fuzz_template_new")).unique("code"),
        route(M::PATCH, "/user/v1/notification/template").body(template_body("fuzz_template")),
        route(M::PATCH, "/user/v1/notification/template/{id}").param("id", t.template_id).body(template_body("fuzz_template")),
        route(M::GET, "/user/v1/notification/template").query("code", "fuzz_template").query("type", "email"),
        route(M::GET, "/user/v1/notification/template/{id}").param("id", t.template_id),
        route(M::DELETE, "/user/v1/modules/delete/{id}").param("id", t.doomed_module_id).phase(Phase::Destructive),
        page(route(M::GET, "/user/v1/modules/list")),
        route(M::POST, "/user/v1/permissions/create").body(json!({
            "code": "fuzz_permission_new", "module": "fuzz_module", "request_type": ["GET", "POST"],
            "api_path": "/user/v1/fuzz/new", "status": "ACTIVE"
        }))
        .unique("code"),
        route(M::DELETE, "/user/v1/permissions/delete/{id}").param("id", t.doomed_permission_id).phase(Phase::Destructive),
        page(route(M::GET, "/user/v1/permissions/list")),
        route(M::GET, "/user/v1/audit/events")
            .query("aggregate_type", "User")
            .query("aggregate_id", &t.mentee_uuid)
            .query("event_type", "UserRegistered")
            .query("actor_id", &t.mentee_uuid)
            .query("from", "2020-01-01T00:00:00Z")
            .query("to", "2100-01-01T00:00:00Z")
            .query("after_position", 0)
            .query("limit", 10),
        route(M::GET, "/user/v1/audit/users/{id}/history").param("id", t.mentee_id).query("after_sequence", 0).query("limit", 10),
        route(M::GET, "/user/v1/audit/users/{id}/state").param("id", t.mentee_id).query("at", "2100-01-01T00:00:00Z"),
        route(M::GET, "/user/v1/audit/organizations/{id}/history").param("id", 1).query("after_sequence", 0).query("limit", 10),
        route(M::GET, "/health"),
        route(M::GET, "/user/health"),
        route(M::GET, "/.well-known/jwks.json"),
        route(M::GET, "/metrics"),
        route(M::GET, "/openapi.json"),
        route(M::GET, "/openapi/elevate.json"),
        route(M::GET, "/openapi/sunbird.json"),
        route(M::GET, "/openapi/entity-v5.json"),
        route(M::POST, "/user/v1/admin/registerApp").body(json!({"app_id": "fuzz-app", "name": "Fuzz App"})).unique("app_id"),
        route(M::GET, "/openapi/operations.json"),
        route(M::GET, "/docs"),
        route(M::GET, "/docs/"),
        route(M::GET, "/docs/{*file}").param("*file", "swagger-ui.css"),
    ];
    routes.extend(sunbird_routes(t));
    routes.extend(entity_routes(t));
    for method in [M::GET, M::POST] {
        routes.push(route(method.clone(), "/user/v1/cloud-services/file/getSignedUrl").query("file_name", "fuzz.jpg"));
        routes.push(
            route(method.clone(), "/user/v1/cloud-services/file/getDownloadableUrl")
                .query("file_path", "users/fuzz-1-fuzz.jpg"),
        );
        routes.push(route(method, "/user/v1/cloud-services/file/getSampleCSV"));
    }
    // Roster's own file links: the fuzzer has no valid signature, so every answer is a refusal.
    for method in [M::GET, M::PUT] {
        routes.push(
            route(method, "/files/{*path}")
                .param("*path", "users/fuzz-1-fuzz.jpg")
                .query("method", "GET")
                .query("expires", 4_102_444_800i64)
                .query("signature", "00"),
        );
    }
    routes.extend(entity_v5_routes(t));
    let module = json!({"code": "fuzz_module", "status": "ACTIVE"});
    let permission = json!({
        "code": "fuzz_permission", "module": "fuzz_module", "request_type": ["GET"], "api_path": "/user/v1/fuzz", "status": "ACTIVE"
    });
    for method in [M::POST, M::PATCH] {
        routes
            .push(route(method.clone(), "/user/v1/modules/update/{id}").param("id", t.module_id).body(module.clone()));
        routes.push(
            route(method.clone(), "/user/v1/permissions/update/{id}")
                .param("id", t.permission_id)
                .body(permission.clone()),
        );
    }
    // The seed's spelling of role creation.
    routes.push(route(M::POST, "/user/v1/userRole/Create").body(json!({
        "title": "fuzz_role_seed", "label": "Fuzz Role", "user_type": 1, "status": "ACTIVE", "visibility": "PUBLIC",
        "meta": {"entityTypes": [{"entityTypeId": "5f32d8228e0dc8312404056e", "entityType": "state"}]},
        "translations": {"hi": {"title": "Fuzz"}}
    })).unique("title"));
    // The catalogue answers under two spellings of each base.
    for (role_base, mapping_base) in [
        ("/user/v1/userRole", "/user/v1/rolePermissionMapping"),
        ("/user/v1/user-role", "/user/v1/role-permission-mapping"),
    ] {
        let at = |base: &str, rest: &str| format!("{base}{rest}");
        routes.push(route(M::POST, at(role_base, "/create")).body(json!({
            "title": "fuzz_role_new", "label": "Fuzz Role", "user_type": 0, "status": "ACTIVE", "visibility": "PUBLIC",
            "organization_id": 1, "translations": {"en": {"title": "Fuzz"}}, "meta": {"note": "fuzz", "tags": ["a"]}
        })).unique("title"));
        for method in [M::POST, M::PATCH] {
            routes.push(route(method, at(role_base, "/update/{id}")).param("id", t.role_id).body(json!({
                "title": "fuzz_role", "label": "Fuzz Role", "user_type": 0, "status": "ACTIVE", "visibility": "PUBLIC",
                "translations": {"en": {"title": "Fuzz"}}, "meta": {"note": "fuzz"}
            })));
        }
        routes.push(
            route(M::DELETE, at(role_base, "/delete/{id}")).param("id", t.doomed_role_id).phase(Phase::Destructive),
        );
        routes.push(
            page(route(M::GET, at(role_base, "/list")))
                .query("user_type", 0)
                .query("visibility", "PUBLIC")
                .query("status", "ACTIVE")
                .query("organization_id", 1),
        );
        let mapping = json!({"permission_id": t.permission_id});
        routes.push(
            route(M::POST, at(mapping_base, "/create/{role_id}")).param("role_id", t.role_id).body(mapping.clone()),
        );
        routes.push(route(M::POST, at(mapping_base, "/delete/{role_id}")).param("role_id", t.role_id).body(mapping));
        routes.push(route(M::POST, at(mapping_base, "/list")).body(json!({"role_ids": [t.role_id]})));
    }
    routes
}

/// ELEVATE's entity types and entities.
fn entity_routes(t: &Targets) -> Vec<Route> {
    use Method as M;
    let entity_type = json!({"value": "fuzz_type_new", "label": "Fuzz Type", "type": "SYSTEM", "allow_filtering": true,
        "data_type": "STRING", "has_entities": true, "model_names": ["User"]});
    let entity = json!({"value": "fuzz_entity_new", "label": "Fuzz Entity", "type": "SYSTEM", "status": "ACTIVE",
        "entity_type_id": t.entity_type_id});
    let mut routes = vec![
        route(M::POST, "/user/v1/entity-type/create").body(entity_type).unique("value"),
        route(M::POST, "/user/v1/entity-type/read")
            .body(json!({"value": ["fuzz_languages"], "read_user_entity": true})),
        route(M::GET, "/user/v1/entity-type/read"),
        route(M::POST, "/user/v1/org-admin/inheritEntityType")
            .body(json!({"entity_type_value": "fuzz_languages", "target_entity_type_label": "Fuzz Inherited"})),
        route(M::POST, "/user/v1/entity/create").body(entity).unique("value"),
    ];
    for method in [M::POST, M::PATCH] {
        routes.push(
            route(method.clone(), "/user/v1/entity-type/update/{id}")
                .param("id", t.entity_type_id)
                .body(json!({"label": "Fuzz Languages", "status": "ACTIVE", "allow_filtering": "true"})),
        );
        routes.push(
            route(method, "/user/v1/entity/update/{id}")
                .param("id", t.entity_id)
                .body(json!({"label": "Fuzz English", "status": "ACTIVE", "entity_type_id": t.entity_type_id})),
        );
    }
    for method in [M::DELETE, M::POST] {
        routes.push(
            route(method.clone(), "/user/v1/entity-type/delete/{id}")
                .param("id", t.doomed_entity_type_id)
                .phase(Phase::Destructive),
        );
        routes.push(
            route(method, "/user/v1/entity/delete/{id}").param("id", t.doomed_entity_id).phase(Phase::Destructive),
        );
    }
    for method in [M::GET, M::POST] {
        routes.push(route(method.clone(), "/user/v1/entity/read").query("id", t.entity_id));
        routes.push(
            route(method, "/user/v1/entity/list")
                .query("entity_type_id", t.entity_type_id)
                .query("page", 1)
                .query("limit", 10)
                .query("search", "fuzz"),
        );
    }
    routes
}

/// Entity v5's routes (`X-APP-ID` is the app `set_up` registers), on the
/// mentee of the default organisation.
fn entity_v5_routes(t: &Targets) -> Vec<Route> {
    use Method as M;
    let user = &t.mentee_uuid;
    vec![
        route(M::POST, "/api/v5/entity/user/create")
            .body(json!({"area_code": "86", "mobile": "13888888888", "corp_id": "1"}))
            .unique("mobile"),
        route(M::GET, "/api/v5/entity/profile/fetch").query("corp_id", 1).query("user_id", user),
        route(M::POST, "/api/v5/entity/user/owner/update")
            .body(json!({"user_id": user, "owner_id": user, "event_type": "add", "corp_id": "1"})),
        route(M::POST, "/api/v5/entity/user/pool/update")
            .body(json!({"user_id": user, "corp_id": "1", "pool": "dead"})),
        route(M::POST, "/api/v5/entity/user/email/update")
            .body(json!({"user_id": user, "email": "mina@example.com", "corp_id": "1"})),
        route(M::GET, "/api/v5/entity/user/contact/fetch")
            .query("user_id", user)
            .query("corp_id", 1)
            .query("contact_type", "mobile"),
    ]
}

/// Sunbird's routes, in both forms: the gateway's `/api/user/vN/...` and the
/// service's `/vN/user/...`.
fn sunbird_routes(t: &Targets) -> Vec<Route> {
    use Method as M;
    let both = |gateway: &str, service: &str| [gateway.to_string(), service.to_string()];
    let create = json!({"request": {
        "firstName": "Fuzz", "lastName": "Sunbird", "email": "fuzz-sunbird@example.com", "password": PASSWORD,
        "phone": "+911234567899", "userName": "fuzz_sunbird", "emailVerified": true, "phoneVerified": false, "countryCode": "+91",
        "dob": "2000", "profileLocation": [{"code": "02", "type": "state"}],
        "profileUserType": {"type": "teacher", "subType": null}, "framework": {"id": ["fw1"], "board": ["CBSE"]}
    }});
    let mut routes = Vec::new();
    for (gateway, service) in [
        ("/api/user/v1/create", "/v1/user/create"),
        ("/api/user/v2/create", "/v2/user/create"),
        ("/api/user/v3/create", "/v3/user/create"),
        ("/api/user/v1/sso/create", "/v1/ssouser/create"),
        ("/api/user/v1/signup", "/v1/user/signup"),
        ("/api/user/v2/signup", "/v2/user/signup"),
    ] {
        for path in both(gateway, service) {
            routes.push(route(M::POST, path).body(create.clone()).hashes());
        }
    }
    for version in 1..=5 {
        for path in both(&format!("/api/user/v{version}/read/{{userId}}"), &format!("/v{version}/user/read/{{userId}}"))
        {
            routes.push(
                route(M::GET, path)
                    .param("userId", &t.mentee_uuid)
                    .query("fields", "organisations,roles,declarations")
                    .query("withTokens", "false"),
            );
        }
    }
    for version in 1..=2 {
        for what in ["get", "exists"] {
            for path in both(
                &format!("/api/user/v{version}/{what}/{{idType}}/{{id}}"),
                &format!("/v{version}/user/{what}/{{idType}}/{{id}}"),
            ) {
                routes.push(route(M::GET, path).param("idType", "email").param("id", "mina@example.com"));
            }
        }
    }
    for (gateway, service) in [("/api/user/v1/block", "/v1/user/block"), ("/api/user/v1/unblock", "/v1/user/unblock")] {
        for path in both(gateway, service) {
            routes.push(
                route(M::POST, path)
                    .body(json!({"request": {"userId": t.victims[0].to_string()}}))
                    .phase(Phase::Destructive),
            );
        }
    }
    for version in 1..=3 {
        for path in both(&format!("/api/user/v{version}/update"), &format!("/v{version}/user/update")) {
            routes.push(route(M::PATCH, path).body(json!({"request": {
                "userId": t.mentee_uuid, "firstName": "Mina", "lastName": "Fuzzed",
                "email": "mina@example.com", "phone": "+911234567800", "userName": "mina",
                "dob": "2001-02-03", "profileLocation": [{"id": "loc-1", "type": "district"}],
                "profileUserTypes": [{"type": "teacher", "subType": "hm"}],
                "framework": {"id": "fw1", "medium": ["English"]}
            }})));
        }
        for path in both(&format!("/api/user/v{version}/search"), &format!("/v{version}/user/search")) {
            routes.push(route(M::POST, path).body(json!({"request": {
                "filters": {"email": "mina@example.com", "rootOrgId": "1", "roles": "mentee", "status": 1},
                "query": "mi", "limit": 10, "offset": 0, "fields": ["firstName", "email"]
            }})));
        }
    }
    for path in both("/api/user/v1/role/assign", "/v1/user/assign/role") {
        routes.push(route(M::POST, path).body(json!({"request": {"userId": t.promotee_id.to_string(), "organisationId": 1, "roles": ["mentee", "mentor"]}})));
    }
    for path in both("/api/user/v2/role/assign", "/v2/user/assign/role") {
        routes.push(route(M::POST, path).body(json!({"request": {"userId": t.promotee_id.to_string(), "roles": [
            {"role": "mentor", "operation": "add", "scope": [{"organisationId": "1"}]},
            {"role": "mentee", "operation": "remove", "scope": [{"organisationId": 1}]}
        ]}})));
    }
    let managed = json!({"request": {
        "firstName": "Fuzz", "lastName": "Child", "managedBy": t.mentee_uuid,
        "profileLocation": [{"code": "02", "type": "state"}], "framework": {"id": ["fw1"], "board": ["CBSE"]},
        "dob": "2015", "profileUserType": {"type": "student", "subType": null}
    }});
    for (gateway, service) in [
        ("/api/user/v4/create", "/v4/user/create"),
        ("/api/user/v1/managed/create", "/v1/manageduser/create"),
        ("/api/user/v2/managed/create", "/v2/manageduser/create"),
    ] {
        for path in both(gateway, service) {
            routes.push(route(M::POST, path).body(managed.clone()));
        }
    }
    for path in both("/api/user/v1/managed/{userId}", "/v1/user/managed/{userId}") {
        routes.push(
            route(M::GET, path)
                .param("userId", &t.mentee_uuid)
                .query("withTokens", "true")
                .query("sortBy", "createdDate")
                .query("order", "desc"),
        );
    }
    for path in both("/api/user/v1/profile/read", "/v1/user/getuser") {
        routes.push(route(M::POST, path).query("fields", "roles").body(json!({"request": {"loginId": "mina"}})));
    }
    for path in both("/api/user/v1/tnc/accept", "/v1/user/tnc/accept") {
        routes.push(route(M::POST, path).body(json!({"request": {"version": "v1", "userId": t.mentee_uuid}})));
    }
    // The fuzzer sends no x-source-user-token: a merge is refused before it decides anything.
    for path in both("/api/user/v1/account/merge", "/private/user/v1/account/merge") {
        routes.push(route(M::PATCH, path).body(json!({"request": {
            "fromAccountId": t.mentee_uuid, "toAccountId": t.mentee_uuid
        }})));
    }
    for path in both("/api/user/v1/migrate", "/v1/user/migrate") {
        routes.push(route(M::POST, path).body(json!({"request": {
            "userId": t.mentee_uuid, "channel": "default", "action": "accept", "feedId": "f", "userExtId": "ext-1"
        }})));
    }
    for path in both("/api/user/v1/feed/{userId}", "/v1/user/feed/{userId}") {
        routes.push(route(M::GET, path).param("userId", &t.mentee_uuid));
    }
    for path in both("/api/user/v1/feed/create", "/v1/user/feed/create") {
        routes.push(route(M::POST, path).body(json!({"request": {
            "userId": t.mentee_uuid, "category": "OrgMigrationAction", "priority": 1,
            "data": {"prospectChannels": ["fuzz-state"]}, "userExtId": "ext-1"
        }})));
    }
    for path in both("/api/user/v1/declarations", "/v1/user/declarations") {
        routes.push(route(M::PATCH, path).body(json!({"request": {"declarations": [{
            "operation": "add", "userId": t.mentee_uuid, "orgId": 1, "persona": "teacher",
            "info": {"declared-school-name": "mgm21", "declared-phone": 99999999}
        }]}})));
    }
    routes
}

// ---------------------------------------------------------------------------
// The routes in the source
// ---------------------------------------------------------------------------

pub(super) const METHODS: [&str; 8] = ["get", "post", "put", "patch", "delete", "head", "options", "trace"];

pub(super) fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text up to the parenthesis that closes the one just before `text`.
pub(super) fn balanced(text: &str) -> &str {
    let (mut depth, mut in_string, mut escaped) = (1, false, false);
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return &text[..i];
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced .route( call: {text:.80}");
}

pub(super) fn first_literal(text: &str) -> &str {
    let start = text.find('"').unwrap_or_else(|| panic!("no string literal in {text:.80}")) + 1;
    let len = text[start..].find('"').unwrap();
    &text[start..start + len]
}

/// A notification template as ELEVATE's seed writes one.
pub(super) fn template_body(code: &str) -> Value {
    json!({
        "type": "email", "code": code, "subject": "Hi {{ name }}", "body": "<p>Dear {{ name }},</p> {{ otp }}",
        "email_header": "<div>", "email_footer": "</div>", "status": "ACTIVE"
    })
}

/// `for name in ["a", "b"]` before the route: the values a `{name}` placeholder takes.
pub(super) fn loop_values(before: &str, name: &str) -> Vec<String> {
    let head = format!("for {name} in [");
    let at = before.rfind(&head).unwrap_or_else(|| panic!("no `{head}` for the placeholder {{{name}}}"));
    let list = &before[at + head.len()..];
    let list = &list[..list.find(']').unwrap()];
    list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.trim_matches('"').to_string()).collect()
}

pub(super) fn expand(template: &str, before: &str) -> Vec<String> {
    // `{{`/`}}` are format!'s escaped braces; a single `{name}` is a loop variable.
    let masked = template.replace("{{", "\u{1}").replace("}}", "\u{2}");
    let mut paths = vec![masked.clone()];
    let mut rest = masked.as_str();
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').unwrap() + open;
        let name = &rest[open + 1..close];
        let values = loop_values(before, name);
        paths = paths.iter().flat_map(|p| values.iter().map(move |v| p.replace(&format!("{{{name}}}"), v))).collect();
        rest = &rest[close + 1..];
    }
    paths.into_iter().map(|p| p.replace('\u{1}', "{").replace('\u{2}', "}")).collect()
}

/// (method, path template) of every `.route(...)` under src/http.
pub(crate) fn routes_in_source() -> BTreeSet<(String, String)> {
    let http = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut files = Vec::new();
    rust_files(&http, &mut files);
    let mut found = BTreeSet::new();
    for file in files {
        let relative = file.strip_prefix(&http).unwrap();
        let prefix = match relative.parent().and_then(|p| p.to_str()) {
            Some("") => "",
            Some("elevate") => "/user/v1",
            // Sunbird's routes are written at their full paths.
            Some("sunbird") => "",
            // So are entity v5's.
            Some("entity_v5") => "",
            other => panic!("{}: teach the fuzz test the prefix under which {other:?} is nested", file.display()),
        };
        let source: String = std::fs::read_to_string(&file)
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for (at, _) in source.match_indices(".route(") {
            let args = balanced(&source[at + ".route(".len()..]);
            let (path_expr, method_expr) = args.split_once(',').unwrap_or_else(|| panic!("odd .route({args})"));
            let path_expr = path_expr.trim();
            let paths = if path_expr.starts_with('"') {
                vec![first_literal(path_expr).to_string()]
            } else if path_expr.starts_with("&format!(") {
                expand(first_literal(path_expr), &source[..at])
            } else {
                panic!("{}: cannot read the route path `{path_expr}`; teach the fuzz test", file.display())
            };
            let mut methods = Vec::new();
            let bytes = method_expr.as_bytes();
            for m in METHODS {
                for (i, _) in method_expr.match_indices(&format!("{m}(")) {
                    let word_start = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
                    if word_start {
                        methods.push(m.to_uppercase());
                    }
                }
            }
            assert!(!methods.is_empty(), "{}: no method in `{method_expr}`", file.display());
            for path in paths {
                for method in &methods {
                    found.insert((method.clone(), format!("{prefix}{path}")));
                }
            }
        }
    }
    found
}

pub(super) fn assert_table_complete() {
    let in_table: BTreeSet<(String, String)> = table(&Targets::default()).iter().map(Route::key).collect();
    let in_source = routes_in_source();
    let missing: Vec<_> = in_source.difference(&in_table).collect();
    let stale: Vec<_> = in_table.difference(&in_source).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "fuzz table out of date: routes without an entry {missing:?}, entries without a route {stale:?}"
    );
    assert!(in_source.len() >= 60, "expected every route, read {}", in_source.len());
}

#[test]
fn the_fuzz_table_covers_every_route() {
    assert_table_complete();
}

/// A form of `form_type`, as ELEVATE's example sends it.
pub(super) fn form_body(form_type: &str) -> Value {
    json!({"type": form_type, "sub_type": "fuzzForm", "data": {"template_name": "defaultTemplate", "fields": {"controls": [
        {"name": "name", "label": "name", "value": "", "type": "text", "validators": {"required": true, "minLength": 10}}
    ]}}})
}

pub(super) async fn created_id(app: &TestApp, token: &str, path: &str, body: Value) -> i64 {
    let reply = app.post(path, Some(token), body).await;
    assert!(reply.status.is_success(), "set-up {path}: {}", reply.body);
    reply.result()["id"].as_i64().unwrap_or_else(|| panic!("set-up {path}: no id in {}", reply.body))
}

pub(super) async fn set_up(app: &TestApp) -> (Targets, Tokens) {
    let admin = app.admin_session().await;
    let a = admin.access_token.as_str();
    let mentee = app.sign_up("Mina Mentee", "mina@example.com").await;
    let org_admin = app.sign_up("Olga Admin", "olga@example.com").await;
    let promoted = app
        .post("/user/v1/admin/addOrgAdmin", Some(a), json!({"user_id": org_admin.user["id"], "organization_id": 1}))
        .await;
    assert!(promoted.status.is_success(), "{}", promoted.body);
    let spare = app.sign_up("Spare Session", "spare@example.com").await;
    let asker = app.sign_up("Asker", "asker@example.com").await;
    let asked = app.post("/user/v1/organization/requestOrgRole", Some(&asker.access_token), json!({"role": 2})).await;
    assert!(asked.status.is_success(), "{}", asked.body);
    let id = |s: &Session| s.user["id"].as_i64().unwrap();
    let mut victims = [0; 3];
    for (i, victim) in victims.iter_mut().enumerate() {
        *victim = id(&app.sign_up(&format!("Victim {i}"), &format!("victim{i}@example.com")).await);
    }
    let promotee = app.sign_up("Promotee", "promotee@example.com").await;
    let org = |code: &str| json!({"name": format!("Org {code}"), "code": code, "description": "set-up"});
    let role = |title: &str| json!({"title": title, "user_type": 0, "organization_id": 1});
    let permission = |code: &str| json!({"code": code, "module": "fuzz_module", "request_type": ["GET"], "api_path": format!("/user/v1/{code}")});
    let entity_type = |value: &str| json!({"value": value, "label": value, "model_names": ["User"]});
    let targets = Targets {
        mentee_id: id(&mentee),
        mentee_uuid: mentee.user["uuid"].as_str().map(str::to_string).unwrap_or_default(),
        promotee_id: id(&promotee),
        victims,
        spare_refresh_token: spare.refresh_token.clone(),
        request_id: asked.result()["request_id"].as_i64().unwrap(),
        spare_org_id: created_id(app, a, "/user/v1/organization/create", org("fuzzspare")).await,
        doomed_org_id: created_id(app, a, "/user/v1/organization/create", org("fuzzdoomed")).await,
        role_id: created_id(app, a, "/user/v1/userRole/create", role("fuzz_role")).await,
        doomed_role_id: created_id(app, a, "/user/v1/userRole/create", role("fuzz_doomed_role")).await,
        module_id: created_id(app, a, "/user/v1/modules/create", json!({"code": "fuzz_module"})).await,
        doomed_module_id: created_id(app, a, "/user/v1/modules/create", json!({"code": "fuzz_doomed_module"})).await,
        permission_id: created_id(app, a, "/user/v1/permissions/create", permission("fuzz_permission")).await,
        doomed_permission_id: created_id(app, a, "/user/v1/permissions/create", permission("fuzz_doomed_permission"))
            .await,
        form_id: created_id(app, a, "/user/v1/form/create", form_body("fuzz_form")).await,
        template_id: created_id(app, a, "/user/v1/notification/template", template_body("fuzz_template")).await,
        entity_type_id: created_id(app, a, "/user/v1/entity-type/create", entity_type("fuzz_languages")).await,
        doomed_entity_type_id: created_id(app, a, "/user/v1/entity-type/create", entity_type("fuzz_doomed_type")).await,
        ..Targets::default()
    };
    let entity = |value: &str| json!({"value": value, "label": value, "type": "SYSTEM", "entity_type_id": targets.entity_type_id});
    let targets = Targets {
        entity_id: created_id(app, a, "/user/v1/entity/create", entity("fuzz_en")).await,
        doomed_entity_id: created_id(app, a, "/user/v1/entity/create", entity("fuzz_doomed_entity")).await,
        api_key_id: {
            let issued = app.post("/user/v1/admin/apiKey/create", Some(a), json!({"name": "fuzz target"})).await;
            issued.result()["id"].as_str().map(str::to_string).unwrap_or_else(|| panic!("set-up: {}", issued.body))
        },
        ..targets
    };
    let app_id = json!({"app_id": super::run::FUZZ_APP_ID});
    let registered = app.post("/user/v1/admin/registerApp", Some(a), app_id).await;
    assert!(registered.status.is_success(), "{}", registered.body);
    let tokens = Tokens {
        user: mentee.access_token,
        org_admin: org_admin.access_token,
        admin: admin.access_token,
        admin_refresh: admin.refresh_token,
    };
    (targets, tokens)
}
