//! Sunbird's client credential: API keys an admin issues (admin API and
//! CLI), listed without their secret, refused at once when revoked; and
//! Roster access tokens, still accepted in their place.

use std::process::{Command, Output};

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;
use crate::sunbird::{assert_envelope, assert_error, create, create_body, sb};

/// Issues a key through the admin API; (id, key).
pub(crate) async fn issue_key(app: &TestApp, admin: &Session, name: &str) -> (String, String) {
    let reply = app.post("/user/v1/admin/apiKey/create", Some(&admin.access_token), json!({"name": name})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let result = reply.result();
    assert_eq!(result["name"], name);
    assert_eq!(result["status"], "ACTIVE");
    (result["id"].as_str().unwrap().to_string(), result["key"].as_str().unwrap().to_string())
}

async fn revoke_key(app: &TestApp, admin: &Session, id: &str) -> Reply {
    app.post(&format!("/user/v1/admin/apiKey/revoke/{id}"), Some(&admin.access_token), json!({})).await
}

/// A create through Sunbird with `key` as the client credential.
async fn create_with(app: &TestApp, key: Option<&str>, email: &str) -> Reply {
    sb(app, Method::POST, "/api/user/v1/create", key, None, Some(create_body("Kay", "Client", email))).await
}

async fn api_keys_are_issued_listed_and_revoked(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let mentee = app.sign_up("Mia Mentee", "mia@example.com").await;
    let (id, key) = issue_key(&app, &admin, "learner portal").await;
    assert!(key.starts_with("rk_") && key.len() > 90, "{key}");
    let secret = key.rsplit('_').next().unwrap().to_string();

    // Only admins manage keys.
    let by_mentee = app.post("/user/v1/admin/apiKey/create", Some(&mentee.access_token), json!({"name": "mine"})).await;
    assert_eq!(by_mentee.status, StatusCode::FORBIDDEN, "{}", by_mentee.body);
    let anonymous = app.get("/user/v1/admin/apiKey/list", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(revoke_key(&app, &mentee, &id).await.status, StatusCode::FORBIDDEN);
    let blank = app.post("/user/v1/admin/apiKey/create", Some(&admin.access_token), json!({"name": "  "})).await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST, "{}", blank.body);
    let unknown =
        app.post("/user/v1/admin/apiKey/create", Some(&admin.access_token), json!({"name": "x", "key": "y"})).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.body);

    // No key, bad keys, the good key.
    let none = create_with(&app, None, "a@example.com").await;
    assert_error(&none, 401, "UOS_0070", "UNAUTHORIZED", Some("You are not authorized."));
    let wrong_secret = format!("{}{}", &key[..key.len() - 64], "0".repeat(64));
    let unknown_id = format!("rk_{}_{secret}", uuid::Uuid::new_v4().simple());
    for bad in ["garbage", "rk_", "rk_x_y", &key[..key.len() - 1], &wrong_secret, &unknown_id] {
        let refused = create_with(&app, Some(bad), "a@example.com").await;
        assert_envelope(&refused, 401, "api.user.create");
        assert_error(&refused, 401, "UOS_0070", "UNAUTHORIZED", None);
    }
    let created = create_with(&app, Some(&key), "a@example.com").await;
    assert_envelope(&created, 200, "api.user.create");
    let user = created.result()["userId"].as_str().unwrap().to_string();
    let read =
        sb(&app, Method::GET, &format!("/api/user/v1/read/{user}"), Some(&key), Some(&admin.access_token), None).await;
    assert_envelope(&read, 200, "api.user.read");
    // A key is the client's credential only: it acts as no user.
    let as_user = sb(&app, Method::GET, &format!("/api/user/v1/read/{user}"), Some(&key), Some(&key), None).await;
    assert_error(&as_user, 401, "UOS_0070", "UNAUTHORIZED", None);

    // The list: every key, never its secret.
    let (other_id, _) = issue_key(&app, &admin, "batch jobs").await;
    let list = app.get("/user/v1/admin/apiKey/list", Some(&admin.access_token)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let listed = list.result().as_array().unwrap();
    let ids: Vec<&str> = listed.iter().map(|k| k["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [id.as_str(), other_id.as_str()]);
    assert_eq!(listed[0]["issued_by"], admin.user["uuid"]);
    assert!(listed.iter().all(|k| k.get("key").is_none()), "{}", list.body);
    assert!(!list.body.to_string().contains(&secret));

    // Revoked: refused on the next request; revoked twice: still fine.
    let revoked = revoke_key(&app, &admin, &id).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(revoked.result()["status"], "REVOKED");
    assert_eq!(revoked.result()["revoked_by"], admin.user["uuid"]);
    let refused = create_with(&app, Some(&key), "b@example.com").await;
    assert_error(&refused, 401, "UOS_0070", "UNAUTHORIZED", Some("You are not authorized."));
    assert_eq!(revoke_key(&app, &admin, &id).await.status, StatusCode::OK);
    assert_eq!(revoke_key(&app, &admin, &uuid::Uuid::new_v4().to_string()).await.status, StatusCode::NOT_FOUND);
    assert_eq!(revoke_key(&app, &admin, "not-a-key").await.status, StatusCode::NOT_FOUND);
    let list = app.get("/user/v1/admin/apiKey/list", Some(&admin.access_token)).await;
    let statuses: Vec<&Value> = list.result().as_array().unwrap().iter().map(|k| &k["status"]).collect();
    assert_eq!(statuses, [&json!("REVOKED"), &json!("ACTIVE")]);

    // A replay rebuilds the list as it was.
    app.state.projector.rebuild(|_, _| {}).await.unwrap();
    let replayed = app.get("/user/v1/admin/apiKey/list", Some(&admin.access_token)).await;
    assert_eq!(replayed.result(), list.result());

    // A Roster access token with a live session is still a client credential.
    create(&app, &admin.access_token, "Tok", "Client", "c@example.com").await;

    // The log's readers see the events, never the key or its hash.
    let audit = app.get("/user/v1/audit/events?aggregate_type=api_key", Some(&admin.access_token)).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.body);
    let text = audit.body.to_string();
    assert!(text.contains("ApiKeyIssued") && text.contains("ApiKeyRevoked"), "{text}");
    assert!(!text.contains(&secret) && !text.contains("secret_hash"), "{text}");
}

/// Parallel revokes of one key all succeed, with one revocation recorded.
async fn parallel_revokes_record_one_revocation(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let (id, key) = issue_key(&app, &admin, "parallel").await;
    let replies = join_all((0..12).map(|_| revoke_key(&app, &admin, &id))).await;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let revocations: i64 = roster::on_pool!(&app.state.db, pool => {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM events WHERE aggregate_type = 'api_key' AND event_type = 'ApiKeyRevoked'")
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!(revocations, 1);
    assert_error(&create_with(&app, Some(&key), "p@example.com").await, 401, "UOS_0070", "UNAUTHORIZED", None);
}

fn cli(database_url: &str, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("ROSTER_MASTER_KEY", MASTER_KEY)
        .env("RUST_LOG", "error")
        .env_remove("KAFKA_BROKERS")
        .output()
        .unwrap();
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

/// `roster api-key create | list | revoke`, between runs of the service.
async fn a_key_issued_by_the_cli_works_until_revoked(backend: Backend) {
    let database = fresh_database(backend).await;
    let created = cli(&database.url, &["api-key", "create", "--name", "ops"]);
    let key = String::from_utf8(created.stdout).unwrap().trim().to_string();
    assert!(key.starts_with("rk_"), "{key}");
    let secret = key.rsplit('_').next().unwrap().to_string();
    let listed = String::from_utf8(cli(&database.url, &["api-key", "list"]).stdout).unwrap();
    let row: Value = serde_json::from_str(listed.trim()).unwrap();
    assert_eq!((&row["name"], &row["issued_by"], &row["revoked_at"]), (&json!("ops"), &json!("system"), &Value::Null));
    assert!(!listed.contains(&secret), "{listed}");

    let running = spawn_stoppable(database, |_| {}).await;
    let created = create_with(&running.app, Some(&key), "cli@example.com").await;
    assert_envelope(&created, 200, "api.user.create");
    let database = running.stop().await;

    cli(&database.url, &["api-key", "revoke", row["id"].as_str().unwrap()]);
    let exported = String::from_utf8(cli(&database.url, &["events", "export"]).stdout).unwrap();
    assert!(exported.contains("ApiKeyRevoked"), "{exported}");
    assert!(!exported.contains(&secret) && !exported.contains("secret_hash"));
    let running = spawn_stoppable(database, |_| {}).await;
    let refused = create_with(&running.app, Some(&key), "cli2@example.com").await;
    assert_error(&refused, 401, "UOS_0070", "UNAUTHORIZED", None);
    running.stop().await;
}

on_both_backends!(
    api_keys_are_issued_listed_and_revoked,
    parallel_revokes_record_one_revocation,
    a_key_issued_by_the_cli_works_until_revoked,
);
