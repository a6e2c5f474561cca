//! The authorisation matrix: every route × every kind of caller. A route
//! added to the service must be added here with its expected callers.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Caller {
    Anonymous,
    Mentee,
    OtherOrgAdmin,
    OrgAdmin,
    Admin,
}

use Caller::*;
const EVERYONE: &[Caller] = &[Anonymous, Mentee, OtherOrgAdmin, OrgAdmin, Admin];
const SIGNED_IN: &[Caller] = &[Mentee, OtherOrgAdmin, OrgAdmin, Admin];
const ANY_ORG_ADMIN: &[Caller] = &[OtherOrgAdmin, OrgAdmin, Admin];
const THIS_ORG_ADMIN: &[Caller] = &[OrgAdmin, Admin];
const ADMIN: &[Caller] = &[Admin];
/// Rows about the mentee's own records.
const SELF_OR_ADMIN: &[Caller] = &[Mentee, Admin];

struct Row {
    method: Method,
    path: String,
    body: Option<Value>,
    allowed: &'static [Caller],
}

fn row(method: Method, path: impl Into<String>, body: Option<Value>, allowed: &'static [Caller]) -> Row {
    Row { method, path: path.into(), body, allowed }
}

/// Ids the rows act on, made before the matrix runs.
struct Targets {
    request_id: i64,
    mentee_id: i64,
    victim_id: i64,
    victim2_id: i64,
    victim3_id: i64,
    promotee_id: i64,
    spare_org_id: i64,
    role_id: i64,
    module_id: i64,
    permission_id: i64,
}

