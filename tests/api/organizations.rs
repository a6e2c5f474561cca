//! Organisations, role requests and admin powers (ELEVATE org-admin guide).

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

pub struct Cast {
    pub admin: Session,
    pub org_admin: Session,
    pub mentee: Session,
    pub other_org_admin: Session,
    pub other_org_id: i64,
}

/// An admin, an org admin and a mentee of the default organisation, and an
/// org admin of a second organisation.
pub async fn cast(app: &TestApp) -> Cast {
    let admin = app.admin_session().await;
    let org_admin = app.sign_up("Olga Admin", "olga@example.com").await;
    let promoted = app
        .post(
            "/user/v1/admin/addOrgAdmin",
            Some(&admin.access_token),
            json!({"user_id": org_admin.user["id"], "organization_id": 1}),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.body);
    let mentee = app.sign_up("Mina Mentee", "mina@example.com").await;
    let other = app
        .post(
            "/user/v1/organization/create",
            Some(&admin.access_token),
            json!({"name": "Other Org", "code": "other", "description": "x"}),
        )
        .await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.body);
    let other_org_id = other.result()["id"].as_i64().unwrap();
    let other_admin = app.sign_up("Oscar Other", "oscar@example.com").await;
    let moved = app
        .post(
            "/user/v1/admin/addOrgAdmin",
            Some(&admin.access_token),
            json!({"identifier": "oscar@example.com", "organization_id": other_org_id}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    Cast { admin, org_admin, mentee, other_org_admin: other_admin, other_org_id }
}

fn has_role(profile: &serde_json::Value, title: &str) -> bool {
    profile["user_roles"].as_array().unwrap().iter().any(|r| r["title"] == title)
}

async fn request_approve_reject_flow(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let asked = app
        .post(
            "/user/v1/organization/requestOrgRole",
            Some(&c.mentee.access_token),
            json!({"role": 2, "form_data": {"why": "I teach"}}),
        )
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    assert_eq!(asked.result()["status"], "REQUESTED");
    let request_id = asked.result()["request_id"].as_i64().unwrap();
    // A second pending request is refused as ELEVATE does.
    let again =
        app.post("/user/v1/organization/requestOrgRole", Some(&c.mentee.access_token), json!({"role": 6})).await;
    again.assert_error_envelope(406);
    assert_eq!(again.body["message"], "Role change request is already pending", "no status in the message");

    let queue = app
        .post(
            "/user/v1/org-admin/getRequests?page=1&limit=10",
            Some(&c.org_admin.access_token),
            json!({"filters": {"status": ["REQUESTED"]}}),
        )
        .await;
    assert_eq!(queue.status, StatusCode::OK, "{}", queue.body);
    assert_eq!(queue.result()["count"], 1);
    assert_eq!(queue.result()["data"][0]["id"], request_id);
    assert_eq!(queue.result()["data"][0]["requester"]["name"], "Mina Mentee");
    // The other organisation's admin sees none of it.
    let elsewhere = app.post("/user/v1/org-admin/getRequests", Some(&c.other_org_admin.access_token), json!({})).await;
    assert_eq!(elsewhere.result()["count"], 0);
    app.get(&format!("/user/v1/org-admin/getRequestDetails/{request_id}"), Some(&c.other_org_admin.access_token))
        .await
        .assert_error_envelope(403);

    let review = app
        .post(
            "/user/v1/org-admin/updateRequestStatus",
            Some(&c.org_admin.access_token),
            json!({"request_id": request_id, "status": "UNDER_REVIEW", "comments": ["checking"]}),
        )
        .await;
    assert_eq!(review.result()["status"], "UNDER_REVIEW");
    let approved = app
        .post(
            "/user/v1/org-admin/updateRequestStatus",
            Some(&c.org_admin.access_token),
            json!({"request_id": request_id, "status": "APPROVED", "comments": ["verified"]}),
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
    assert_eq!(approved.result()["status"], "APPROVED");
    // The role shows at once, and in tokens issued after it.
    let me = app.get("/user/v1/user/read", Some(&c.mentee.access_token)).await;
    assert!(has_role(me.result(), "mentor"), "{}", me.body);
    let relogin = session(&app.login("mina@example.com", PASSWORD).await);
    assert!(relogin.access_token.split('.').count() == 3);
    assert!(has_role(&relogin.user, "mentor"));
    let details = app
        .get(&format!("/user/v1/org-admin/getRequestDetails?request_id={request_id}"), Some(&c.org_admin.access_token))
        .await;
    assert_eq!(details.result()["comments"], json!(["checking", "verified"]));
    assert_eq!(details.result()["role"], "mentor");
    assert_eq!(details.result()["handler"]["name"], "Olga Admin");
    // Decided is final.
    app.post(
        "/user/v1/org-admin/updateRequestStatus",
        Some(&c.org_admin.access_token),
        json!({"request_id": request_id, "status": "REJECTED"}),
    )
    .await
    .assert_error_envelope(400);
    // Unknown request ids and statuses are 400s, not 500s.
    app.post(
        "/user/v1/org-admin/updateRequestStatus",
        Some(&c.org_admin.access_token),
        json!({"request_id": 999999, "status": "APPROVED"}),
    )
    .await
    .assert_error_envelope(400);
    app.post(
        "/user/v1/org-admin/updateRequestStatus",
        Some(&c.org_admin.access_token),
        json!({"request_id": request_id, "status": "MAYBE"}),
    )
    .await
    .assert_error_envelope(400);

    // The pending slot is free again: a rejected request grants nothing.
    let second =
        app.post("/user/v1/organization/requestOrgRole", Some(&c.mentee.access_token), json!({"role": 6})).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    let second_id = second.result()["request_id"].as_i64().unwrap();
    let rejected = app
        .post(
            "/user/v1/org-admin/updateRequestStatus",
            Some(&c.org_admin.access_token),
            json!({"request_id": second_id, "status": "REJECTED"}),
        )
        .await;
    assert_eq!(rejected.result()["status"], "REJECTED");
    let me = app.get("/user/v1/user/read", Some(&c.mentee.access_token)).await;
    assert!(!has_role(me.result(), "session_manager"));
}

async fn parallel_approve_and_reject_leave_one_decision(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let asked =
        app.post("/user/v1/organization/requestOrgRole", Some(&c.mentee.access_token), json!({"role": 2})).await;
    let request_id = asked.result()["request_id"].as_i64().unwrap();
    let decisions =
        [(&c.org_admin, "APPROVED"), (&c.admin, "REJECTED"), (&c.org_admin, "REJECTED"), (&c.admin, "APPROVED")];
    let replies = join_all(decisions.iter().map(|(who, status)| {
        app.post(
            "/user/v1/org-admin/updateRequestStatus",
            Some(&who.access_token),
            json!({"request_id": request_id, "status": status}),
        )
    }))
    .await;
    let winners: Vec<_> = replies.iter().filter(|r| r.status == StatusCode::OK).collect();
    assert_eq!(winners.len(), 1, "{:?}", replies.iter().map(|r| r.body.clone()).collect::<Vec<_>>());
    assert!(replies.iter().all(|r| r.status == StatusCode::OK || r.status == StatusCode::BAD_REQUEST));
    let final_status = winners[0].result()["status"].as_str().unwrap().to_string();
    let me = app.get("/user/v1/user/read", Some(&c.mentee.access_token)).await;
    assert_eq!(has_role(me.result(), "mentor"), final_status == "APPROVED");
    let decided: i64 = roster::on_pool!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'RoleRequestStatusChanged'").fetch_one(pool).await.unwrap()
    });
    assert_eq!(decided, 1);
}

