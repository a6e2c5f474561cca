//! The Sunbird UserOrg dialect: its envelope on every answer, its error
//! codes, its two credentials, the user routes in both forms, and one user
//! across dialects (a Sunbird user logs in through ELEVATE and the reverse).

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;

/// A Sunbird call: `key` in `Authorization: Bearer`, `user` in
/// `x-authenticated-user-token`.
pub(crate) async fn sb(
    app: &TestApp,
    method: Method,
    path: &str,
    key: Option<&str>,
    user: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut request = app.client.request(method, app.url(path)).header("X-msgid", "msg-1234");
    if let Some(key) = key {
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    if let Some(user) = user {
        request = request.header("x-authenticated-user-token", user);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    Reply::from(request.send().await.unwrap()).await
}

/// The envelope, whatever the answer.
pub(crate) fn assert_envelope(reply: &Reply, status: u16, id: &str) {
    let b = &reply.body;
    assert_eq!(reply.status.as_u16(), status, "{b}");
    assert_eq!(b["id"], id, "{b}");
    assert!(b["ver"].as_str().is_some_and(|v| v.starts_with('v')), "{b}");
    let ts = b["ts"].as_str().unwrap_or_default();
    assert!(ts.len() == 28 && ts.ends_with("+0000") && &ts[10..11] == " " && &ts[19..20] == ":", "ts {ts}");
    assert_eq!(b["params"]["msgid"], "msg-1234", "{b}");
    assert!(b["params"]["resmsgid"].as_str().is_some_and(|r| !r.is_empty()), "{b}");
    assert!(b["result"].is_object(), "{b}");
    if status == 200 {
        assert_eq!(b["params"]["status"], "success", "{b}");
        assert!(b["params"]["err"].is_null() && b["params"]["errmsg"].is_null(), "{b}");
        assert_eq!(b["responseCode"], "OK", "{b}");
    } else {
        assert_eq!(b["params"]["status"], "failed", "{b}");
        assert!(b["params"]["errmsg"].as_str().is_some_and(|m| !m.is_empty()), "{b}");
    }
}

/// An error: status, `params.err`, `responseCode` and (if given) `errmsg`.
pub(crate) fn assert_error(reply: &Reply, status: u16, err: &str, response_code: &str, errmsg: Option<&str>) {
    let b = &reply.body;
    assert_eq!(reply.status.as_u16(), status, "{b}");
    assert_eq!(b["params"]["err"], err, "{b}");
    assert_eq!(b["params"]["status"], "failed", "{b}");
    assert_eq!(b["responseCode"], response_code, "{b}");
    if let Some(errmsg) = errmsg {
        assert_eq!(b["params"]["errmsg"], errmsg, "{b}");
    }
}

/// Who calls in a route × caller matrix.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Who {
    Anonymous,
    Mentee,
    OtherOrgAdmin,
    OrgAdmin,
    Admin,
}
pub(crate) const EVERYONE: &[Who] = &[Who::Anonymous, Who::Mentee, Who::OtherOrgAdmin, Who::OrgAdmin, Who::Admin];

/// A matrix row: method, path, body, and who may call it.
pub(crate) type MatrixRow = (Method, String, Option<Value>, &'static [Who]);

/// Calls every row as every caller (the service account's credentials, the
/// caller's user token) and fails listing each decision that is not the
/// row's: refused (401/403) for those not allowed, let through for the others.
pub(crate) async fn assert_matrix(
    app: &TestApp,
    c: &crate::organizations::Cast,
    service: &Session,
    rows: &[MatrixRow],
) {
    let mut unexpected = Vec::new();
    for (method, path, body, allowed) in rows {
        for who in EVERYONE {
            let user = match who {
                Who::Anonymous => None,
                Who::Mentee => Some(c.mentee.access_token.as_str()),
                Who::OtherOrgAdmin => Some(c.other_org_admin.access_token.as_str()),
                Who::OrgAdmin => Some(c.org_admin.access_token.as_str()),
                Who::Admin => Some(c.admin.access_token.as_str()),
            };
            let reply = sb(app, method.clone(), path, Some(&service.access_token), user, body.clone()).await;
            assert!(!reply.status.is_server_error(), "{method} {path} as {who:?}: {}", reply.body);
            let denied = matches!(reply.status.as_u16(), 401 | 403);
            if denied == allowed.contains(who) {
                unexpected.push(format!("{method} {path} as {who:?}: {} {}", reply.status, reply.body["params"]));
            }
        }
    }
    assert!(unexpected.is_empty(), "unexpected decisions:\n{}", unexpected.join("\n"));
}

pub(crate) fn create_body(first: &str, last: &str, email: &str) -> Value {
    json!({"request": {"firstName": first, "lastName": last, "email": email, "password": PASSWORD, "emailVerified": true}})
}

/// Creates a user through Sunbird's gateway form with `key`; its UUID.
pub(crate) async fn create(app: &TestApp, key: &str, first: &str, last: &str, email: &str) -> String {
    let reply =
        sb(app, Method::POST, "/api/user/v1/create", Some(key), None, Some(create_body(first, last, email))).await;
    assert_envelope(&reply, 200, "api.user.create");
    assert_eq!(reply.result()["response"], "SUCCESS");
    reply.result()["userId"].as_str().unwrap().to_string()
}

async fn success_and_error_envelopes(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let post = |path: &'static str, body: Value| sb(&app, Method::POST, path, Some(key), None, Some(body));

    let ada = create(&app, key, "Ada", "Lovelace", "ada@example.com").await;
    let taken = post("/api/user/v2/create", create_body("Ada", "Again", "ADA@example.com")).await;
    assert_envelope(&taken, 400, "api.user.create");
    assert_error(&taken, 400, "UOS_USRCRT0002", "CLIENT_ERROR", Some("email already exists"));
    let missing =
        post("/api/user/v3/create", json!({"request": {"email": "b@example.com", "password": PASSWORD}})).await;
    assert_error(&missing, 400, "UOS_USRCRT0030", "CLIENT_ERROR", Some("Mandatory parameter firstName is missing."));
    let weak =
        post("/v1/user/create", json!({"request": {"firstName": "B", "email": "b@example.com", "password": "Pass@1"}}))
            .await;
    assert_envelope(&weak, 400, "api.user.create");
    assert_error(&weak, 400, "UOS_USRCRT0024", "CLIENT_ERROR", None);
    let email = post("/v1/ssouser/create", create_body("B", "C", "not-an-email")).await;
    assert_error(&email, 400, "UOS_USRCRT0009", "CLIENT_ERROR", Some("Invalid format for given email."));
    let typed = post(
        "/api/user/v1/signup",
        json!({"request": {"firstName": 5, "email": "b@example.com", "password": PASSWORD}}),
    )
    .await;
    assert_error(&typed, 400, "UOS_USRCRT0003", "CLIENT_ERROR", Some("Data type of firstName should be String."));
    let unknown = post(
        "/api/user/v2/signup",
        json!({"request": {"firstName": "B", "email": "b@example.com", "password": PASSWORD, "shoeSize": 9}}),
    )
    .await;
    assert_error(&unknown, 400, "UOS_USRCRT0021", "CLIENT_ERROR", Some("Invalid parameter shoeSize in request."));
    let unwrapped =
        post("/api/user/v1/create", json!({"firstName": "B", "email": "b@example.com", "password": PASSWORD})).await;
    assert_error(
        &unwrapped,
        400,
        "UOS_USRCRT0028",
        "CLIENT_ERROR",
        Some("Requested data for this operation is not valid."),
    );
    let nul = post("/api/user/v1/create", create_body("B\u{0}", "C", "b@example.com")).await;
    assert_error(&nul, 400, "UOS_USRCRT0019", "CLIENT_ERROR", Some("Please provide valid firstName."));

    let a = &app;
    let raw = |content_type: &'static str, body: &'static [u8]| async move {
        let request = a
            .client
            .post(a.url("/api/user/v1/create"))
            .header("Authorization", format!("Bearer {key}"))
            .header("X-msgid", "msg-1234")
            .header("content-type", content_type)
            .body(body);
        Reply::from(request.send().await.unwrap()).await
    };
    let malformed = raw("application/json", b"{\"request\": {").await;
    assert_envelope(&malformed, 400, "api.user.create");
    assert_error(&malformed, 400, "UOS_USRCRT0028", "CLIENT_ERROR", None);
    let plain = raw("text/plain", b"hello").await;
    assert_envelope(&plain, 415, "api.user.create");
    let huge = vec![b'x'; 1024 * 1024 + 10];
    let huge = app
        .client
        .post(app.url("/api/user/v1/create"))
        .header("Authorization", format!("Bearer {key}"))
        .header("X-msgid", "msg-1234")
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    let huge = Reply::from(huge).await;
    assert_envelope(&huge, 413, "api.user.create");
    assert_error(&huge, 413, "UOS_USRCRT0007", "CLIENT_ERROR", None);

    // Credentials: the client's key, then the acting user's token.
    let no_key =
        sb(&app, Method::POST, "/api/user/v1/create", None, None, Some(create_body("B", "C", "b@example.com"))).await;
    assert_envelope(&no_key, 401, "api.user.create");
    assert_error(&no_key, 401, "UOS_0070", "UNAUTHORIZED", Some("You are not authorized."));
    let bad_key = sb(&app, Method::GET, &format!("/api/user/v1/read/{ada}"), Some("garbage"), Some(key), None).await;
    assert_error(&bad_key, 401, "UOS_0070", "UNAUTHORIZED", None);
    let no_user = sb(&app, Method::GET, &format!("/api/user/v1/read/{ada}"), Some(key), None, None).await;
    assert_envelope(&no_user, 401, "api.user.read");
    let bad_user = sb(&app, Method::GET, &format!("/api/user/v1/read/{ada}"), Some(key), Some("garbage"), None).await;
    assert_error(&bad_user, 401, "UOS_0070", "UNAUTHORIZED", None);
    let nobody =
        sb(&app, Method::GET, &format!("/api/user/v1/read/{}", uuid::Uuid::new_v4()), Some(key), Some(key), None).await;
    assert_envelope(&nobody, 404, "api.user.read");
    assert_error(&nobody, 404, "UOS_USRRED0013", "RESOURCE_NOT_FOUND", Some("Requested user resource not found"));
    let mentee = app.sign_up("Mia Mentee", "mia@example.com").await;
    let block = json!({"request": {"userId": ada}});
    let forbidden =
        sb(&app, Method::POST, "/api/user/v1/block", Some(key), Some(&mentee.access_token), Some(block)).await;
    assert_envelope(&forbidden, 403, "api.user.block");
    assert_error(&forbidden, 403, "UOS_USRBLOK0071", "FORBIDDEN", None);

    // Unknown paths and wrong methods under its prefixes.
    for path in ["/api/user/v1/no/such", "/v1/user/no/such", "/v2/user/read", "/api/user/v9/create"] {
        let unknown = sb(&app, Method::GET, path, Some(key), None, None).await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(unknown.body["responseCode"], "RESOURCE_NOT_FOUND", "{path}: {}", unknown.body);
        assert_eq!(unknown.body["params"]["status"], "failed", "{path}");
        assert!(unknown.body.get("message").is_none(), "not ELEVATE's envelope: {}", unknown.body);
    }
    let wrong_method = sb(&app, Method::GET, "/api/user/v1/create", Some(key), None, None).await;
    assert_envelope(&wrong_method, 405, "api.user.create");
    assert_error(&wrong_method, 405, "UOS_USRCRT0027", "CLIENT_ERROR", None);
    let get_missing =
        sb(&app, Method::GET, "/api/user/v1/get/email/nobody@example.com", Some(key), Some(key), None).await;
    assert_eq!((get_missing.status.as_u16(), &get_missing.body["id"]), (404, &json!("api.user.get.email")));
    assert_eq!(get_missing.body["params"]["err"], "USER_NOT_FOUND", "Sunbird v1's old code");
    assert_eq!(get_missing.body["params"]["status"], "USER_NOT_FOUND", "in `status` too");
    let get_missing = sb(&app, Method::GET, "/v2/user/get/email/nobody@example.com", Some(key), Some(key), None).await;
    assert_error(&get_missing, 404, "UOS_USRRED0013", "RESOURCE_NOT_FOUND", None);
}

async fn rate_limited_sign_ups_answer_in_the_envelope(backend: Backend) {
    let app = spawn_app_with(fresh_database(backend).await, |s| {
        s.rate_limits.enabled = true;
        s.rate_limits.sign_up_per_identity_per_minute = 1;
    })
    .await;
    let admin = app.admin_session().await;
    let body = create_body("Rae", "Limit", "rae@example.com");
    let first =
        sb(&app, Method::POST, "/api/user/v1/create", Some(&admin.access_token), None, Some(body.clone())).await;
    assert_envelope(&first, 200, "api.user.create");
    let second = sb(&app, Method::POST, "/v2/user/create", Some(&admin.access_token), None, Some(body)).await;
    assert_envelope(&second, 429, "api.user.create");
    assert_error(&second, 429, "UOS_USRCRT0059", "TOO_MANY_REQUESTS", None);
}

async fn create_read_update_search_block_unblock(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let body = json!({"request": {
        "firstname": "Grace", "lastname": "Hopper", "email": "grace@example.com", "password": PASSWORD,
        "phone": 9876543210u64, "userName": "ghopper"
    }});
    let created = sb(&app, Method::POST, "/v1/user/signup", Some(key), None, Some(body)).await;
    assert_envelope(&created, 200, "api.user.create");
    let grace = created.result()["userId"].as_str().unwrap().to_string();

    // She signs in through ELEVATE and reads herself through Sunbird.
    let login = app.login("ghopper", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let own = session(&login).access_token;
    let read = sb(
        &app,
        Method::GET,
        &format!("/api/user/v5/read/{grace}?fields=organisations,roles"),
        Some(&own),
        Some(&own),
        None,
    )
    .await;
    assert_envelope(&read, 200, "api.user.read");
    let me = &read.result()["response"];
    assert_eq!((me["firstName"].as_str(), me["lastName"].as_str()), (Some("Grace"), Some("Hopper")), "{me}");
    assert_eq!(me["email"], "grace@example.com");
    assert_eq!(me["maskedEmail"], "gr***@example.com");
    assert_eq!(me["phone"], "9876543210");
    assert_eq!(me["maskedPhone"], "******3210");
    assert_eq!(me["userName"], "ghopper");
    assert_eq!((me["status"].as_i64(), me["isDeleted"].as_bool()), (Some(1), Some(false)));
    assert_eq!(me["identifier"], grace.as_str());
    assert!(me["roles"].as_array().unwrap().contains(&json!("PUBLIC")), "{me}");
    assert_eq!(me["organisations"][0]["organisationId"], "1", "{me}");

    // Another user sees the public view only.
    let other = app.sign_up("Nosy Neighbour", "nosy@example.com").await;
    let seen =
        sb(&app, Method::GET, &format!("/v1/user/read/{grace}"), Some(key), Some(&other.access_token), None).await;
    assert_envelope(&seen, 200, "api.user.read");
    let seen = &seen.result()["response"];
    assert_eq!(seen["firstName"], "Grace");
    for hidden in ["email", "maskedEmail", "phone", "maskedPhone", "userName"] {
        assert!(seen.get(hidden).is_none(), "{hidden} shown to another user: {seen}");
    }

    // Updates: her own names; others are refused (contact changes: sunbird_contacts.rs).
    let update = json!({"request": {"userId": grace, "firstName": "Amazing Grace"}});
    let updated = sb(&app, Method::PATCH, "/api/user/v1/update", Some(key), Some(&own), Some(update)).await;
    assert_envelope(&updated, 200, "api.user.update");
    let renamed = sb(&app, Method::GET, &format!("/api/user/v1/read/{grace}"), Some(key), Some(&own), None).await;
    assert_eq!(renamed.result()["response"]["firstName"], "Amazing Grace");
    assert_eq!(renamed.result()["response"]["lastName"], "Hopper");
    let elevate = app.get("/user/v1/user/read", Some(&own)).await;
    assert_eq!(elevate.result()["name"], "Amazing Grace Hopper", "ELEVATE reads the same aggregate");
    let theirs = json!({"request": {"userId": grace, "lastName": "Vandal"}});
    let theirs =
        sb(&app, Method::PATCH, "/api/user/v3/update", Some(key), Some(&other.access_token), Some(theirs)).await;
    assert_error(&theirs, 403, "UOS_USRUPD0071", "FORBIDDEN", None);
    let by_admin = json!({"request": {"userId": grace, "lastName": "Hopper-Murray"}});
    let by_admin = sb(&app, Method::PATCH, "/v3/user/update", Some(key), Some(key), Some(by_admin)).await;
    assert_envelope(&by_admin, 200, "api.user.update");

    // Search: filters, a query, paging, projection; `{}` filters refused.
    let a = &app;
    let search = |body: Value, user: String| async move {
        sb(a, Method::POST, "/api/user/v1/search", Some(key), Some(&user), Some(json!({"request": body}))).await
    };
    let by_email = search(json!({"filters": {"email": "grace@example.com"}}), key.to_string()).await;
    assert_envelope(&by_email, 200, "api.user.search");
    let response = &by_email.result()["response"];
    assert_eq!(response["count"], 1, "{response}");
    assert_eq!(response["content"][0]["identifier"], grace.as_str());
    assert_eq!(response["content"][0]["email"], "grace@example.com", "admins see emails");
    let hidden = search(json!({"filters": {"email": "grace@example.com"}}), other.access_token.clone()).await;
    assert_eq!(hidden.result()["response"]["count"], 0, "a user cannot find others by email: {}", hidden.body);
    let by_query = search(
        json!({"filters": {"rootOrgId": "1"}, "query": "amazing", "fields": ["firstName", "email"]}),
        other.access_token.clone(),
    )
    .await;
    let content = &by_query.result()["response"]["content"];
    assert_eq!(content.as_array().unwrap().len(), 1, "{}", by_query.body);
    assert_eq!(content[0], json!({"firstName": "Amazing Grace", "email": null}), "projected, email hidden");
    let paged = search(json!({"filters": {"status": 1}, "limit": 2, "offset": 1}), key.to_string()).await;
    assert_envelope(&paged, 200, "api.user.search");
    assert_eq!(paged.result()["response"]["content"].as_array().unwrap().len(), 2, "{}", paged.body);
    assert_eq!(paged.result()["response"]["count"], 3, "root, Grace and the neighbour");
    let empty = search(json!({"filters": {}}), key.to_string()).await;
    assert_error(&empty, 400, "UOS_USRSER0030", "CLIENT_ERROR", Some("Mandatory parameter filters is missing."));
    let odd = search(json!({"filters": {"shoeSize": 9}}), key.to_string()).await;
    assert_error(&odd, 400, "UOS_USRSER0021", "CLIENT_ERROR", None);

    // Get by identifier and exists.
    for (id_type, value) in
        [("email", "grace@example.com"), ("phone", "9876543210"), ("loginId", "ghopper"), ("userName", "GHopper")]
    {
        let found =
            sb(&app, Method::GET, &format!("/api/user/v1/get/{id_type}/{value}"), Some(key), Some(key), None).await;
        assert_envelope(&found, 200, &format!("api.user.get.{id_type}"));
        assert_eq!(found.result()["response"]["identifier"], grace.as_str());
        let exists = sb(
            &app,
            Method::GET,
            &format!("/v2/user/exists/{id_type}/{value}"),
            Some(key),
            Some(&other.access_token),
            None,
        )
        .await;
        assert_envelope(&exists, 200, &format!("api.user.exists.{id_type}"));
        assert_eq!(exists.result()["exists"], true);
    }
    let absent = sb(&app, Method::GET, "/api/user/v1/exists/email/none@example.com", Some(key), Some(key), None).await;
    assert_eq!(absent.result()["exists"], false);
    let odd = sb(&app, Method::GET, "/api/user/v1/exists/shoe/9", Some(key), Some(key), None).await;
    assert_error(&odd, 400, "UOS_UEXIST0018", "CLIENT_ERROR", None);

    // Block: sessions end, ELEVATE login refused; unblock lets her back.
    let target = json!({"request": {"userId": grace}});
    let blocked = sb(&app, Method::POST, "/api/user/v1/block", Some(key), Some(key), Some(target.clone())).await;
    assert_envelope(&blocked, 200, "api.user.block");
    assert_eq!(blocked.result()["response"], "SUCCESS");
    let again = sb(&app, Method::POST, "/v1/user/block", Some(key), Some(key), Some(target.clone())).await;
    assert_error(&again, 400, "UOS_USRBLOK0008", "CLIENT_ERROR", Some("User is already inactive."));
    let revoked = sb(&app, Method::GET, &format!("/api/user/v1/read/{grace}"), Some(key), Some(&own), None).await;
    assert_error(&revoked, 401, "UOS_0070", "UNAUTHORIZED", None);
    assert_ne!(app.login("grace@example.com", PASSWORD).await.status, StatusCode::OK);
    let status = sb(&app, Method::GET, &format!("/api/user/v1/read/{grace}"), Some(key), Some(key), None).await;
    assert_eq!(
        (status.result()["response"]["status"].as_i64(), status.result()["response"]["isDeleted"].as_bool()),
        (Some(0), Some(true))
    );
    let unblocked = sb(&app, Method::POST, "/api/user/v1/unblock", Some(key), Some(key), Some(target.clone())).await;
    assert_envelope(&unblocked, 200, "api.user.unblock");
    let again = sb(&app, Method::POST, "/v1/user/unblock", Some(key), Some(key), Some(target)).await;
    assert_error(&again, 400, "UOS_USRUNBLOK0008", "CLIENT_ERROR", Some("User is already active."));
    assert_eq!(app.login("grace@example.com", PASSWORD).await.status, StatusCode::OK);
}

async fn one_user_whichever_dialect(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();

    // Sunbird-created: ELEVATE logs in, lists and reads the same user.
    let ada = create(&app, key, "Ada", "Lovelace", "ada@example.com").await;
    let login = app.login("ada@example.com", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(session(&login).user["uuid"], ada.as_str());
    let listed = app.get("/user/v1/account/list?search=ada", Some(key)).await;
    assert_eq!(listed_names(&listed), ["Ada Lovelace"]);

    // ELEVATE-created: Sunbird finds and reads it, by UUID and by numeric id.
    let bob = app.sign_up("Bob Builder", "bob@example.com").await;
    let found = sb(
        &app,
        Method::POST,
        "/v2/user/search",
        Some(key),
        Some(key),
        Some(json!({"request": {"filters": {"email": ["bob@example.com"]}}})),
    )
    .await;
    assert_eq!(found.result()["response"]["content"][0]["identifier"], bob.user["uuid"], "{}", found.body);
    let by_number =
        sb(&app, Method::GET, &format!("/v3/user/read/{}", bob.user["id"]), Some(key), Some(key), None).await;
    assert_eq!(by_number.result()["response"]["lastName"], "Builder");

    // Roles from Sunbird show in ELEVATE: v2 adds, v1 replaces the set.
    let add = json!({"request": {"userId": ada, "roles": [{"role": "MENTOR", "operation": "add", "scope": [{"organisationId": "1"}]}]}});
    let added = sb(&app, Method::POST, "/api/user/v2/role/assign", Some(key), Some(key), Some(add)).await;
    assert_envelope(&added, 200, "api.user.assign.role");
    let titles = |reply: &Reply| -> Vec<String> {
        let mut t: Vec<String> = reply.result()["user_roles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["title"].as_str().unwrap().to_string())
            .collect();
        t.sort();
        t
    };
    let elevate = app.get(&format!("/user/v1/user/read/{ada}"), Some(key)).await;
    assert_eq!(titles(&elevate), ["mentee", "mentor"]);
    let replace = json!({"request": {"userId": ada, "organisationId": 1, "roles": ["mentor"]}});
    let replaced = sb(&app, Method::POST, "/v1/user/assign/role", Some(key), Some(key), Some(replace)).await;
    assert_envelope(&replaced, 200, "api.user.assign.role");
    let elevate = app.get(&format!("/user/v1/user/read/{ada}"), Some(key)).await;
    assert_eq!(titles(&elevate), ["mentor"]);
    let read = sb(&app, Method::GET, &format!("/api/user/v1/read/{ada}"), Some(key), Some(key), None).await;
    assert_eq!(read.result()["response"]["roles"], json!(["PUBLIC", "MENTOR"]));
    let unknown = json!({"request": {"userId": ada, "organisationId": 1, "roles": ["COURSE_CREATOR"]}});
    let unknown = sb(&app, Method::POST, "/api/user/v1/role/assign", Some(key), Some(key), Some(unknown)).await;
    assert_error(
        &unknown,
        400,
        "UOS_ROLUPD0017",
        "CLIENT_ERROR",
        Some("Invalid value COURSE_CREATOR for parameter roles. Please provide a valid value."),
    );
    let by_user = json!({"request": {"userId": bob.user["uuid"], "organisationId": 1, "roles": ["admin"]}});
    let by_user =
        sb(&app, Method::POST, "/api/user/v1/role/assign", Some(key), Some(&bob.access_token), Some(by_user)).await;
    assert_error(&by_user, 403, "UOS_ROLUPD0071", "FORBIDDEN", None);

    // The events are the same events, marked as Sunbird's, correlated by X-msgid.
    let history = app.get(&format!("/user/v1/audit/users/{ada}/history"), Some(key)).await;
    let events = history.result()["events"].as_array().unwrap().clone();
    let registered = events.iter().find(|e| e["event_type"] == "UserRegistered").unwrap();
    assert_eq!(registered["metadata"]["dialect"], "sunbird", "{registered}");
    assert_eq!(registered["correlation"], "msg-1234");
    let assigned = events.iter().find(|e| e["event_type"] == "RoleAssigned").unwrap();
    assert_eq!(assigned["actor"], admin.user["uuid"]);
}

async fn parallel_creates_with_one_email_make_one_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let replies = join_all((0..20).map(|i| {
        let body = create_body(&format!("Twin{i}"), "Race", "twin@example.com");
        let path = if i % 2 == 0 { "/api/user/v1/create" } else { "/v1/user/create" };
        sb(&app, Method::POST, path, Some(&admin.access_token), None, Some(body))
    }))
    .await;
    let created = replies.iter().filter(|r| r.status == StatusCode::OK).count();
    assert_eq!(created, 1, "{:?}", replies.iter().map(|r| r.body.to_string()).collect::<Vec<_>>());
    for reply in replies.iter().filter(|r| r.status != StatusCode::OK) {
        assert_error(reply, 400, "UOS_USRCRT0002", "CLIENT_ERROR", Some("email already exists"));
    }
    let found = sb(
        &app,
        Method::POST,
        "/api/user/v1/search",
        Some(&admin.access_token),
        Some(&admin.access_token),
        Some(json!({"request": {"filters": {"email": "twin@example.com"}}})),
    )
    .await;
    assert_eq!(found.result()["response"]["count"], 1);
}

/// Malformed input of every kind: never a 5xx, always the envelope.
async fn bad_inputs_never_give_a_server_error(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let ada = create(&app, key, "Ada", "Lovelace", "ada@example.com").await;
    let long = "x".repeat(100 * 1024);
    let values = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1.5),
        json!("\u{0}"),
        json!("a\u{0}b"),
        json!(long),
        json!([]),
        json!([null, "\u{0}"]),
        json!({}),
        json!({"\u{0}": 1}),
        json!({"nested": {"deep": ["\u{0}"]}}),
    ];
    let routes: [(Method, &str, Value); 8] = [
        (Method::POST, "/api/user/v1/create", create_body("Fuzz", "Er", "fuzz@example.com")["request"].clone()),
        (Method::PATCH, "/api/user/v1/update", json!({"userId": ada, "firstName": "A", "lastName": "B"})),
        (
            Method::POST,
            "/api/user/v1/search",
            json!({"filters": {"email": "ada@example.com"}, "query": "a", "limit": 5, "offset": 0, "fields": ["email"]}),
        ),
        (Method::POST, "/api/user/v1/block", json!({"userId": ada})),
        (Method::POST, "/v1/user/unblock", json!({"userId": ada})),
        (Method::POST, "/api/user/v1/role/assign", json!({"userId": ada, "organisationId": 1, "roles": ["mentee"]})),
        (
            Method::POST,
            "/api/user/v2/role/assign",
            json!({"userId": ada, "roles": [{"role": "mentee", "scope": [{"organisationId": 1}]}]}),
        ),
        (Method::POST, "/v2/user/signup", create_body("Fuzz", "Er", "fuzz2@example.com")["request"].clone()),
    ];
    let mut sent = 0;
    for (method, path, valid) in &routes {
        let mut bodies = vec![
            json!(null),
            json!([]),
            json!("request"),
            json!({"request": null}),
            json!({"request": []}),
            json!({"request": "x"}),
            valid.clone(),
        ];
        for field in valid.as_object().unwrap().keys() {
            for value in &values {
                let mut request = valid.clone();
                request[field] = value.clone();
                bodies.push(json!({"request": request}));
            }
        }
        for body in bodies {
            let reply = sb(&app, method.clone(), path, Some(key), Some(key), Some(body.clone())).await;
            sent += 1;
            assert!(reply.status.as_u16() < 500, "{method} {path} {body}: {}", reply.body);
            assert!(
                reply.body["params"]["status"].is_string() && reply.body["result"].is_object(),
                "{path}: {}",
                reply.body
            );
        }
    }
    for path in [
        "/api/user/v1/read/%00".to_string(),
        format!("/api/user/v1/read/{}", "9".repeat(40)),
        "/api/user/v1/read/-1".to_string(),
        "/api/user/v1/get/email/%00".to_string(),
        "/api/user/v1/get/%00/x".to_string(),
        "/v1/user/exists/phone/not-a-phone".to_string(),
        format!("/api/user/v1/read/{ada}?fields=%00"),
    ] {
        let reply = sb(&app, Method::GET, &path, Some(key), Some(key), None).await;
        sent += 1;
        assert!(reply.status.as_u16() < 500 && reply.body["params"]["status"].is_string(), "{path}: {}", reply.body);
    }
    assert!(sent > 300, "{sent}");
    // And the user is still readable afterwards.
    let read = sb(&app, Method::GET, &format!("/api/user/v1/read/{ada}"), Some(key), Some(key), None).await;
    assert_envelope(&read, 200, "api.user.read");
}

/// Every Sunbird route (gateway form) against every kind of acting user, as
/// `authorization.rs` runs ELEVATE's: `Authorization` holds a service
/// account's token throughout (it authenticates the client and grants
/// nothing); the acting user is `x-authenticated-user-token`.
async fn every_route_against_every_caller(backend: Backend) {
    use Who::*;
    const SIGNED_IN: &[Who] = &[Mentee, OtherOrgAdmin, OrgAdmin, Admin];
    const THIS_ORG_ADMIN: &[Who] = &[OrgAdmin, Admin];
    const MENTEE_OR_HER_ADMINS: &[Who] = &[Mentee, OrgAdmin, Admin];
    // Role assignment asks for ELEVATE's `admin/assignRole` capability: by
    // default a system admin's.
    const ADMIN: &[Who] = &[Admin];

    let app = spawn_app(backend).await;
    let c = crate::organizations::cast(&app).await;
    let service = app.sign_up("Service Account", "service@example.com").await;
    let victim = app.sign_up("Victim", "victim@example.com").await;
    let promotee = app.sign_up("Promotee", "promotee@example.com").await;
    let mentee = c.mentee.user["uuid"].as_str().unwrap().to_string();
    let (victim, promotee) = (victim.user["uuid"].clone(), promotee.user["uuid"].clone());
    let rows: Vec<MatrixRow> = vec![
        (Method::POST, "/api/user/v1/create".into(), Some(create_body("New", "User", "new@example.com")), EVERYONE),
        (Method::GET, format!("/api/user/v1/read/{mentee}"), None, SIGNED_IN),
        (Method::GET, "/api/user/v1/get/email/mina@example.com".into(), None, SIGNED_IN),
        (Method::GET, "/api/user/v1/exists/email/mina@example.com".into(), None, SIGNED_IN),
        (Method::PATCH, "/api/user/v1/update".into(), Some(json!({"request": {"lastName": "Same"}})), SIGNED_IN),
        (
            Method::PATCH,
            "/api/user/v2/update".into(),
            Some(json!({"request": {"userId": mentee, "lastName": "Menteeson"}})),
            MENTEE_OR_HER_ADMINS,
        ),
        (
            Method::PATCH,
            "/api/user/v3/update".into(),
            Some(json!({"request": {"userId": mentee, "phone": "+4915100000001"}})),
            MENTEE_OR_HER_ADMINS,
        ),
        (Method::POST, "/api/user/v1/search".into(), Some(json!({"request": {"filters": {"status": 1}}})), SIGNED_IN),
        (Method::POST, "/api/user/v1/block".into(), Some(json!({"request": {"userId": victim}})), THIS_ORG_ADMIN),
        (Method::POST, "/api/user/v1/unblock".into(), Some(json!({"request": {"userId": victim}})), THIS_ORG_ADMIN),
        (
            Method::POST,
            "/api/user/v1/role/assign".into(),
            Some(json!({"request": {"userId": promotee, "organisationId": 1, "roles": ["mentee", "mentor"]}})),
            ADMIN,
        ),
        (
            Method::POST,
            "/api/user/v2/role/assign".into(),
            Some(json!({"request": {"userId": promotee, "roles": [{"role": "mentor", "operation": "remove"}]}})),
            ADMIN,
        ),
        (
            Method::PATCH,
            "/api/user/v1/declarations".into(),
            Some(json!({"request": {"declarations": [
                {"operation": "add", "userId": mentee, "orgId": 1, "persona": "teacher", "info": {"declared-school-name": "x"}}
            ]}})),
            MENTEE_OR_HER_ADMINS,
        ),
        // Last: it moves the mentee's email, which rows above look up.
        (
            Method::PATCH,
            "/api/user/v1/update".into(),
            Some(json!({"request": {"userId": mentee, "email": "mina.moved@example.com"}})),
            MENTEE_OR_HER_ADMINS,
        ),
    ];
    assert_matrix(&app, &c, &service, &rows).await;
}

/// A create of "Chan Nel" with `email` and the fields of `extra`, acting as `user`.
async fn create_in(app: &TestApp, key: &str, user: Option<&str>, email: &str, extra: Value) -> Reply {
    let mut body = create_body("Chan", "Nel", email);
    body["request"].as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    sb(app, Method::POST, "/api/user/v1/create", Some(key), user, Some(body)).await
}

/// `channel` (an organisation code, any case) or `rootOrgId` place a new
/// user in that organisation: its admins may, others may not; an unknown,
/// a mismatched or a deactivated one is refused in Sunbird's words.
async fn a_create_joins_the_organisation_its_channel_names(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = crate::organizations::cast(&app).await;
    let service = app.sign_up("Service Account", "service@example.com").await;
    let key = service.access_token.as_str();
    let other = c.other_org_id;
    let read_org = |id: String| {
        let app = &app;
        let admin = c.admin.access_token.clone();
        async move {
            let read = sb(app, Method::GET, &format!("/api/user/v1/read/{id}"), Some(key), Some(&admin), None).await;
            assert_envelope(&read, 200, "api.user.read");
            (read.result()["response"]["rootOrgId"].clone(), read.result()["response"]["channel"].clone())
        }
    };

    // The other organisation's admin places users in it, by code or by id.
    let by_code =
        create_in(&app, key, Some(&c.other_org_admin.access_token), "by.code@example.com", json!({"channel": "OTHER"}))
            .await;
    assert_envelope(&by_code, 200, "api.user.create");
    let id = by_code.result()["userId"].as_str().unwrap().to_string();
    assert_eq!(read_org(id).await, (json!(other.to_string()), json!("other")));
    let by_id = create_in(
        &app,
        key,
        Some(&c.admin.access_token),
        "by.id@example.com",
        json!({"rootOrgId": other.to_string(), "channel": "other"}),
    )
    .await;
    assert_envelope(&by_id, 200, "api.user.create");
    let id = by_id.result()["userId"].as_str().unwrap().to_string();
    assert_eq!(read_org(id).await.0, json!(other.to_string()));
    let by_number =
        create_in(&app, key, Some(&c.admin.access_token), "by.number@example.com", json!({"rootOrgId": other})).await;
    assert_envelope(&by_number, 200, "api.user.create");

    // The default organisation is open to anyone, a sign-up included.
    let default = create_in(&app, key, None, "default@example.com", json!({"rootOrgId": 1})).await;
    assert_envelope(&default, 200, "api.user.create");
    let id = default.result()["userId"].as_str().unwrap().to_string();
    assert_eq!(read_org(id).await.0, json!("1"));

    // Nobody else places users in an organisation they do not administer.
    for user in [None, Some(c.mentee.access_token.as_str()), Some(c.org_admin.access_token.as_str())] {
        let refused = create_in(&app, key, user, "intruder@example.com", json!({"channel": "other"})).await;
        assert_error(&refused, 403, "UOS_USRCRT0071", "FORBIDDEN", None);
    }
    let unknown =
        create_in(&app, key, Some(&c.admin.access_token), "unknown@example.com", json!({"channel": "nowhere"})).await;
    assert_error(
        &unknown,
        400,
        "UOS_USRCRT0017",
        "CLIENT_ERROR",
        Some("Invalid value nowhere for parameter channel. Please provide a valid value."),
    );
    let unknown_id =
        create_in(&app, key, Some(&c.admin.access_token), "unknown@example.com", json!({"rootOrgId": "987654"})).await;
    assert_error(
        &unknown_id,
        400,
        "UOS_USRCRT0017",
        "CLIENT_ERROR",
        Some("Invalid value 987654 for parameter rootOrgId. Please provide a valid value."),
    );
    let mismatch = create_in(
        &app,
        key,
        Some(&c.admin.access_token),
        "mismatch@example.com",
        json!({"channel": "other", "rootOrgId": 1}),
    )
    .await;
    assert_error(
        &mismatch,
        400,
        "UOS_USRCRT0045",
        "CLIENT_ERROR",
        Some("Mismatch of given parameters: channel and rootOrgId."),
    );
    let odd =
        create_in(&app, key, Some(&c.admin.access_token), "odd@example.com", json!({"channel": "no spaces"})).await;
    assert_error(
        &odd,
        400,
        "UOS_USRCRT0017",
        "CLIENT_ERROR",
        Some("Invalid value no spaces for parameter channel. Please provide a valid value."),
    );
    // A NUL character is refused before any lookup, as in every field.
    let nul =
        create_in(&app, key, Some(&c.admin.access_token), "odd@example.com", json!({"channel": "other\u{0}"})).await;
    assert_error(&nul, 400, "UOS_USRCRT0019", "CLIENT_ERROR", Some("Please provide valid channel."));

    // A deactivated organisation takes nobody, and nothing was created by the refusals.
    let off = app.post(&format!("/user/v1/admin/deactivateOrg/{other}"), Some(&c.admin.access_token), json!({})).await;
    assert_eq!(off.status, StatusCode::ACCEPTED, "{}", off.body);
    let closed =
        create_in(&app, key, Some(&c.admin.access_token), "closed@example.com", json!({"channel": "other"})).await;
    assert_error(&closed, 400, "UOS_USRCRT0019", "CLIENT_ERROR", Some("Please provide valid channel."));
    for email in
        ["intruder@example.com", "unknown@example.com", "mismatch@example.com", "odd@example.com", "closed@example.com"]
    {
        let exists = sb(
            &app,
            Method::GET,
            &format!("/api/user/v1/exists/email/{email}"),
            Some(key),
            Some(&c.admin.access_token),
            None,
        )
        .await;
        assert_envelope(&exists, 200, "api.user.exists.email");
        assert_eq!(exists.result()["exists"], false, "{email}: {}", exists.body);
    }
}

on_both_backends!(
    every_route_against_every_caller,
    a_create_joins_the_organisation_its_channel_names,
    success_and_error_envelopes,
    rate_limited_sign_ups_answer_in_the_envelope,
    create_read_update_search_block_unblock,
    one_user_whichever_dialect,
    parallel_creates_with_one_email_make_one_user,
    bad_inputs_never_give_a_server_error,
);