/// Destructive rows come late and logout last: it ends the caller's session.
fn matrix(t: &Targets) -> Vec<Row> {
    let empty = || Some(json!({}));
    vec![
        row(Method::POST, "/user/v1/account/create", empty(), EVERYONE),
        row(Method::POST, "/user/v1/account/login", empty(), EVERYONE),
        row(Method::POST, "/user/v1/account/generateToken", empty(), EVERYONE),
        row(
            Method::POST,
            "/user/v1/admin/create",
            Some(json!({"name": "A", "email": "x", "password": PASSWORD, "secret_code": ADMIN_SECRET})),
            EVERYONE,
        ),
        row(Method::POST, "/user/v1/admin/login", empty(), EVERYONE),
        row(Method::PATCH, "/user/v1/account/acceptTermsAndCondition", None, SIGNED_IN),
        row(Method::GET, "/user/v1/account/list", None, SIGNED_IN),
        row(Method::POST, "/user/v1/account/search", empty(), SIGNED_IN),
        row(Method::GET, "/user/v1/user/read", None, SIGNED_IN),
        row(Method::GET, "/user/v1/user/read/1", None, SIGNED_IN),
        row(Method::PATCH, "/user/v1/user/update", Some(json!({"about": "x"})), SIGNED_IN),
        row(Method::PATCH, "/user/v1/user/setLanguagePreference", Some(json!({"preferred_language": "en"})), SIGNED_IN),
        row(Method::GET, "/user/v1/organization/list", None, SIGNED_IN),
        row(Method::GET, "/user/v1/organization/read?organisation_id=1", None, SIGNED_IN),
        row(Method::POST, "/user/v1/organization/requestOrgRole", Some(json!({"role": 6})), SIGNED_IN),
        row(Method::GET, "/user/v1/audit/events", None, ADMIN),
        row(Method::GET, format!("/user/v1/audit/users/{}/history", t.mentee_id), None, SELF_OR_ADMIN),
        row(
            Method::GET,
            format!("/user/v1/audit/users/{}/state?at=2100-01-01T00:00:00Z", t.mentee_id),
            None,
            SELF_OR_ADMIN,
        ),
        row(Method::GET, "/user/v1/audit/organizations/1/history", None, ADMIN),
        row(Method::POST, "/user/v1/organization/create", Some(json!({"name": "N", "code": "matrix-org"})), ADMIN),
        row(Method::PATCH, "/user/v1/organization/update/1", Some(json!({"description": "d"})), THIS_ORG_ADMIN),
        row(Method::POST, "/user/v1/org-admin/getRequests", empty(), ANY_ORG_ADMIN),
        row(Method::GET, format!("/user/v1/org-admin/getRequestDetails/{}", t.request_id), None, THIS_ORG_ADMIN),
        row(
            Method::GET,
            format!("/user/v1/org-admin/getRequestDetails?request_id={}", t.request_id),
            None,
            THIS_ORG_ADMIN,
        ),
        row(
            Method::POST,
            "/user/v1/org-admin/updateRequestStatus",
            Some(json!({"request_id": t.request_id, "status": "UNDER_REVIEW"})),
            THIS_ORG_ADMIN,
        ),
        row(
            Method::POST,
            "/user/v1/admin/addOrgAdmin",
            Some(json!({"user_id": t.promotee_id, "organization_id": 1})),
            ADMIN,
        ),
        // Authorisation data itself: roles, modules, permissions and their mappings (admins only).
        row(Method::POST, "/user/v1/userRole/create", Some(json!({"title": "matrix_role_two"})), ADMIN),
        row(Method::PATCH, format!("/user/v1/userRole/update/{}", t.role_id), Some(json!({"label": "M"})), ADMIN),
        row(Method::POST, format!("/user/v1/user-role/update/{}", t.role_id), Some(json!({"label": "M"})), ADMIN),
        row(Method::GET, "/user/v1/userRole/list", None, ADMIN),
        row(Method::POST, "/user/v1/modules/create", Some(json!({"code": "matrix_mod_two"})), ADMIN),
        row(
            Method::PATCH,
            format!("/user/v1/modules/update/{}", t.module_id),
            Some(json!({"code": "matrix_m"})),
            ADMIN,
        ),
        row(Method::GET, "/user/v1/modules/list", None, ADMIN),
        row(
            Method::POST,
            "/user/v1/permissions/create",
            Some(json!({"code": "matrix_perm_two", "module": "matrix_mod", "request_type": ["GET"], "api_path": "/y"})),
            ADMIN,
        ),
        row(
            Method::PATCH,
            format!("/user/v1/permissions/update/{}", t.permission_id),
            Some(json!({"code": "matrix_perm", "module": "matrix_mod", "request_type": ["GET"], "api_path": "/x"})),
            ADMIN,
        ),
        row(Method::GET, "/user/v1/permissions/list", None, ADMIN),
        row(
            Method::POST,
            format!("/user/v1/rolePermissionMapping/create/{}", t.role_id),
            Some(json!({"permission_id": t.permission_id})),
            ADMIN,
        ),
        row(Method::POST, "/user/v1/rolePermissionMapping/list", Some(json!({"role_ids": [t.role_id]})), ADMIN),
        row(
            Method::POST,
            format!("/user/v1/role-permission-mapping/delete/{}", t.role_id),
            Some(json!({"permission_id": t.permission_id})),
            ADMIN,
        ),
        row(Method::DELETE, format!("/user/v1/permissions/delete/{}", t.permission_id), None, ADMIN),
        row(Method::DELETE, format!("/user/v1/modules/delete/{}", t.module_id), None, ADMIN),
        row(Method::DELETE, format!("/user/v1/userRole/delete/{}", t.role_id), None, ADMIN),
        row(Method::POST, "/user/v1/admin/assignRole", Some(json!({"user_id": t.promotee_id, "role_id": 6})), ADMIN),
        row(Method::POST, "/user/v1/org-admin/deactivateUser", Some(json!({"id": [t.victim_id]})), THIS_ORG_ADMIN),
        row(Method::POST, "/user/v1/admin/deactivateUser", Some(json!({"id": [t.victim2_id]})), ADMIN),
        row(Method::DELETE, format!("/user/v1/admin/deleteUser/{}", t.victim3_id), None, ADMIN),
        row(Method::POST, format!("/user/v1/admin/deactivateOrg/{}", t.spare_org_id), empty(), ADMIN),
        row(Method::POST, "/user/v1/account/logout", empty(), SIGNED_IN),
    ]
}