async fn organisations_are_created_updated_listed_and_deactivated(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let dup = app
        .post(
            "/user/v1/organization/create",
            Some(&c.admin.access_token),
            json!({"name": "Again", "code": "OTHER", "description": ""}),
        )
        .await;
    dup.assert_error_envelope(400);
    let updated = app
        .patch(
            "/user/v1/organization/update/1",
            Some(&c.org_admin.access_token),
            Some(json!({"name": "Main Org", "description": "ours"})),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.result()["name"], "Main Org");
    app.patch("/user/v1/organization/update/1", Some(&c.org_admin.access_token), Some(json!({"related_orgs": [2]})))
        .await
        .assert_error_envelope(400);
    let related = app
        .patch(
            "/user/v1/organization/update/1",
            Some(&c.admin.access_token),
            Some(json!({"related_orgs": [c.other_org_id]})),
        )
        .await;
    assert_eq!(related.result()["related_orgs"], json!([c.other_org_id]));
    app.patch("/user/v1/organization/update/1", Some(&c.other_org_admin.access_token), Some(json!({"name": "Hijack"})))
        .await
        .assert_error_envelope(403);
    let list = app.get("/user/v1/organization/list?search=oth", Some(&c.mentee.access_token)).await;
    assert_eq!(list.result()["count"], 1);
    assert_eq!(list.result()["data"][0]["code"], "other");
    let by_code = app.get("/user/v1/organization/read?organisation_code=other", Some(&c.mentee.access_token)).await;
    assert_eq!(by_code.result()["id"], c.other_org_id);
    let by_id = app.get("/user/v1/organization/read?organisation_id=1", Some(&c.mentee.access_token)).await;
    assert_eq!(by_id.result()["name"], "Main Org");

    // Deactivating the other organisation deactivates its user, whose tokens die.
    let off = app
        .post(&format!("/user/v1/admin/deactivateOrg/{}", c.other_org_id), Some(&c.admin.access_token), json!({}))
        .await;
    assert_eq!(off.status, StatusCode::ACCEPTED, "{}", off.body);
    assert_eq!(off.result()[0]["deactivated_users"], 1);
    app.get("/user/v1/user/read", Some(&c.other_org_admin.access_token)).await.assert_error_envelope(401);
    app.login("oscar@example.com", PASSWORD).await.assert_error_envelope(400);
    app.post(&format!("/user/v1/admin/deactivateOrg/{}", c.other_org_id), Some(&c.admin.access_token), json!({}))
        .await
        .assert_error_envelope(400);
}

