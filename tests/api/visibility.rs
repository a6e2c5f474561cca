//! Field-level visibility (README, "Field-level visibility"): a caller sees
//! another user's email, phone and other personal fields only with the
//! `user.contact.read` capability and power over that user (a system admin,
//! an org admin of the user's organisation); everyone sees themself in
//! full; everyone else gets the public profile, through every route that
//! renders another user. Searches match other users' emails only where the
//! caller may see them. And capabilities follow the permission data, edited
//! through ELEVATE's permission APIs.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;
use crate::organizations::{cast, Cast};

/// Fields only the full profile holds.
const PRIVATE: [&str; 8] =
    ["email", "phone", "username", "gender", "location", "share_link", "last_logged_in_at", "preferred_language"];

fn assert_public(profile: &Value, who: &str) {
    for field in PRIVATE {
        assert!(profile.get(field).is_none(), "{who}: `{field}` in a public profile: {profile}");
    }
    assert!(profile["name"].is_string() && profile["id"].is_i64(), "{who}: the public profile names the user");
    assert!(profile["user_roles"].is_array() && profile["organization_id"].is_i64(), "{who}: {profile}");
}

fn assert_full(profile: &Value, email: &str, phone: &str, who: &str) {
    assert_eq!(profile["email"], email, "{who}: {profile}");
    assert_eq!(profile["phone"], phone, "{who}: {profile}");
    assert!(profile.get("username").is_some(), "{who}: {profile}");
}

struct People {
    c: Cast,
    /// A mentee of the default organisation, with a phone.
    colleague: Session,
    /// A mentee of the other organisation, with a phone.
    stranger: Session,
}

const COLLEAGUE: (&str, &str, &str) = ("Anna Colleague", "anna@acme.test", "+4915112345001");
const STRANGER: (&str, &str, &str) = ("Bea Stranger", "zb@beta.test", "+4915112345002");

async fn people(app: &TestApp) -> People {
    let c = cast(app).await;
    let mut signed_up = Vec::new();
    for (name, email, phone) in [COLLEAGUE, STRANGER] {
        let body = json!({"name": name, "email": email, "password": PASSWORD, "phone": phone});
        let reply = app.post("/user/v1/account/create", None, body).await;
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
        signed_up.push(session(&reply));
    }
    let stranger = signed_up.pop().unwrap();
    let colleague = signed_up.pop().unwrap();
    let moved = app
        .post(
            "/user/v1/admin/assignRole",
            Some(&c.admin.access_token),
            json!({"user_id": stranger.user["id"], "role_id": 3, "organization_id": c.other_org_id}),
        )
        .await;
    assert_eq!(moved.status.as_u16(), 200, "{}", moved.body);
    People { c, colleague, stranger }
}

fn id(s: &Session) -> i64 {
    s.user["id"].as_i64().unwrap()
}

async fn read(app: &TestApp, token: &str, user: &Session) -> Value {
    let reply = app.get(&format!("/user/v1/user/read/{}", id(user)), Some(token)).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    reply.result().clone()
}