async fn every_route_against_every_caller(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = crate::organizations::cast(&app).await;
    let asker = app.sign_up("Asker", "asker@example.com").await;
    let asked = app.post("/user/v1/organization/requestOrgRole", Some(&asker.access_token), json!({"role": 2})).await;
    let id_of = |s: &Session| s.user["id"].as_i64().unwrap();
    let spare = app
        .post("/user/v1/organization/create", Some(&c.admin.access_token), json!({"name": "Spare", "code": "spare"}))
        .await;
    let admin = Some(c.admin.access_token.as_str());
    let made_role = app.post("/user/v1/userRole/create", admin, json!({"title": "matrix_role"})).await;
    let made_module = app.post("/user/v1/modules/create", admin, json!({"code": "matrix_mod"})).await;
    let made_permission = app
        .post(
            "/user/v1/permissions/create",
            admin,
            json!({"code": "matrix_perm", "module": "matrix_mod", "request_type": ["GET"], "api_path": "/z"}),
        )
        .await;
    let targets = Targets {
        role_id: made_role.result()["id"].as_i64().unwrap(),
        module_id: made_module.result()["id"].as_i64().unwrap(),
        permission_id: made_permission.result()["id"].as_i64().unwrap(),
        request_id: asked.result()["request_id"].as_i64().unwrap(),
        mentee_id: id_of(&c.mentee),
        victim_id: id_of(&app.sign_up("Victim", "victim@example.com").await),
        victim2_id: id_of(&app.sign_up("Victim Two", "victim2@example.com").await),
        victim3_id: id_of(&app.sign_up("Victim Three", "victim3@example.com").await),
        promotee_id: id_of(&app.sign_up("Promotee", "promotee@example.com").await),
        spare_org_id: spare.result()["id"].as_i64().unwrap(),
    };

    let mut unexpected = Vec::new();
    for row in matrix(&targets) {
        for caller in EVERYONE {
            let token = match caller {
                Anonymous => None,
                Mentee => Some(c.mentee.access_token.as_str()),
                OtherOrgAdmin => Some(c.other_org_admin.access_token.as_str()),
                OrgAdmin => Some(c.org_admin.access_token.as_str()),
                Admin => Some(c.admin.access_token.as_str()),
            };
            let reply = app.call(row.method.clone(), &row.path, token, row.body.clone()).await;
            assert!(!reply.status.is_server_error(), "{} {} as {caller:?}: {}", row.method, row.path, reply.body);
            let denied = matches!(reply.status.as_u16(), 401 | 403);
            if denied == row.allowed.contains(caller) {
                unexpected.push(format!(
                    "{} {} as {caller:?}: {} {}",
                    row.method, row.path, reply.status, reply.body["message"]
                ));
            }
        }
    }
    assert!(unexpected.is_empty(), "unexpected decisions:\n{}", unexpected.join("\n"));
}

/// Permissions are data: revoking one from a role takes effect on the next request.
async fn revoking_a_permission_takes_effect_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let mentee = app.sign_up("Mentee", "mentee@example.com").await;
    assert_eq!(app.get("/user/v1/user/read", Some(&mentee.access_token)).await.status.as_u16(), 200);
    let meta = roster::commands::Metadata::system("test");
    let revoke = aggregates::RoleCommand::RevokePermission { permission_id: 14, at: chrono::Utc::now() };
    let committed =
        app.state.bus.execute::<aggregates::Role>(&roster::bootstrap::role_uuid(3), revoke, &meta).await.unwrap();
    app.state.settle(committed).await.unwrap();
    app.get("/user/v1/user/read", Some(&mentee.access_token)).await.assert_error_envelope(403);
    // Other permissions of the role still hold.
    assert_eq!(app.get("/user/v1/account/list", Some(&mentee.access_token)).await.status.as_u16(), 200);
}

on_both_backends!(every_route_against_every_caller, revoking_a_permission_takes_effect_at_once);
/// Each instance keeps the grants in memory; a permission revoked through one
/// instance must count on another within its checkpoint polling (several
/// instances share a PostgreSQL only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_revoked_through_one_instance_counts_on_another() {
    let first = spawn_app(Backend::Postgres).await;
    let second = roster::app::Application::build(test_settings(&first.database.url)).await.unwrap();
    let second_read = format!("http://{}/user/v1/user/read", second.local_addr());
    tokio::spawn(second.run_until(std::future::pending()));
    let mentee = first.sign_up("Mentee", "mentee@example.com").await;
    let read_on_second = || async {
        first
            .client
            .get(&second_read)
            .header("X-auth-token", format!("bearer {}", mentee.access_token))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(read_on_second().await, 200, "the second instance now holds the grants");

    let meta = roster::commands::Metadata::system("test");
    let revoke = aggregates::RoleCommand::RevokePermission { permission_id: 14, at: chrono::Utc::now() };
    let committed =
        first.state.bus.execute::<aggregates::Role>(&roster::bootstrap::role_uuid(3), revoke, &meta).await.unwrap();
    first.state.settle(committed).await.unwrap();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let status = read_on_second().await;
        if status == 403 {
            break;
        }
        assert_eq!(status, 200);
        assert!(std::time::Instant::now() < deadline, "the second instance still grants a revoked permission");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Every ELEVATE route goes through the authorisation check: an unguarded
/// route would be open to anyone.
#[test]
fn every_elevate_route_is_guarded() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/elevate");
    let mut routes = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for (n, line) in source.lines().enumerate() {
            if line.contains(".route(") {
                routes += 1;
                assert!(line.contains("guarded("), "unguarded route at line {}: {line}", n + 1);
            }
        }
    }
    assert!(routes >= 30, "expected the ELEVATE routes, found {routes}");
}