async fn deactivation_by_id_and_email_and_deletion(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let a = app.sign_up("Ann One", "ann1@example.com").await;
    let b = app.sign_up("Ben Two", "ben2@example.com").await;
    let d = app.sign_up("Dee Three", "dee3@example.com").await;
    // The other organisation's admin can do nothing to our users.
    app.post("/user/v1/org-admin/deactivateUser", Some(&c.other_org_admin.access_token), json!({"id": [a.user["id"]]}))
        .await
        .assert_error_envelope(403);
    assert_eq!(app.get("/user/v1/user/read", Some(&a.access_token)).await.status, StatusCode::OK);

    let by_id = app
        .post("/user/v1/org-admin/deactivateUser", Some(&c.org_admin.access_token), json!({"id": [a.user["id"]]}))
        .await;
    assert_eq!(by_id.status, StatusCode::ACCEPTED, "{}", by_id.body);
    assert_eq!(by_id.result()["deactivated_users"], 1);
    let by_email = app
        .post("/user/v1/admin/deactivateUser", Some(&c.admin.access_token), json!({"email": ["BEN2@example.com"]}))
        .await;
    assert_eq!(by_email.result()["deactivated_users"], 1);
    for s in [&a, &b] {
        app.get("/user/v1/user/read", Some(&s.access_token)).await.assert_error_envelope(401);
    }
    app.login("ann1@example.com", PASSWORD).await.assert_error_envelope(400);

    let deleted = app
        .call(
            reqwest::Method::DELETE,
            &format!("/user/v1/admin/deleteUser/{}", d.user["id"]),
            Some(&c.admin.access_token),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{}", deleted.body);
    assert_eq!(deleted.result()[0]["user_id"], d.user["id"]);
    app.get("/user/v1/user/read", Some(&d.access_token)).await.assert_error_envelope(401);
    app.login("dee3@example.com", PASSWORD).await.assert_error_envelope(400);
    // The email is free again.
    app.sign_up("Dee Again", "dee3@example.com").await;
    // Unknown ids are 4xx.
    app.post("/user/v1/admin/deactivateUser", Some(&c.admin.access_token), json!({"id": [987654]}))
        .await
        .assert_error_envelope(400);
    app.call(reqwest::Method::DELETE, "/user/v1/admin/deleteUser/987654", Some(&c.admin.access_token), None)
        .await
        .assert_error_envelope(404);
}

/// A request made in one organisation is not approved after the user moved
/// to another: approving would move them back. Rejecting it still works.
async fn a_request_from_an_organisation_the_user_left_is_not_approved(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let asked =
        app.post("/user/v1/organization/requestOrgRole", Some(&c.mentee.access_token), json!({"role": 2})).await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let request_id = asked.result()["request_id"].as_i64().unwrap();
    let moved = app
        .post(
            "/user/v1/admin/assignRole",
            Some(&c.admin.access_token),
            json!({"identifier": "mina@example.com", "role_id": 3, "organization_id": c.other_org_id}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let approved = app
        .post(
            "/user/v1/org-admin/updateRequestStatus",
            Some(&c.admin.access_token),
            json!({"request_id": request_id, "status": "APPROVED", "comments": []}),
        )
        .await;
    approved.assert_error_envelope(400);
    assert_eq!(approved.body["error"][0]["param"], "request_id", "{}", approved.body);
    let me = app.get("/user/v1/user/read", Some(&c.mentee.access_token)).await;
    assert_eq!(me.result()["organization_id"], c.other_org_id, "{}", me.body);
    assert!(!has_role(me.result(), "mentor"), "{}", me.body);
    let rejected = app
        .post(
            "/user/v1/org-admin/updateRequestStatus",
            Some(&c.admin.access_token),
            json!({"request_id": request_id, "status": "REJECTED", "comments": ["moved"]}),
        )
        .await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.body);
}

/// A user moved to another organisation leaves the roles of the one left:
/// `org_admin` (power over it) and the roles it defined; default roles
/// travel. An org admin moved away is no org admin anywhere, unless made one
/// of the new organisation.
async fn a_moved_user_leaves_the_old_organisations_roles(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let admin = Some(c.admin.access_token.as_str());
    let own_role = app
        .post("/user/v1/userRole/create", admin, json!({"title": "other_only", "organization_id": c.other_org_id}))
        .await;
    assert_eq!(own_role.status, StatusCode::CREATED, "{}", own_role.body);
    let oscar = c.other_org_admin.user["id"].clone();
    let grant = json!({"user_id": oscar, "role_id": own_role.result()["id"], "organization_id": c.other_org_id});
    assert_eq!(app.post("/user/v1/admin/assignRole", admin, grant).await.status, StatusCode::OK);
    let moved = app
        .post("/user/v1/admin/assignRole", admin, json!({"user_id": oscar, "role_id": 2, "organization_id": 1}))
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    let me = app.get("/user/v1/user/read", Some(&c.other_org_admin.access_token)).await;
    assert_eq!(me.result()["organization_id"], 1, "{}", me.body);
    assert!(has_role(me.result(), "mentor"), "{}", me.body);
    assert!(!has_role(me.result(), "org_admin"), "org_admin of the organisation left: {}", me.body);
    assert!(!has_role(me.result(), "other_only"), "a role the organisation left defined: {}", me.body);
    // No org-admin powers in the new organisation.
    app.post("/user/v1/org-admin/getRequests", Some(&c.other_org_admin.access_token), json!({}))
        .await
        .assert_error_envelope(403);
    // Made an org admin of a new organisation, they are one there.
    let back = app
        .post("/user/v1/admin/addOrgAdmin", admin, json!({"user_id": oscar, "organization_id": c.other_org_id}))
        .await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    let me = app.get("/user/v1/user/read", Some(&c.other_org_admin.access_token)).await;
    assert!(has_role(me.result(), "org_admin"), "{}", me.body);
    assert_eq!(me.result()["organization_id"], c.other_org_id, "{}", me.body);
}

on_both_backends!(
    a_moved_user_leaves_the_old_organisations_roles,
    a_request_from_an_organisation_the_user_left_is_not_approved,
    request_approve_reject_flow,
    parallel_approve_and_reject_leave_one_decision,
    organisations_are_created_updated_listed_and_deactivated,
    deactivation_by_id_and_email_and_deletion,
    replay_rebuilds_the_new_read_models,
);

/// The organisation, role and role-request read models rebuild identically from the log.
async fn replay_rebuilds_the_new_read_models(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let asked =
        app.post("/user/v1/organization/requestOrgRole", Some(&c.mentee.access_token), json!({"role": 2})).await;
    let id = asked.result()["request_id"].as_i64().unwrap();
    app.post(
        "/user/v1/org-admin/updateRequestStatus",
        Some(&c.org_admin.access_token),
        json!({"request_id": id, "status": "APPROVED", "comments": ["a", "b"]}),
    )
    .await;
    app.post(&format!("/user/v1/admin/deactivateOrg/{}", c.other_org_id), Some(&c.admin.access_token), json!({})).await;
    app.post("/user/v1/modules/create", Some(&c.admin.access_token), json!({"code": "sessions"})).await;
    let live = dump(&app.state.db).await;
    assert!(live.iter().all(|(_, rows)| !rows.is_empty()), "every read table has rows: {live:?}");
    app.state.projector.rebuild(|_, _| {}).await.unwrap();
    assert_eq!(live, dump(&app.state.db).await);
}
