//! Login identifiers through Sunbird. Contact changes (update v1-v3): a new
//! email, phone or userName is claimed and the old one given back in one
//! commit, so the user logs in (ELEVATE) with the new one at once, the old
//! one is free for anyone, searches follow, and parallel changes to one
//! value leave it with exactly one user. Creates: by phone only, and a
//! userName generated when none is given.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;
use crate::sunbird::{assert_envelope, assert_error, sb};

async fn update(app: &TestApp, path: &str, key: &str, user: &str, request: Value) -> Reply {
    sb(app, Method::PATCH, path, Some(key), Some(user), Some(json!({"request": request}))).await
}

/// Names an admin's ELEVATE search finds for `term`.
async fn found(app: &TestApp, admin: &str, term: &str) -> Vec<String> {
    let reply = app.get(&format!("/user/v1/account/list?search={term}"), Some(admin)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    listed_names(&reply)
}

async fn exists(app: &TestApp, key: &str, id_type: &str, value: &str) -> bool {
    let reply =
        sb(app, Method::GET, &format!("/api/user/v1/exists/{id_type}/{value}"), Some(key), Some(key), None).await;
    assert_envelope(&reply, 200, &format!("api.user.exists.{id_type}"));
    reply.result()["exists"].as_bool().unwrap()
}

async fn contact_changes_move_logins_searches_and_claims(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let body = json!({"request": {
        "firstName": "Grace", "lastName": "Hopper", "email": "zed.old@example.com", "password": PASSWORD,
        "phone": "9876543210", "userName": "ghopper"
    }});
    let created = sb(&app, Method::POST, "/api/user/v1/create", Some(key), None, Some(body)).await;
    assert_envelope(&created, 200, "api.user.create");
    let grace = created.result()["userId"].as_str().unwrap().to_string();
    let own = session(&app.login("zed.old@example.com", PASSWORD).await).access_token;
    assert_eq!(found(&app, key, "ze").await, ["Grace Hopper"], "found by the old email's prefix");

    // Her own update: new email, phone and userName with a new name, in one commit.
    let changed = update(
        &app,
        "/api/user/v1/update",
        key,
        &own,
        json!({"userId": grace, "email": "Quinn.New@Example.com", "phone": 9000000001u64, "userName": "GraceNew",
               "firstName": "Grace B"}),
    )
    .await;
    assert_envelope(&changed, 200, "api.user.update");
    assert_eq!(changed.result()["response"], "SUCCESS");
    let read = sb(&app, Method::GET, &format!("/api/user/v1/read/{grace}"), Some(key), Some(&own), None).await;
    let me = &read.result()["response"];
    assert_eq!(me["email"], "quinn.new@example.com", "{me}");
    assert_eq!(me["maskedEmail"], "qu*******@example.com", "{me}");
    assert_eq!(me["phone"], "9000000001", "{me}");
    assert_eq!(me["userName"], "gracenew", "{me}");
    assert_eq!((me["firstName"].as_str(), me["lastName"].as_str()), (Some("Grace B"), Some("Hopper")), "{me}");
    // The session she changed it with goes on.
    let elevate = app.get("/user/v1/user/read", Some(&own)).await;
    assert_eq!(elevate.result()["email"], "quinn.new@example.com", "{}", elevate.body);

    // ELEVATE logins: the new values log in, the old ones no longer.
    for identifier in ["quinn.new@example.com", "gracenew", "9000000001"] {
        let login =
            app.post("/user/v1/account/login", None, json!({"identifier": identifier, "password": PASSWORD})).await;
        assert_eq!(login.status, StatusCode::OK, "{identifier}: {}", login.body);
        assert_eq!(login.result()["user"]["uuid"], grace.as_str());
    }
    for identifier in ["zed.old@example.com", "ghopper", "9876543210"] {
        let login =
            app.post("/user/v1/account/login", None, json!({"identifier": identifier, "password": PASSWORD})).await;
        assert_ne!(login.status, StatusCode::OK, "{identifier} still logs in: {}", login.body);
    }

    // Lookups and searches follow: the new values find her, the old ones no one.
    assert!(exists(&app, key, "email", "quinn.new@example.com").await);
    assert!(!exists(&app, key, "email", "zed.old@example.com").await);
    assert!(exists(&app, key, "userName", "gracenew").await);
    assert!(!exists(&app, key, "phone", "9876543210").await);
    let search = |filters: Value| {
        sb(
            &app,
            Method::POST,
            "/api/user/v1/search",
            Some(key),
            Some(key),
            Some(json!({"request": {"filters": filters}})),
        )
    };
    let by_new = search(json!({"email": "quinn.new@example.com"})).await;
    assert_eq!(by_new.result()["response"]["count"], 1, "{}", by_new.body);
    assert_eq!(by_new.result()["response"]["content"][0]["identifier"], grace.as_str());
    let by_old = search(json!({"email": "zed.old@example.com"})).await;
    assert_eq!(by_old.result()["response"]["count"], 0, "{}", by_old.body);
    // Prefix (one or two characters) and substring (three or more) search.
    assert!(found(&app, key, "ze").await.is_empty(), "the old email's prefix is gone");
    assert!(found(&app, key, "zed.old").await.is_empty(), "the old email's text is gone");
    assert_eq!(found(&app, key, "qu").await, ["Grace B Hopper"]);
    assert_eq!(found(&app, key, "quinn.new@").await, ["Grace B Hopper"]);
    assert_eq!(found(&app, key, "gr").await, ["Grace B Hopper"], "the name's prefixes stay");

    // The old values are free for anyone.
    let reuse = json!({"request": {
        "firstName": "Zed", "email": "zed.old@example.com", "password": PASSWORD, "phone": "9876543210", "userName": "ghopper"
    }});
    let reused = sb(&app, Method::POST, "/v1/user/create", Some(key), None, Some(reuse)).await;
    assert_envelope(&reused, 200, "api.user.create");
    let zed = reused.result()["userId"].as_str().unwrap().to_string();
    let zed_token = session(&app.login("zed.old@example.com", PASSWORD).await).access_token;

    // Someone else's values are refused, as Sunbird refuses them, and nothing changes.
    for (field, value, message) in [
        ("email", json!("QUINN.NEW@example.com"), "email already exists"),
        ("phone", json!("9000000001"), "phone already exists"),
        ("userName", json!("gracenew"), "userName already exists"),
    ] {
        let taken =
            update(&app, "/api/user/v2/update", key, &zed_token, json!({field: value, "firstName": "Zorro"})).await;
        assert_envelope(&taken, 400, "api.user.update");
        assert_error(&taken, 400, "UOS_USRUPD0002", "CLIENT_ERROR", Some(message));
    }
    let zed_read = sb(&app, Method::GET, &format!("/v1/user/read/{zed}"), Some(key), Some(key), None).await;
    assert_eq!(zed_read.result()["response"]["firstName"], "Zed", "a refused change stores nothing");
    assert_eq!(zed_read.result()["response"]["email"], "zed.old@example.com");

    // Her own current values again: nothing to move, still a success.
    let same =
        update(&app, "/v3/user/update", key, &own, json!({"email": "quinn.new@example.com", "userName": "gracenew"}))
            .await;
    assert_envelope(&same, 200, "api.user.update");

    // Bad values in Sunbird's words.
    let malformed = update(&app, "/api/user/v1/update", key, &own, json!({"email": "not-an-email"})).await;
    assert_error(&malformed, 400, "UOS_USRUPD0009", "CLIENT_ERROR", Some("Invalid format for given email."));
    let bad_name = update(&app, "/api/user/v1/update", key, &own, json!({"userName": "a b"})).await;
    assert_error(&bad_name, 400, "UOS_USRUPD0009", "CLIENT_ERROR", Some("Invalid format for given userName."));
    let empty = update(&app, "/api/user/v1/update", key, &own, json!({"phone": ""})).await;
    assert_error(
        &empty,
        400,
        "UOS_USRUPD0017",
        "CLIENT_ERROR",
        Some("Invalid value  for parameter phone. Please provide a valid value."),
    );
    let wrong_type = update(&app, "/api/user/v1/update", key, &own, json!({"email": ["a@b.co"]})).await;
    assert_error(&wrong_type, 400, "UOS_USRUPD0003", "CLIENT_ERROR", Some("Data type of email should be String."));

    // Another user may not change hers; an admin may.
    let theirs =
        update(&app, "/api/user/v1/update", key, &zed_token, json!({"userId": grace, "email": "x@example.com"})).await;
    assert_error(&theirs, 403, "UOS_USRUPD0071", "FORBIDDEN", None);
    let by_admin =
        update(&app, "/api/user/v1/update", key, key, json!({"userId": grace, "email": "grace.final@example.com"}))
            .await;
    assert_envelope(&by_admin, 200, "api.user.update");
    assert_eq!(app.login("grace.final@example.com", PASSWORD).await.status, StatusCode::OK);
    assert_ne!(app.login("quinn.new@example.com", PASSWORD).await.status, StatusCode::OK);

    // A blocked user's contacts stay as they are.
    let target = json!({"request": {"userId": grace}});
    let blocked = sb(&app, Method::POST, "/api/user/v1/block", Some(key), Some(key), Some(target)).await;
    assert_envelope(&blocked, 200, "api.user.block");
    let refused =
        update(&app, "/api/user/v1/update", key, key, json!({"userId": grace, "email": "blocked@example.com"})).await;
    assert_error(&refused, 400, "UOS_USRUPD0073", "CLIENT_ERROR", None);
    assert!(!exists(&app, key, "email", "blocked@example.com").await, "no claim left behind");
}

/// Twenty users ask for the same new email at once: one gets it, the others
/// are told it is taken, and every one of them still logs in as before.
async fn parallel_changes_to_one_email_make_one_owner(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let mut users = Vec::new();
    for n in 0..20 {
        users.push(app.sign_up(&format!("Racer {n}"), &format!("racer{n}@example.com")).await);
    }
    let replies = join_all(users.iter().map(|user| {
        update(&app, "/api/user/v1/update", key, &user.access_token, json!({"email": "wanted@example.com"}))
    }))
    .await;
    let mut winners = Vec::new();
    for (n, reply) in replies.iter().enumerate() {
        assert!(!reply.status.is_server_error(), "{}", reply.body);
        match reply.status.as_u16() {
            200 => winners.push(n),
            _ => assert_error(reply, 400, "UOS_USRUPD0002", "CLIENT_ERROR", Some("email already exists")),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one change wins: {winners:?}");
    let winner = winners[0];
    let login = app.login("wanted@example.com", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.result()["user"]["uuid"], users[winner].user["uuid"]);
    for n in (0..20).filter(|n| *n != winner) {
        assert_eq!(app.login(&format!("racer{n}@example.com"), PASSWORD).await.status, StatusCode::OK, "racer {n}");
    }
    // The winner's old email is free; the read model holds the new one once.
    assert_ne!(app.login(&format!("racer{winner}@example.com"), PASSWORD).await.status, StatusCode::OK);
    app.sign_up("Late Comer", &format!("racer{winner}@example.com")).await;
    let searched = sb(
        &app,
        Method::POST,
        "/api/user/v1/search",
        Some(key),
        Some(key),
        Some(json!({"request": {"filters": {"email": "wanted@example.com"}}})),
    )
    .await;
    assert_eq!(searched.result()["response"]["count"], 1, "{}", searched.body);
    let db = app.state.db.clone();
    let rows: i64 = roster::on_pool!(&db, pool => {
        sqlx::query_scalar("SELECT count(*) FROM users WHERE email = 'wanted@example.com'").fetch_one(pool).await.unwrap()
    });
    assert_eq!(rows, 1);
}

/// A user created with a phone and no email logs in through ELEVATE with
/// the phone or the generated userName; a create without a userName gets
/// Sunbird's generated one; a create with neither email nor phone is refused.
async fn phone_only_creates_and_generated_user_names(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let create = |request: Value| {
        sb(&app, Method::POST, "/api/user/v2/create", Some(key), None, Some(json!({"request": request})))
    };
    let created =
        create(json!({"firstName": "Phoebe", "lastName": "Only", "phone": "9123456780", "password": PASSWORD})).await;
    assert_envelope(&created, 200, "api.user.create");
    let phoebe = created.result()["userId"].as_str().unwrap().to_string();
    let read = sb(&app, Method::GET, &format!("/api/user/v1/read/{phoebe}"), Some(key), Some(key), None).await;
    let user = &read.result()["response"];
    assert!(user["email"].is_null() && user["maskedEmail"].is_null(), "{user}");
    assert_eq!(user["phone"], "9123456780", "{user}");
    let user_name = user["userName"].as_str().unwrap().to_string();
    let (base, suffix) = user_name.rsplit_once('_').unwrap();
    assert_eq!(base, "phoebeonly", "{user_name}");
    assert!(suffix.len() == 4 && suffix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()), "{user_name}");

    // ELEVATE: she logs in with her phone or her user name, and reads herself without an email.
    for identifier in ["9123456780", user_name.as_str()] {
        let login =
            app.post("/user/v1/account/login", None, json!({"identifier": identifier, "password": PASSWORD})).await;
        assert_eq!(login.status, StatusCode::OK, "{identifier}: {}", login.body);
        assert_eq!(login.result()["user"]["uuid"], phoebe.as_str());
    }
    let token = session(
        &app.post("/user/v1/account/login", None, json!({"identifier": "9123456780", "password": PASSWORD})).await,
    )
    .access_token;
    let me = app.get("/user/v1/user/read", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert!(me.result()["email"].is_null(), "{}", me.body);
    assert_eq!(found(&app, key, "ph").await, ["Phoebe Only"]);
    assert!(exists(&app, key, "userName", &user_name).await);

    // She adds an email later; it logs her in too.
    let added = update(&app, "/api/user/v1/update", key, &token, json!({"email": "phoebe@example.com"})).await;
    assert_envelope(&added, 200, "api.user.update");
    assert_eq!(app.login("phoebe@example.com", PASSWORD).await.status, StatusCode::OK);

    // With an email and no userName: one is generated too; each create gets its own.
    let mut names = Vec::new();
    for n in 0..3 {
        let created =
            create(json!({"firstName": "Ada", "lastName": "Byron", "email": format!("ada{n}@example.com"), "password": PASSWORD})).await;
        assert_envelope(&created, 200, "api.user.create");
        let id = created.result()["userId"].as_str().unwrap().to_string();
        let read = sb(&app, Method::GET, &format!("/v1/user/read/{id}"), Some(key), Some(key), None).await;
        let name = read.result()["response"]["userName"].as_str().unwrap().to_string();
        assert!(name.starts_with("adabyron_"), "{name}");
        names.push(name);
    }
    names.dedup();
    assert_eq!(names.len(), 3, "{names:?}");

    // Neither email nor phone, as Sunbird answers; a taken phone.
    let neither = create(json!({"firstName": "Nobody", "password": PASSWORD, "email": ""})).await;
    assert_error(&neither, 400, "UOS_USRCRT0019", "CLIENT_ERROR", Some("Please provide valid email or phone."));
    let taken = create(json!({"firstName": "Copy", "phone": 9123456780u64, "password": PASSWORD})).await;
    assert_error(&taken, 400, "UOS_USRCRT0002", "CLIENT_ERROR", Some("phone already exists"));
    let weak = create(json!({"firstName": "Weak", "phone": "9123456789", "password": "weak"})).await;
    assert_error(&weak, 400, "UOS_USRCRT0024", "CLIENT_ERROR", None);
    assert!(!exists(&app, key, "phone", "9123456789").await, "a refused create claims nothing");
}

on_both_backends!(
    contact_changes_move_logins_searches_and_claims,
    parallel_changes_to_one_email_make_one_owner,
    phone_only_creates_and_generated_user_names
);