/// Every listed user by id, from `account/list` or `account/search` replies.
fn listed(reply: &Reply) -> Vec<Value> {
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    reply.result()["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|group| group["values"].as_array().unwrap().iter().cloned())
        .collect()
}

fn entry_of(entries: &[Value], user: &Session) -> Value {
    entries.iter().find(|e| e["id"] == user.user["id"]).cloned().unwrap_or_else(|| panic!("{} not listed", user.user))
}

async fn list(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    listed(&app.get(&format!("/user/v1/account/list?{query}"), Some(token)).await)
}

async fn search(app: &TestApp, token: &str, query: &str, body: Value) -> Vec<Value> {
    listed(&app.post(&format!("/user/v1/account/search?{query}"), Some(token), body).await)
}

/// Whose emails `token`'s lists show, of `users`.
async fn emails_listed(app: &TestApp, token: &str, users: &[&Session]) -> Vec<bool> {
    let everyone = list(app, token, "page=1&limit=100").await;
    let searched =
        search(app, token, "type=all", json!({"user_ids": users.iter().map(|u| id(u)).collect::<Vec<_>>()})).await;
    users
        .iter()
        .map(|u| {
            let (listed, found) = (entry_of(&everyone, u), entry_of(&searched, u));
            assert_eq!(listed.get("email"), found.get("email"), "list and search agree");
            listed.get("email").is_some_and(|e| e.is_string())
        })
        .collect()
}

async fn a_member_sees_other_users_public_profiles_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let p = people(&app).await;
    let mentee = p.c.mentee.access_token.as_str();

    // Another organisation's user, and one of the mentee's own: public.
    assert_public(&read(&app, mentee, &p.stranger).await, "stranger");
    assert_public(&read(&app, mentee, &p.colleague).await, "colleague");
    // By UUID too.
    let by_uuid = format!("/user/v1/user/read/{}", p.stranger.user["uuid"].as_str().unwrap());
    assert_public(app.get(&by_uuid, Some(mentee)).await.result(), "stranger by uuid");

    // Lists and searches show every organisation's users, as ELEVATE lists
    // its tenant's, without their emails.
    assert_eq!(emails_listed(&app, mentee, &[&p.stranger, &p.colleague, &p.c.mentee]).await, [false, false, true]);
    let by_name = list(&app, mentee, "search=bea").await;
    assert_eq!(by_name.len(), 1);
    assert!(by_name[0].get("email").is_none(), "{}", by_name[0]);
    // No email reveals who owns it, whole, in part or at its start.
    for term in ["zb@beta.test", "beta.test", "zb"] {
        let found = list(&app, mentee, &format!("search={term}")).await;
        assert!(found.iter().all(|e| e["id"] != p.stranger.user["id"]), "search={term} found the stranger: {found:?}");
    }
    assert!(search(&app, mentee, "type=all", json!({"email_ids": [STRANGER.1]})).await.is_empty());
    // Narrowing to one organisation, as ELEVATE's `organization_id` does.
    let other_org = list(&app, mentee, &format!("organization_id={}", p.c.other_org_id)).await;
    let mut ids: Vec<&Value> = other_org.iter().map(|e| &e["id"]).collect();
    ids.sort_by_key(|v| v.as_i64());
    assert_eq!(ids, [&p.c.other_org_admin.user["id"], &p.stranger.user["id"]]);
    app.get("/user/v1/account/list?organization_id=x", Some(mentee)).await.assert_error_envelope(400);
}

async fn everyone_sees_themself_in_full(backend: Backend) {
    let app = spawn_app(backend).await;
    let p = people(&app).await;
    let own = p.stranger.access_token.as_str();
    assert_full(&read(&app, own, &p.stranger).await, STRANGER.1, STRANGER.2, "by id");
    let me = app.get("/user/v1/user/read", Some(own)).await;
    assert_full(me.result(), STRANGER.1, STRANGER.2, "user/read");
    assert_eq!(emails_listed(&app, own, &[&p.stranger]).await, [true]);
    // Their own email matches their own searches.
    let found = list(&app, own, "search=beta.test").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["email"], STRANGER.1);
}

async fn an_org_admin_sees_their_organisation_in_full(backend: Backend) {
    let app = spawn_app(backend).await;
    let p = people(&app).await;
    let olga = p.c.org_admin.access_token.as_str();
    assert_full(&read(&app, olga, &p.colleague).await, COLLEAGUE.1, COLLEAGUE.2, "own organisation");
    assert_public(&read(&app, olga, &p.stranger).await, "other organisation");
    assert_eq!(emails_listed(&app, olga, &[&p.colleague, &p.stranger]).await, [true, false]);
    assert_eq!(list(&app, olga, "search=acme.test").await.len(), 1, "own organisation's emails match");
    assert!(list(&app, olga, "search=beta.test").await.is_empty(), "the other's do not");
    // The org admin of the other organisation, the other way round.
    let oscar = p.c.other_org_admin.access_token.as_str();
    assert_full(&read(&app, oscar, &p.stranger).await, STRANGER.1, STRANGER.2, "oscar's own");
    assert_public(&read(&app, oscar, &p.colleague).await, "not oscar's");
    assert_eq!(emails_listed(&app, oscar, &[&p.colleague, &p.stranger]).await, [false, true]);

    // Role requests name their requester by email to the organisation's admins.
    let asked =
        app.post("/user/v1/organization/requestOrgRole", Some(&p.colleague.access_token), json!({"role": 2})).await;
    assert_eq!(asked.status.as_u16(), 200, "{}", asked.body);
    let queue = app.post("/user/v1/org-admin/getRequests", Some(olga), json!({})).await;
    assert_eq!(queue.result()["data"][0]["requester"]["email"], COLLEAGUE.1, "{}", queue.body);
}

