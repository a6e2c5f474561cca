//! The entity v5 dialect: its envelope `{code, msg, data}` on every answer,
//! each error code, its two credentials (a bearer token and a registered
//! `X-APP-ID`), access to users of the caller's organisation only, every
//! route's success shape, idempotent creates under parallel calls, and one
//! user across dialects (created here, listed by ELEVATE, found by Sunbird,
//! its events marked `entity-v5`).

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;
use crate::organizations::cast;

pub(crate) const APP_ID: &str = "crm";

/// An entity v5 call: `token` in `Authorization: Bearer`, `app` in `X-APP-ID`.
pub(crate) async fn v5(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    app_id: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    if let Some(app_id) = app_id {
        request = request.header("X-APP-ID", app_id);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    Reply::from(request.send().await.unwrap()).await
}

/// A success: 200, `code` 0, `msg` "success."; its `data`.
pub(crate) fn ok(reply: &Reply) -> Value {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["code"], 0, "{}", reply.body);
    assert_eq!(reply.body["msg"], "success.", "{}", reply.body);
    reply.body["data"].clone()
}

/// An error: the status, the code (its status times 100 plus a detail), a message, null data.
pub(crate) fn refused(reply: &Reply, status: u16, code: i64) {
    let b = &reply.body;
    assert_eq!((reply.status.as_u16(), b["code"].as_i64()), (status, Some(code)), "{b}");
    assert!(b["msg"].as_str().is_some_and(|m| !m.is_empty()), "{b}");
    assert!(b["data"].is_null(), "{b}");
    assert_eq!(b.as_object().unwrap().len(), 3, "{b}");
}

/// Registers `APP_ID` as the admin.
pub(crate) async fn register_app(app: &TestApp, admin: &Session) {
    let registered = app.post("/user/v1/admin/registerApp", Some(&admin.access_token), json!({"app_id": APP_ID})).await;
    assert_eq!(registered.status, StatusCode::CREATED, "{}", registered.body);
    assert_eq!(registered.result()["app_id"], APP_ID);
}

async fn create(app: &TestApp, token: &str, body: Value) -> Reply {
    v5(app, Method::POST, "/api/v5/entity/user/create", Some(token), Some(APP_ID), Some(body)).await
}

