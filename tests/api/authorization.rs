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
/// Rows about users of the other organisation.
const OTHER_ORG_ADMIN: &[Caller] = &[OtherOrgAdmin, Admin];
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
    /// Rank: a second system admin (default organisation), a second org admin
    /// of each organisation, a member of the other one, and requests only a
    /// system admin may approve (by a system admin; for another organisation's role).
    admin2_id: i64,
    peer_id: i64,
    other_member_id: i64,
    other_peer_id: i64,
    admin_request_id: i64,
    foreign_role_request_id: i64,
    role_id: i64,
    module_id: i64,
    permission_id: i64,
    form_id: i64,
}

/// Destructive rows come late and logout last: it ends the caller's session.
fn form(form_type: &str) -> Value {
    json!({"type": form_type, "sub_type": "matrixForm", "data": {"fields": {}}})
}

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
        row(Method::POST, "/user/v1/account/registrationOtp", empty(), EVERYONE),
        row(Method::POST, "/user/v1/account/generateOtp", empty(), EVERYONE),
        row(Method::POST, "/user/v1/account/resetPassword", empty(), EVERYONE),
        row(Method::POST, "/user/v1/account/changePassword", empty(), SIGNED_IN),
        row(Method::PATCH, "/user/v1/account/acceptTermsAndCondition", None, SIGNED_IN),
        row(Method::GET, "/user/v1/account/list", None, SIGNED_IN),
        row(Method::POST, "/user/v1/account/search", empty(), SIGNED_IN),
        row(Method::GET, "/user/v1/account/search", None, SIGNED_IN),
        row(Method::GET, "/user/v1/user/read", None, SIGNED_IN),
        row(Method::GET, "/user/v1/user/read/1", None, SIGNED_IN),
        row(Method::PATCH, "/user/v1/user/update", Some(json!({"about": "x"})), SIGNED_IN),
        row(Method::PATCH, "/user/v1/user/setLanguagePreference", Some(json!({"preferred_language": "en"})), SIGNED_IN),
        row(Method::GET, "/user/v1/organization/list", None, SIGNED_IN),
        row(Method::GET, "/user/v1/organization/read?organisation_id=1", None, SIGNED_IN),
        row(Method::POST, "/user/v1/organization/requestOrgRole", Some(json!({"role": 6})), SIGNED_IN),
        row(Method::GET, "/user/v1/audit/events", None, ADMIN),
        row(Method::POST, "/user/v1/admin/apiKey/create", Some(json!({"name": "matrix"})), ADMIN),
        row(Method::GET, "/user/v1/admin/apiKey/list", None, ADMIN),
        row(Method::POST, "/user/v1/admin/registerApp", Some(json!({"app_id": "matrix-app", "name": "M"})), ADMIN),
        row(Method::POST, format!("/user/v1/admin/apiKey/revoke/{}", uuid::Uuid::nil()), empty(), ADMIN),
        // Entity types and entities: org admins write (their organisation's), everyone reads.
        row(
            Method::POST,
            "/user/v1/entity-type/create",
            Some(json!({"value": "matrix_type", "label": "M"})),
            ANY_ORG_ADMIN,
        ),
        row(Method::POST, "/user/v1/entity-type/update/999999", Some(json!({"label": "M"})), ANY_ORG_ADMIN),
        row(Method::DELETE, "/user/v1/entity-type/delete/999999", None, ANY_ORG_ADMIN),
        row(Method::POST, "/user/v1/entity-type/read", Some(json!({"value": ["matrix_type"]})), SIGNED_IN),
        row(Method::GET, "/user/v1/entity-type/read", None, SIGNED_IN),
        row(
            Method::POST,
            "/user/v1/org-admin/inheritEntityType",
            Some(json!({"entity_type_value": "no_such_type", "target_entity_type_label": "M"})),
            ANY_ORG_ADMIN,
        ),
        row(
            Method::POST,
            "/user/v1/entity/create",
            Some(json!({"value": "m", "label": "M", "entity_type_id": 999999})),
            ANY_ORG_ADMIN,
        ),
        row(Method::PATCH, "/user/v1/entity/update/999999", Some(json!({"label": "M"})), ANY_ORG_ADMIN),
        row(Method::DELETE, "/user/v1/entity/delete/999999", None, ANY_ORG_ADMIN),
        row(Method::GET, "/user/v1/entity/read?id=999999", None, SIGNED_IN),
        row(Method::GET, "/user/v1/entity/list?entity_type_id=999999", None, SIGNED_IN),
        // Files: every signed-in user gets links.
        row(Method::GET, "/user/v1/cloud-services/file/getSignedUrl?file_name=a.txt", None, SIGNED_IN),
        row(Method::GET, "/user/v1/cloud-services/file/getDownloadableUrl?file_path=users/a.txt", None, SIGNED_IN),
        row(Method::GET, "/user/v1/cloud-services/file/getSampleCSV", None, SIGNED_IN),
        row(Method::POST, "/user/v1/form/create", Some(form("matrix_form_new")), ADMIN),
        row(Method::PATCH, format!("/user/v1/form/update/{}", t.form_id), Some(form("matrix_form")), ADMIN),
        row(Method::POST, "/user/v1/form/update", Some(form("matrix_form")), ADMIN),
        row(Method::GET, format!("/user/v1/form/read/{}", t.form_id), None, SIGNED_IN),
        row(Method::POST, "/user/v1/form/read", Some(json!({"type": "matrix_form"})), SIGNED_IN),
        row(
            Method::POST,
            "/user/v1/notification/template",
            Some(json!({"code": "matrix_template", "subject": "S", "body": "B {{ otp }}"})),
            ANY_ORG_ADMIN,
        ),
        row(Method::PATCH, "/user/v1/notification/template", Some(json!({"code": "matrix_template"})), ANY_ORG_ADMIN),
        row(Method::PATCH, "/user/v1/notification/template/1", Some(json!({"subject": "T"})), ANY_ORG_ADMIN),
        row(Method::GET, "/user/v1/notification/template", None, ANY_ORG_ADMIN),
        row(Method::GET, "/user/v1/notification/template/1", None, ANY_ORG_ADMIN),
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
        row(Method::POST, "/user/v1/organization/update/1", Some(json!({"description": "d"})), THIS_ORG_ADMIN),
        row(Method::POST, "/user/v1/org-admin/getRequests", empty(), ANY_ORG_ADMIN),
        // Bulk invites: an org admin names a file of their own (this one is nobody's: 404, not 403).
        row(
            Method::POST,
            "/user/v1/org-admin/bulkUserCreate",
            Some(json!({"file_path": "users/none.csv"})),
            ANY_ORG_ADMIN,
        ),
        row(Method::GET, "/user/v1/org-admin/getBulkInvitesFilesList?page=1&limit=10", None, ANY_ORG_ADMIN),
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
        // Rank: approving grants a role, so the approver must outrank the
        // requester and be able to grant the role.
        row(
            Method::POST,
            "/user/v1/org-admin/updateRequestStatus",
            Some(json!({"request_id": t.admin_request_id, "status": "APPROVED"})),
            ADMIN,
        ),
        row(
            Method::POST,
            "/user/v1/org-admin/updateRequestStatus",
            Some(json!({"request_id": t.foreign_role_request_id, "status": "APPROVED"})),
            ADMIN,
        ),
        row(
            Method::POST,
            "/user/v1/admin/addOrgAdmin",
            Some(json!({"user_id": t.promotee_id, "organization_id": 1})),
            ADMIN,
        ),
        // Authorisation data itself: roles, modules, permissions and their mappings (admins only).
        row(Method::POST, "/user/v1/userRole/create", Some(json!({"title": "matrix_role_two"})), ADMIN),
        row(Method::POST, "/user/v1/userRole/Create", Some(json!({"title": "matrix_role_seed"})), ADMIN),
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
        // Rank: nobody but a system admin touches a system admin, alone or in a list;
        // org admins act on their own organisation's peers, not on the other
        // organisation's users, related or not.
        row(Method::POST, "/user/v1/org-admin/deactivateUser", Some(json!({"id": [t.victim_id, t.admin2_id]})), ADMIN),
        row(Method::POST, "/user/v1/org-admin/deactivateUser", Some(json!({"id": [t.admin2_id]})), ADMIN),
        row(Method::POST, "/user/v1/org-admin/deactivateUser", Some(json!({"id": [t.peer_id]})), THIS_ORG_ADMIN),
        row(Method::POST, format!("/user/v1/org-admin/deactivateUser/{}", t.peer_id), None, THIS_ORG_ADMIN),
        row(
            Method::POST,
            "/user/v1/org-admin/deactivateUser",
            Some(json!({"id": [t.other_member_id]})),
            OTHER_ORG_ADMIN,
        ),
        row(Method::POST, "/user/v1/org-admin/deactivateUser", Some(json!({"id": [t.other_peer_id]})), OTHER_ORG_ADMIN),
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
    let made_form = app.post("/user/v1/form/create", admin, form("matrix_form")).await;
    let admin_token = c.admin.access_token.as_str();
    let admin2 = {
        let body = json!({"name": "Second Root", "email": "root2@example.com", "password": PASSWORD, "secret_code": ADMIN_SECRET});
        assert_eq!(app.post("/user/v1/admin/create", None, body).await.status.as_u16(), 201);
        session(&app.login("root2@example.com", PASSWORD).await)
    };
    let peer = app.sign_up("Peer Admin", "peer@example.com").await;
    let other_member = app.sign_up("Other Member", "other-member@example.com").await;
    let other_peer = app.sign_up("Other Peer", "other-peer@example.com").await;
    for (user, role_id, org) in [(&peer, 5, 1), (&other_member, 3, c.other_org_id), (&other_peer, 5, c.other_org_id)] {
        let body = json!({"user_id": user.user["id"], "role_id": role_id, "organization_id": org});
        assert_eq!(app.post("/user/v1/admin/assignRole", Some(admin_token), body).await.status.as_u16(), 200);
    }
    // Related organisations give no power over each other's users.
    for (org, related) in [(1, c.other_org_id), (c.other_org_id, 1)] {
        let body = Some(json!({"related_orgs": [related]}));
        let linked = app.patch(&format!("/user/v1/organization/update/{org}"), Some(admin_token), body).await;
        assert_eq!(linked.status.as_u16(), 200, "{}", linked.body);
    }
    let admin_request =
        app.post("/user/v1/organization/requestOrgRole", Some(&admin2.access_token), json!({"role": 2})).await;
    let foreign_role = app
        .post(
            "/user/v1/userRole/create",
            Some(admin_token),
            json!({"title": "foreign", "organization_id": c.other_org_id}),
        )
        .await;
    let foreign_asker = app.sign_up("Foreign Asker", "foreign-asker@example.com").await;
    let foreign_request = app
        .post(
            "/user/v1/organization/requestOrgRole",
            Some(&foreign_asker.access_token),
            json!({"role": foreign_role.result()["id"]}),
        )
        .await;
    let targets = Targets {
        admin2_id: id_of(&admin2),
        peer_id: id_of(&peer),
        other_member_id: id_of(&other_member),
        other_peer_id: id_of(&other_peer),
        admin_request_id: admin_request.result()["request_id"].as_i64().unwrap(),
        foreign_role_request_id: foreign_request.result()["request_id"].as_i64().unwrap(),
        role_id: made_role.result()["id"].as_i64().unwrap(),
        module_id: made_module.result()["id"].as_i64().unwrap(),
        permission_id: made_permission.result()["id"].as_i64().unwrap(),
        form_id: made_form.result()["id"].as_i64().unwrap(),
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

/// Rank is checked in the use cases, not only by the route grants: an org
/// admin who holds every route still cannot act on a user holding a role
/// they could not grant, nor grant such a role.
async fn rank_holds_whatever_the_grants(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = crate::organizations::cast(&app).await;
    let id_of = |s: &Session| s.user["id"].as_i64().unwrap();
    let admin = Some(c.admin.access_token.as_str());
    let org_admin = Some(c.org_admin.access_token.as_str());
    let admin_id = id_of(&c.admin);

    // The probe's case, with the default grants: refused, and the admin's tokens live on.
    app.post("/user/v1/org-admin/deactivateUser", org_admin, json!({"id": [admin_id]}))
        .await
        .assert_error_envelope(403);
    assert_eq!(app.get("/user/v1/user/read", admin).await.status.as_u16(), 200);

    // Every org admin now holds every route (permission 99, `/user/v1/*`).
    let meta = roster::commands::Metadata::system("test");
    let grant = aggregates::RoleCommand::GrantPermission { permission_id: 99, at: chrono::Utc::now() };
    let committed =
        app.state.bus.execute::<aggregates::Role>(&roster::bootstrap::role_uuid(5), grant, &meta).await.unwrap();
    app.state.settle(committed).await.unwrap();

    let member = app.sign_up("Member", "member@example.com").await;
    let member_id = id_of(&member);
    let other_member = app.sign_up("Other Member", "other-member@example.com").await;
    let other_member_id = id_of(&other_member);
    let moved = app
        .post(
            "/user/v1/admin/assignRole",
            admin,
            json!({"user_id": other_member_id, "role_id": 3, "organization_id": c.other_org_id}),
        )
        .await;
    assert_eq!(moved.status.as_u16(), 200, "{}", moved.body);
    let foreign_role = app
        .post("/user/v1/userRole/create", admin, json!({"title": "foreign", "organization_id": c.other_org_id}))
        .await;
    let foreign_role_id = foreign_role.result()["id"].as_i64().unwrap();

    let refused: Vec<(Method, String, Option<Value>)> = vec![
        // On a system admin.
        (Method::POST, "/user/v1/org-admin/deactivateUser".into(), Some(json!({"id": [admin_id]}))),
        (Method::POST, "/user/v1/admin/deactivateUser".into(), Some(json!({"id": [admin_id]}))),
        (Method::POST, "/user/v1/admin/deactivateUser".into(), Some(json!({"email": ["root@example.com"]}))),
        (Method::DELETE, format!("/user/v1/admin/deleteUser/{admin_id}"), None),
        (Method::POST, "/user/v1/admin/assignRole".into(), Some(json!({"user_id": admin_id, "role_id": 6}))),
        (Method::POST, "/user/v1/admin/addOrgAdmin".into(), Some(json!({"user_id": admin_id, "organization_id": 1}))),
        // Granting what an org admin cannot grant.
        (Method::POST, "/user/v1/admin/assignRole".into(), Some(json!({"user_id": member_id, "role_id": 4}))),
        (Method::POST, "/user/v1/admin/assignRole".into(), Some(json!({"user_id": member_id, "role_id": 7}))),
        (
            Method::POST,
            "/user/v1/admin/assignRole".into(),
            Some(json!({"user_id": member_id, "role_id": foreign_role_id})),
        ),
        (
            Method::POST,
            "/user/v1/admin/addOrgAdmin".into(),
            Some(json!({"user_id": member_id, "organization_id": c.other_org_id})),
        ),
        // On another organisation's user.
        (Method::POST, "/user/v1/admin/assignRole".into(), Some(json!({"user_id": other_member_id, "role_id": 6}))),
        (Method::POST, "/user/v1/admin/deactivateUser".into(), Some(json!({"id": [other_member_id]}))),
        (Method::DELETE, format!("/user/v1/admin/deleteUser/{other_member_id}"), None),
        // On organisations: one a system admin belongs to, and another one.
        (Method::POST, "/user/v1/admin/deactivateOrg/1".into(), Some(json!({}))),
        (Method::POST, format!("/user/v1/admin/deactivateOrg/{}", c.other_org_id), Some(json!({}))),
    ];
    // A list with one user the org admin does not outrank changes nobody.
    app.post("/user/v1/admin/deactivateUser", org_admin, json!({"id": [member_id, admin_id]}))
        .await
        .assert_error_envelope(403);
    assert_eq!(app.get("/user/v1/user/read", Some(&member.access_token)).await.status.as_u16(), 200);
    for (method, path, body) in refused {
        let reply = app.call(method.clone(), &path, org_admin, body.clone()).await;
        assert_eq!(reply.status.as_u16(), 403, "{method} {path} {body:?}: {}", reply.body);
        reply.assert_error_envelope(403);
    }
    // Nothing changed.
    let root = app.get("/user/v1/user/read", admin).await;
    assert_eq!(root.status.as_u16(), 200, "{}", root.body);
    let titles = |profile: &Value| -> Vec<String> {
        profile["user_roles"].as_array().unwrap().iter().map(|r| r["title"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(titles(root.result()), ["admin"]);
    assert_eq!(titles(app.get("/user/v1/user/read", Some(&member.access_token)).await.result()), ["mentee"]);
    assert_eq!(app.get("/user/v1/user/read", Some(&other_member.access_token)).await.status.as_u16(), 200);
    assert_eq!(app.get("/user/v1/user/read", Some(&c.other_org_admin.access_token)).await.status.as_u16(), 200);

    // The same routes on a plain member of the org admin's own organisation work.
    let allowed: Vec<(Method, String, Option<Value>)> = vec![
        (Method::POST, "/user/v1/admin/assignRole".into(), Some(json!({"user_id": member_id, "role_id": 6}))),
        (Method::POST, "/user/v1/admin/addOrgAdmin".into(), Some(json!({"user_id": member_id, "organization_id": 1}))),
        (Method::POST, "/user/v1/admin/deactivateUser".into(), Some(json!({"id": [member_id]}))),
        (Method::DELETE, format!("/user/v1/admin/deleteUser/{member_id}"), None),
    ];
    for (method, path, body) in allowed {
        let reply = app.call(method.clone(), &path, org_admin, body.clone()).await;
        assert!(reply.status.is_success(), "{method} {path} {body:?}: {}", reply.body);
    }
    app.login("member@example.com", PASSWORD).await.assert_error_envelope(400);

    // An org admin may deactivate their own organisation when they outrank all of it.
    let third = app.post("/user/v1/organization/create", admin, json!({"name": "Third", "code": "third"})).await;
    let third_id = third.result()["id"].as_i64().unwrap();
    let third_admin = app.sign_up("Third Admin", "third-admin@example.com").await;
    let third_member = app.sign_up("Third Member", "third-member@example.com").await;
    for (user, role_id) in [(&third_admin, 5), (&third_member, 3)] {
        let body = json!({"user_id": id_of(user), "role_id": role_id, "organization_id": third_id});
        assert_eq!(app.post("/user/v1/admin/assignRole", admin, body).await.status.as_u16(), 200);
    }
    let third_admin = session(&app.login("third-admin@example.com", PASSWORD).await);
    let off =
        app.post(&format!("/user/v1/admin/deactivateOrg/{third_id}"), Some(&third_admin.access_token), json!({})).await;
    assert_eq!(off.status.as_u16(), 202, "{}", off.body);
    assert_eq!(off.result()[0]["deactivated_users"], 2);
}

on_both_backends!(
    every_route_against_every_caller,
    revoking_a_permission_takes_effect_at_once,
    rank_holds_whatever_the_grants
);
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

/// Every Sunbird route goes through its credential and capability check.
#[test]
fn every_sunbird_route_is_guarded_and_asks_for_a_capability() {
    let source =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/sunbird/user.rs"))
            .unwrap();
    let lines: Vec<&str> = source.lines().filter(|l| l.contains(".route(")).collect();
    for line in &lines {
        assert!(line.contains("guarded("), "unguarded Sunbird route: {line}");
    }
    let in_source: std::collections::BTreeSet<(String, String)> = crate::fuzz::routes_in_source()
        .into_iter()
        .filter(|(_, path)| {
            path.starts_with("/api/user/")
                || path.starts_with("/private/user/")
                || (path.starts_with("/v") && !path.starts_with("/user"))
        })
        .collect();
    assert_eq!(in_source.len(), lines.len(), "every Sunbird route is read from the source");
    let in_table: std::collections::BTreeSet<(String, String)> =
        roster::http::sunbird_routes().iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
    assert_eq!(in_source, in_table, "the Sunbird capability table lists exactly the Sunbird routes");
}

/// No route is left unchecked: every route the handler sources register
/// (read as the fuzz test reads them) asks for a capability in the route
/// table, and every entry of the table is a route. A route missing from the
/// table is refused to everyone, admins included.
#[test]
fn every_route_asks_for_a_capability() {
    let in_source: std::collections::BTreeSet<(String, String)> =
        crate::fuzz::routes_in_source().into_iter().filter(|(_, path)| path.starts_with("/user/v1/")).collect();
    let in_table: std::collections::BTreeSet<(String, String)> =
        roster::http::ELEVATE_ROUTES.iter().map(|r| (r.method.to_string(), r.path.to_string())).collect();
    assert_eq!(in_table.len(), roster::http::ELEVATE_ROUTES.len(), "a route is in the table twice");
    let unchecked: Vec<_> = in_source.difference(&in_table).collect();
    let stale: Vec<_> = in_table.difference(&in_source).collect();
    assert!(unchecked.is_empty(), "routes without a capability: {unchecked:?}");
    assert!(stale.is_empty(), "table entries without a route: {stale:?}");
    assert!(in_source.len() >= 58, "expected every ELEVATE route, read {}", in_source.len());
    for (method, path) in &in_source {
        let method = axum::http::Method::from_bytes(method.as_bytes()).unwrap();
        assert!(roster::http::authorize::capability_of(&method, path).is_some(), "{method} {path}");
    }
}