/// Short terms read the prefix rows (migration 0018): the start of an email
/// matches only for callers who may see that email, and the count of a full
/// page (computed, not taken from the page) agrees with the whole list.
async fn short_terms_match_emails_in_scope_and_count_right(backend: Backend) {
    let app = spawn_app(backend).await;
    let p = people(&app).await;
    let (mentee, olga) = (p.c.mentee.access_token.as_str(), p.c.org_admin.access_token.as_str());
    let (oscar, root) = (p.c.other_org_admin.access_token.as_str(), p.c.admin.access_token.as_str());
    let own = p.stranger.access_token.as_str();
    // "zb" starts only the stranger's email (zb@beta.test), in oscar's organisation.
    for (who, token, found) in [
        ("mentee", mentee, false),
        ("olga", olga, false),
        ("oscar", oscar, true),
        ("admin", root, true),
        ("self", own, true),
    ] {
        let listed = list(&app, token, "search=zb").await;
        assert_eq!(listed.iter().any(|e| e["id"] == p.stranger.user["id"]), found, "{who}: {listed:?}");
    }
    for token in [mentee, olga, oscar, root, own] {
        for term in ["a", "b", "z", "an", "ze"] {
            let all = list(&app, token, &format!("search={term}&limit=100")).await.len() as i64;
            let first = app.get(&format!("/user/v1/account/list?search={term}&limit=1"), Some(token)).await;
            assert_eq!(first.result()["count"], all, "search={term}: {}", first.body);
        }
    }
}

async fn an_admin_sees_everyone_in_full(backend: Backend) {
    let app = spawn_app(backend).await;
    let p = people(&app).await;
    let root = p.c.admin.access_token.as_str();
    assert_full(&read(&app, root, &p.colleague).await, COLLEAGUE.1, COLLEAGUE.2, "default organisation");
    assert_full(&read(&app, root, &p.stranger).await, STRANGER.1, STRANGER.2, "other organisation");
    assert_eq!(emails_listed(&app, root, &[&p.colleague, &p.stranger, &p.c.mentee]).await, [true, true, true]);
    assert_eq!(list(&app, root, "search=beta.test").await.len(), 1);
    assert_eq!(search(&app, root, "type=all", json!({"email_ids": [STRANGER.1]})).await.len(), 1);
}