async fn every_route_answers_in_the_seeds_shapes(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    register_app(&app, &c.admin).await;
    let olga = c.org_admin.access_token.as_str();

    // Create by mobile, twice: one user, the second time "exists".
    let by_mobile = json!({"area_code": "86", "mobile": "13888888888", "corp_id": "1"});
    let first = ok(&create(&app, olga, by_mobile.clone()).await);
    assert_eq!(first["is_user_exists"], false, "{first}");
    let user_id = first["user_id"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&user_id).is_ok(), "{first}");
    let again = ok(&create(&app, olga, by_mobile).await);
    assert_eq!(again, json!({"user_id": user_id, "is_user_exists": true}));
    // The same number by its organisation's code, and without corp_id (the caller's own).
    let by_code =
        ok(&create(&app, olga, json!({"area_code": "+86", "mobile": 13888888888i64, "corp_id": "default"})).await);
    assert_eq!(by_code["user_id"], user_id.as_str());
    let bare = ok(&create(&app, olga, json!({"area_code": "86", "mobile": "13888888888"})).await);
    assert_eq!(bare["user_id"], user_id.as_str());

    // Create by email.
    let by_email = ok(&create(&app, olga, json!({"email": "Test@123.com", "corp_id": 1})).await);
    assert_eq!(by_email["is_user_exists"], false);
    let emailed = by_email["user_id"].as_str().unwrap().to_string();
    assert_ne!(emailed, user_id);
    let again = ok(&create(&app, olga, json!({"email": "test@123.com", "corp_id": 1})).await);
    assert_eq!(again, json!({"user_id": emailed, "is_user_exists": true}));

    // profile/fetch: the seed's fields.
    let get = |path: String| {
        let app = &app;
        async move { v5(app, Method::GET, &path, Some(olga), Some(APP_ID), None).await }
    };
    let profile = ok(&get(format!("/api/v5/entity/profile/fetch?corp_id=1&user_id={user_id}")).await);
    for field in [
        "user_id",
        "corp_id",
        "name",
        "last_name",
        "first_name",
        "area_code",
        "mobile",
        "gender",
        "age",
        "city",
        "city_raw",
        "city_mobile",
        "company_name",
        "job_title",
        "department",
        "industry",
        "linkedin_url",
    ] {
        assert!(profile.get(field).is_some(), "{field} missing: {profile}");
    }
    assert_eq!(profile["user_id"], user_id.as_str());
    assert_eq!(profile["corp_id"], "1");
    assert_eq!((&profile["area_code"], &profile["mobile"]), (&json!("86"), &json!("13888888888")));
    assert_eq!((&profile["pool"], &profile["owner_id"]), (&Value::Null, &json!([])));

    // Owners: add (twice: once), a second, remove; each answers the list.
    let post = |path: &'static str, body: Value| v5(&app, Method::POST, path, Some(olga), Some(APP_ID), Some(body));
    let mina = c.mentee.user["uuid"].as_str().unwrap().to_string();
    let olga_id = c.org_admin.user["uuid"].as_str().unwrap().to_string();
    let owner =
        |owner: &str, event: &str| json!({"user_id": user_id, "owner_id": owner, "event_type": event, "corp_id": "1"});
    let added = ok(&post("/api/v5/entity/user/owner/update", owner(&mina, "add")).await);
    assert_eq!(added, json!({"user_id": user_id, "owner_id": [mina]}));
    let twice = ok(&post("/api/v5/entity/user/owner/update", owner(&mina, "add")).await);
    assert_eq!(twice["owner_id"], json!([mina]));
    let both = ok(&post("/api/v5/entity/user/owner/update", owner(&olga_id, "add")).await);
    assert_eq!(both["owner_id"], json!([mina, olga_id]));
    let removed = ok(&post("/api/v5/entity/user/owner/update", owner(&mina, "remove")).await);
    assert_eq!(removed["owner_id"], json!([olga_id]));

    // Pool.
    for pool in ["dead", "public", "alive", "alive"] {
        let moved =
            ok(&post("/api/v5/entity/user/pool/update", json!({"user_id": user_id, "corp_id": "1", "pool": pool}))
                .await);
        assert_eq!(moved, json!({"user_id": user_id}));
    }
    let profile = ok(&get(format!("/api/v5/entity/profile/fetch?corp_id=1&user_id={user_id}")).await);
    assert_eq!((&profile["pool"], &profile["owner_id"]), (&json!("alive"), &json!([olga_id])));

    // Email: set on the mobile user, then read back; the contact kinds.
    let updated = ok(&post(
        "/api/v5/entity/user/email/update",
        json!({"user_id": user_id, "email": "amy@example.com", "corp_id": "1"}),
    )
    .await);
    assert_eq!(updated, json!({"user_id": user_id}));
    let contact =
        |kind: &str| get(format!("/api/v5/entity/user/contact/fetch?user_id={user_id}&corp_id=1&contact_type={kind}"));
    let mobile = ok(&contact("mobile").await);
    assert_eq!(
        mobile,
        json!({"user_id": user_id, "corp_id": "1", "contact_type": "mobile", "value": ["86", "13888888888"]})
    );
    assert_eq!(ok(&contact("email").await)["value"], json!(["amy@example.com"]));
    assert_eq!(ok(&contact("mobile_backup").await)["value"], json!([]));
    let no_mobile =
        get(format!("/api/v5/entity/user/contact/fetch?user_id={emailed}&corp_id=1&contact_type=mobile")).await;
    assert_eq!(ok(&no_mobile)["value"], json!([]));
    // The old email is free again, the new one taken.
    let taken = post("/api/v5/entity/user/email/update", json!({"user_id": emailed, "email": "amy@example.com"})).await;
    refused(&taken, 409, 40900);

    // An admin acts on any organisation.
    let root = c.admin.access_token.as_str();
    let other =
        ok(&create(&app, root, json!({"email": "far@example.com", "corp_id": c.other_org_id.to_string()})).await);
    assert_eq!(other["is_user_exists"], false);
}