/// Capabilities are read from the permission data: a permission created,
/// edited, mapped, unmapped and deleted through ELEVATE's own APIs grants
/// and revokes the routes it covers, and the contact visibility that comes
/// with them.
async fn capabilities_follow_the_permission_data(backend: Backend) {
    let app = spawn_app(backend).await;
    let p = people(&app).await;
    let root = Some(p.c.admin.access_token.as_str());
    let mentee = Some(p.c.mentee.access_token.as_str());
    let status = |reply: Reply| reply.status.as_u16();
    let own = "/user/v1/user/read".to_string();
    let other = format!("/user/v1/user/read/{}", id(&p.colleague));
    let reads = || async { (status(app.get(&own, mentee).await), status(app.get(&other, mentee).await)) };
    assert_eq!(reads().await, (200, 200));

    // The default `user/read*` permission (14) leaves the mentee role (3).
    let unmapped = app.post("/user/v1/rolePermissionMapping/delete/3", root, json!({"permission_id": 14})).await;
    assert_eq!(unmapped.status.as_u16(), 202, "{}", unmapped.body);
    assert_eq!(reads().await, (403, 403));

    // A new permission for the caller's own profile only.
    let definition = |api_path: &str, methods: Value| json!({"code": "read_own_profile", "module": "user", "request_type": methods, "api_path": api_path});
    let created = app.post("/user/v1/permissions/create", root, definition("/user/v1/user/read", json!(["GET"]))).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.body);
    let permission = created.result()["id"].as_i64().unwrap();
    let mapped = app.post("/user/v1/rolePermissionMapping/create/3", root, json!({"permission_id": permission})).await;
    assert_eq!(mapped.status.as_u16(), 201, "{}", mapped.body);
    assert_eq!(reads().await, (200, 403));

    // Widened to both reads, then to another method: the grants follow.
    let update = format!("/user/v1/permissions/update/{permission}");
    let widened = app.patch(&update, root, Some(definition("/user/v1/user/read*", json!(["GET"])))).await;
    assert_eq!(widened.status.as_u16(), 201, "{}", widened.body);
    assert_eq!(reads().await, (200, 200));
    app.patch(&update, root, Some(definition("/user/v1/user/read*", json!(["POST"])))).await;
    assert_eq!(reads().await, (403, 403));
    app.patch(&update, root, Some(definition("/user/v1/user/read*", json!(["GET"])))).await;
    assert_eq!(reads().await, (200, 200));
    let delete = format!("/user/v1/permissions/delete/{permission}");
    assert_eq!(app.call(reqwest::Method::DELETE, &delete, root, None).await.status.as_u16(), 202);
    assert_eq!(reads().await, (403, 403));

    // A permission names an action, not a spelling: one for `user-role/list`
    // reaches its alias `userRole/list`.
    let alias =
        json!({"code": "list_roles", "module": "user", "request_type": ["GET"], "api_path": "/user/v1/user-role/list"});
    assert_eq!(app.get("/user/v1/userRole/list", mentee).await.status.as_u16(), 403);
    let created = app.post("/user/v1/permissions/create", root, alias).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.body);
    let body = json!({"permission_id": created.result()["id"]});
    assert_eq!(app.post("/user/v1/rolePermissionMapping/create/3", root, body).await.status.as_u16(), 201);
    assert_eq!(app.get("/user/v1/userRole/list", mentee).await.status.as_u16(), 200);

    // Org admins (role 5) see their users' contacts through the capabilities
    // of `org-admin/*` (30): without it, public profiles and no org-admin routes.
    let olga = p.c.org_admin.access_token.as_str();
    assert_full(&read(&app, olga, &p.colleague).await, COLLEAGUE.1, COLLEAGUE.2, "with org-admin/*");
    let unmapped = app.post("/user/v1/role-permission-mapping/delete/5", root, json!({"permission_id": 30})).await;
    assert_eq!(unmapped.status.as_u16(), 202, "{}", unmapped.body);
    assert_eq!(app.post("/user/v1/org-admin/getRequests", Some(olga), json!({})).await.status.as_u16(), 403);
    assert_public(&read(&app, olga, &p.colleague).await, "without org-admin/*");
    assert_eq!(emails_listed(&app, olga, &[&p.colleague]).await, [false]);
    let mapped = app.post("/user/v1/rolePermissionMapping/create/5", root, json!({"permission_id": 30})).await;
    assert_eq!(mapped.status.as_u16(), 201, "{}", mapped.body);
    assert_full(&read(&app, olga, &p.colleague).await, COLLEAGUE.1, COLLEAGUE.2, "org-admin/* again");
}

on_both_backends!(
    a_member_sees_other_users_public_profiles_only,
    everyone_sees_themself_in_full,
    an_org_admin_sees_their_organisation_in_full,
    an_admin_sees_everyone_in_full,
    short_terms_match_emails_in_scope_and_count_right,
    capabilities_follow_the_permission_data
);