async fn every_failure_has_its_code(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    register_app(&app, &c.admin).await;
    let olga = c.org_admin.access_token.as_str();
    let user_id = ok(&create(&app, olga, json!({"email": "amy@example.com", "corp_id": "1"})).await)["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let profile = format!("/api/v5/entity/profile/fetch?corp_id=1&user_id={user_id}");
    let call = |token: Option<&'static str>, app_id: Option<&'static str>| {
        let path = profile.clone();
        let app = &app;
        async move { v5(app, Method::GET, &path, token, app_id, None).await }
    };

    // Auth: no token, a bad one, a revoked one; no app, an unknown one.
    refused(&call(None, Some(APP_ID)).await, 401, 40100);
    refused(&call(Some("not-a-token"), Some(APP_ID)).await, 401, 40100);
    let basic =
        app.client.get(app.url(&profile)).header("Authorization", format!("Basic {olga}")).header("X-APP-ID", APP_ID);
    refused(&Reply::from(basic.send().await.unwrap()).await, 401, 40100);
    refused(&v5(&app, Method::GET, &profile, Some(olga), None, None).await, 401, 40101);
    refused(&v5(&app, Method::GET, &profile, Some(olga), Some("nope"), None).await, 401, 40101);
    refused(&v5(&app, Method::GET, &profile, Some(olga), Some("a b"), None).await, 401, 40101);
    let gone = app.login("olga@example.com", PASSWORD).await;
    let gone = session(&gone);
    let out = app
        .post("/user/v1/account/logout", Some(&gone.access_token), json!({"refresh_token": gone.refresh_token}))
        .await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    refused(&v5(&app, Method::GET, &profile, Some(&gone.access_token), Some(APP_ID), None).await, 401, 40100);

    // Only users of an organisation the caller manages.
    let mina = c.mentee.access_token.as_str();
    refused(&v5(&app, Method::GET, &profile, Some(mina), Some(APP_ID), None).await, 403, 40300);
    let oscar = c.other_org_admin.access_token.as_str();
    refused(&v5(&app, Method::GET, &profile, Some(oscar), Some(APP_ID), None).await, 403, 40300);
    let theirs = format!("/api/v5/entity/profile/fetch?corp_id={}&user_id={user_id}", c.other_org_id);
    refused(&v5(&app, Method::GET, &theirs, Some(oscar), Some(APP_ID), None).await, 404, 40400);
    let bare = format!("/api/v5/entity/user/contact/fetch?user_id={user_id}&contact_type=email");
    refused(&v5(&app, Method::GET, &bare, Some(oscar), Some(APP_ID), None).await, 404, 40400);
    refused(&create(&app, oscar, json!({"email": "x@example.com", "corp_id": "1"})).await, 403, 40300);
    // The email is held in another organisation: taken, whose is not said.
    let held = create(&app, oscar, json!({"email": "amy@example.com"})).await;
    refused(&held, 409, 40900);
    assert!(!held.body.to_string().contains(&user_id), "{}", held.body);

    // Not found: a user, an organisation, a path.
    let get = |path: String| {
        let app = &app;
        async move { v5(app, Method::GET, &path, Some(olga), Some(APP_ID), None).await }
    };
    let unknown = uuid::Uuid::new_v4();
    refused(&get(format!("/api/v5/entity/profile/fetch?corp_id=1&user_id={unknown}")).await, 404, 40400);
    refused(&get("/api/v5/entity/profile/fetch?corp_id=1&user_id=zzz".into()).await, 404, 40400);
    refused(&get(format!("/api/v5/entity/profile/fetch?corp_id=999&user_id={user_id}")).await, 404, 40400);
    refused(&get(format!("/api/v5/entity/profile/fetch?corp_id=no-such&user_id={user_id}")).await, 404, 40400);
    refused(&get("/api/v5/entity/no/such/route".into()).await, 404, 40400);
    refused(&v5(&app, Method::GET, "/api/v5/entity/x", None, None, None).await, 404, 40400);
    refused(&v5(&app, Method::GET, "/api/v5/entity/", None, None, None).await, 404, 40400);
    refused(&v5(&app, Method::DELETE, "/api/v5/entity/user/create", Some(olga), Some(APP_ID), None).await, 405, 40500);

    // Invalid fields.
    let post = |path: &'static str, body: Value| v5(&app, Method::POST, path, Some(olga), Some(APP_ID), Some(body));
    for (body, why) in [
        (json!({}), "email or mobile is required."),
        (json!({"mobile": "13888888888"}), "area_code is required."),
        (json!({"area_code": "86", "mobile": "12"}), "invalid mobile: phone is invalid."),
        (json!({"area_code": "8a", "mobile": "13888888888"}), "invalid area_code: must be 1 to 4 digits."),
        (json!({"email": "not-an-email"}), "invalid email: email is invalid."),
        (json!({"email": "a@b.co", "area_code": "86", "mobile": "13888888888"}), ""),
        (json!({"email": 5}), "invalid email: must be a String."),
        (json!({"email": "a@b.co", "shoe": 9}), "invalid shoe: unknown field."),
        (json!({"email": "a\u{0}@b.co"}), "invalid email: text with a NUL character."),
    ] {
        let reply = post("/api/v5/entity/user/create", body.clone()).await;
        refused(&reply, 400, 40001);
        if !why.is_empty() {
            assert_eq!(reply.body["msg"], why, "{body}");
        }
    }
    let pool = post("/api/v5/entity/user/pool/update", json!({"user_id": user_id, "pool": "limbo"})).await;
    refused(&pool, 400, 40001);
    let event = json!({"user_id": user_id, "owner_id": user_id, "event_type": "swap"});
    refused(&post("/api/v5/entity/user/owner/update", event).await, 400, 40001);
    let stranger = json!({"user_id": user_id, "owner_id": c.other_org_admin.user["uuid"], "event_type": "add"});
    refused(&post("/api/v5/entity/user/owner/update", stranger).await, 400, 40001);
    let kind = get(format!("/api/v5/entity/user/contact/fetch?user_id={user_id}&contact_type=fax")).await;
    refused(&kind, 400, 40001);
    refused(&get(format!("/api/v5/entity/profile/fetch?corp_id=1&user_id={user_id}&x=1")).await, 400, 40001);
    refused(&get("/api/v5/entity/profile/fetch?corp_id=1".into()).await, 400, 40001);

    // Malformed bodies.
    let raw = |content_type: &'static str, body: &'static [u8]| {
        let request = app
            .client
            .post(app.url("/api/v5/entity/user/create"))
            .header("Authorization", format!("Bearer {olga}"))
            .header("X-APP-ID", APP_ID)
            .header("content-type", content_type)
            .body(body);
        async move { Reply::from(request.send().await.unwrap()).await }
    };
    refused(&raw("application/json", b"{\"email\": ").await, 400, 40000);
    refused(&raw("application/json", b"[1]").await, 400, 40000);
    refused(&raw("text/plain", b"hello").await, 415, 41500);
    let huge = app
        .client
        .post(app.url("/api/v5/entity/user/create"))
        .header("Authorization", format!("Bearer {olga}"))
        .header("X-APP-ID", APP_ID)
        .header("content-type", "application/json")
        .body(vec![b'x'; 1024 * 1024 + 10]);
    refused(&Reply::from(huge.send().await.unwrap()).await, 413, 41300);

    // Registering apps: admins only, once per id.
    let by_olga = app.post("/user/v1/admin/registerApp", Some(olga), json!({"app_id": "mine"})).await;
    assert_eq!(by_olga.status, StatusCode::FORBIDDEN, "{}", by_olga.body);
    let again = app.post("/user/v1/admin/registerApp", Some(&c.admin.access_token), json!({"app_id": APP_ID})).await;
    assert!(again.status.is_client_error(), "{}", again.body);
    let bad = app.post("/user/v1/admin/registerApp", Some(&c.admin.access_token), json!({"app_id": "a/b"})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);
}

async fn parallel_creates_answer_one_user(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    register_app(&app, &admin).await;
    let token = admin.access_token.as_str();
    for body in [json!({"area_code": "91", "mobile": "9876543210"}), json!({"email": "twin@example.com"})] {
        let replies = join_all((0..20).map(|_| create(&app, token, body.clone()))).await;
        let data: Vec<Value> = replies.iter().map(ok).collect();
        let ids: std::collections::BTreeSet<&str> = data.iter().map(|d| d["user_id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), 1, "{data:?}");
        let fresh = data.iter().filter(|d| d["is_user_exists"] == false).count();
        assert_eq!(fresh, 1, "{data:?}");
        let id = ids.into_iter().next().unwrap();
        let read = v5(
            &app,
            Method::GET,
            &format!("/api/v5/entity/profile/fetch?user_id={id}"),
            Some(token),
            Some(APP_ID),
            None,
        )
        .await;
        assert_eq!(ok(&read)["user_id"], id);
    }
    // Parallel owner additions all count.
    let user = ok(&create(&app, token, json!({"email": "owned@example.com"})).await)["user_id"].clone();
    let a = &app;
    let owners: Vec<String> = join_all((0..10).map(|i| async move {
        let body = json!({"email": format!("owner{i}@example.com")});
        ok(&create(a, token, body).await)["user_id"].as_str().unwrap().to_string()
    }))
    .await;
    let added = join_all(owners.iter().map(|owner| {
        let body = json!({"user_id": user, "owner_id": owner, "event_type": "add"});
        v5(&app, Method::POST, "/api/v5/entity/user/owner/update", Some(token), Some(APP_ID), Some(body))
    }))
    .await;
    added.iter().for_each(|r| drop(ok(r)));
    let profile = v5(
        &app,
        Method::GET,
        &format!("/api/v5/entity/profile/fetch?user_id={}", user.as_str().unwrap()),
        Some(token),
        Some(APP_ID),
        None,
    )
    .await;
    assert_eq!(ok(&profile)["owner_id"].as_array().unwrap().len(), 10);
}

async fn users_created_here_are_everyones(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    register_app(&app, &admin).await;
    let key = admin.access_token.as_str();
    let id = ok(&create(&app, key, json!({"email": "lena@example.com", "corp_id": "1"})).await)["user_id"]
        .as_str()
        .unwrap()
        .to_string();

    // ELEVATE lists and reads it.
    let listed = app.get("/user/v1/account/list?search=lena@example.com", Some(key)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert!(listed.body.to_string().contains("lena@example.com"), "{}", listed.body);
    let read = app.get(&format!("/user/v1/user/read/{id}"), Some(key)).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    assert_eq!(read.result()["email"], "lena@example.com", "{}", read.body);

    // Sunbird finds it.
    let found = crate::sunbird::sb(
        &app,
        Method::POST,
        "/api/user/v1/search",
        Some(key),
        Some(key),
        Some(json!({"request": {"filters": {"email": "lena@example.com"}}})),
    )
    .await;
    assert_eq!(found.result()["response"]["count"], 1, "{}", found.body);
    assert_eq!(found.result()["response"]["content"][0]["identifier"], id.as_str(), "{}", found.body);

    // No password: nobody logs in as it, with the answer any wrong password gets.
    let login = app.login("lena@example.com", PASSWORD).await;
    assert!(login.status.is_client_error(), "{}", login.body);

    // Its events are marked as entity v5's, by the caller.
    let owner = json!({"user_id": id, "owner_id": admin.user["uuid"], "event_type": "add"});
    ok(&v5(&app, Method::POST, "/api/v5/entity/user/owner/update", Some(key), Some(APP_ID), Some(owner)).await);
    let history = app.get(&format!("/user/v1/audit/users/{id}/history"), Some(key)).await;
    let events = history.result()["events"].as_array().unwrap().clone();
    for kind in ["UserRegistered", "OwnerAdded"] {
        let event = events.iter().find(|e| e["event_type"] == kind).unwrap_or_else(|| panic!("{kind}: {events:?}"));
        assert_eq!(event["metadata"]["dialect"], "entity-v5", "{event}");
        assert_eq!(event["actor"], admin.user["uuid"], "{event}");
    }
}

/// Every route against every caller: anonymous is 40100, a plain member and
/// another organisation's admin 40300 for the default organisation's user,
/// its org admin and the admin get through (any answer but 401/403).
async fn every_route_against_every_caller(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    register_app(&app, &c.admin).await;
    let user = c.mentee.user["uuid"].as_str().unwrap().to_string();
    let routes: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            "/api/v5/entity/user/create".into(),
            Some(json!({"email": "matrix@example.com", "corp_id": "1"})),
        ),
        (Method::GET, format!("/api/v5/entity/profile/fetch?corp_id=1&user_id={user}"), None),
        (
            Method::POST,
            "/api/v5/entity/user/owner/update".into(),
            Some(json!({"user_id": user, "owner_id": user, "event_type": "add", "corp_id": "1"})),
        ),
        (
            Method::POST,
            "/api/v5/entity/user/pool/update".into(),
            Some(json!({"user_id": user, "pool": "dead", "corp_id": "1"})),
        ),
        (
            Method::POST,
            "/api/v5/entity/user/email/update".into(),
            Some(json!({"user_id": user, "email": "mina@example.com", "corp_id": "1"})),
        ),
        (Method::GET, format!("/api/v5/entity/user/contact/fetch?user_id={user}&corp_id=1&contact_type=email"), None),
    ];
    for (method, path, body) in routes {
        refused(&v5(&app, method.clone(), &path, None, Some(APP_ID), body.clone()).await, 401, 40100);
        for denied in [&c.mentee, &c.other_org_admin] {
            let reply = v5(&app, method.clone(), &path, Some(&denied.access_token), Some(APP_ID), body.clone()).await;
            refused(&reply, 403, 40300);
        }
        for allowed in [&c.org_admin, &c.admin] {
            let reply = v5(&app, method.clone(), &path, Some(&allowed.access_token), Some(APP_ID), body.clone()).await;
            assert!(!matches!(reply.status.as_u16(), 401 | 403), "{method} {path}: {}", reply.body);
        }
    }
}

on_both_backends!(
    every_route_against_every_caller,
    every_route_answers_in_the_seeds_shapes,
    every_failure_has_its_code,
    parallel_creates_answer_one_user,
    users_created_here_are_everyones,
);
