//! Sunbird's user migration: an admin adds a migration prospect (the feed's
//! create, with the external id the organisation knows the user by), the
//! user sees it in their feed and answers it through `migrate`: accept with
//! the right external id moves them into the organisation, a wrong one
//! spends an attempt (at most two, however many arrive at once), reject
//! drops it.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;
use crate::sunbird::{assert_envelope, assert_error, sb};
use crate::sunbird_merge::{state_organization, uuid_of};

fn prospect(user: &str, channel: &str, external_id: &str) -> Value {
    json!({"request": {
        "userId": user, "category": "OrgMigrationAction", "priority": 1,
        "data": {"prospectChannels": [channel]}, "userExtId": external_id
    }})
}

fn accept(user: &str, channel: &str, external_id: &str) -> Value {
    json!({"request": {"userId": user, "channel": channel, "action": "accept", "feedId": "f", "userExtId": external_id}})
}

/// Adds a prospect as the admin; the feed item's id.
async fn add_prospect(app: &TestApp, key: &str, user: &str, channel: &str, external_id: &str) -> String {
    let added = sb(
        app,
        Method::POST,
        "/api/user/v1/feed/create",
        Some(key),
        Some(key),
        Some(prospect(user, channel, external_id)),
    )
    .await;
    assert_envelope(&added, 200, "api.user.feed.create");
    assert_eq!(added.result()["response"], "SUCCESS", "{}", added.body);
    added.result()["id"].as_str().unwrap().to_string()
}

async fn feed_of(app: &TestApp, key: &str, user: &Session) -> Vec<Value> {
    let path = format!("/api/user/v1/feed/{}", uuid_of(user));
    let feed = sb(app, Method::GET, &path, Some(key), Some(&user.access_token), None).await;
    assert_envelope(&feed, 200, "api.user.feed.read");
    feed.result()["response"]["userFeed"].as_array().unwrap().clone()
}

async fn a_prospect_is_shown_and_accepted_with_the_right_external_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let state = state_organization(&app, &admin, "state").await;
    let mina = app.sign_up("Mina Mover", "mina@example.com").await;
    let (uuid, token) = (uuid_of(&mina), mina.access_token.as_str());
    let feed_id = add_prospect(&app, key, &uuid, "State", "EXT-42").await;

    // The user's feed shows it, without the external id.
    let feed = feed_of(&app, key, &mina).await;
    assert_eq!(feed.len(), 1, "{feed:?}");
    let item = &feed[0];
    assert_eq!((item["id"].as_str(), item["userId"].as_str()), (Some(feed_id.as_str()), Some(uuid.as_str())));
    assert_eq!((item["category"].as_str(), item["status"].as_str()), (Some("OrgMigrationAction"), Some("unread")));
    assert_eq!(item["data"]["prospectChannels"], json!(["state"]), "{item}");
    assert_eq!(item["data"]["prospectChannelsIds"], json!([{"id": state.to_string(), "name": "state"}]), "{item}");
    assert!(!item.to_string().contains("EXT-42"), "{item}");
    let service_form = sb(&app, Method::GET, &format!("/v1/user/feed/{uuid}"), Some(key), Some(token), None).await;
    assert_envelope(&service_form, 200, "api.user.feed.read");
    // Nor does the audit show it to the user (it would answer the question).
    let own_state = app.get(&format!("/user/v1/audit/users/{uuid}/state?at=2100-01-01T00:00:00Z"), Some(token)).await;
    assert_eq!(own_state.status, StatusCode::OK, "{}", own_state.body);
    assert!(!own_state.body.to_string().contains("EXT-42"), "{}", own_state.body);
    let history = app.get(&format!("/user/v1/audit/users/{uuid}/history"), Some(key)).await;
    assert!(!history.body.to_string().contains("EXT-42"), "{}", history.body);

    // A wrong external id: Sunbird's answer, one attempt left.
    let wrong =
        sb(&app, Method::POST, "/api/user/v1/migrate", Some(key), Some(token), Some(accept(&uuid, "state", "nope")))
            .await;
    assert_eq!(wrong.status, StatusCode::OK, "{}", wrong.body);
    assert_eq!(
        (wrong.body["id"].as_str(), wrong.body["responseCode"].as_str()),
        (Some("api.user.migrate"), Some("SERVER_ERROR"))
    );
    assert_eq!(wrong.body["params"]["status"], "success", "{}", wrong.body);
    assert_eq!(
        wrong.result(),
        &json!({"maxAttempt": 2, "remainingAttempt": 1, "err": true, "message": "provided ext user id nope is incorrect"})
    );

    // The right one, in any case, through the service form: migrated.
    let right =
        sb(&app, Method::POST, "/v1/user/migrate", Some(key), Some(token), Some(accept(&uuid, "state", "ext-42")))
            .await;
    assert_envelope(&right, 200, "api.user.migrate");
    assert_eq!(right.result(), &json!({"success": true, "userId": uuid}));
    let read = sb(&app, Method::GET, &format!("/api/user/v1/read/{uuid}"), Some(key), Some(token), None).await;
    assert_eq!(read.result()["response"]["rootOrgId"], state.to_string(), "{}", read.body);
    let elevate = app.get("/user/v1/user/read", Some(token)).await;
    assert_eq!(elevate.result()["organization_id"], state, "{}", elevate.body);
    assert!(feed_of(&app, key, &mina).await.is_empty(), "the prospect is gone");
    let history = app.get(&format!("/user/v1/audit/users/{uuid}/history"), Some(key)).await;
    let events = history.result()["events"].as_array().unwrap().clone();
    let migrated = events.iter().find(|e| e["event_type"] == "UserMigrated").unwrap();
    assert_eq!(migrated["metadata"]["dialect"], "sunbird", "{migrated}");
    assert_eq!(migrated["payload"]["UserMigrated"]["migration"]["external_id"], "EXT-42", "{migrated}");
    assert!(events.iter().any(|e| e["event_type"] == "OrganizationChanged"), "{events:?}");
    // Nothing is left to answer.
    let again =
        sb(&app, Method::POST, "/api/user/v1/migrate", Some(key), Some(token), Some(accept(&uuid, "state", "EXT-42")))
            .await;
    assert_error(&again, 400, "INVALID_USER_ID", "CLIENT_ERROR", Some("User Id does not exists in our records"));
}

async fn the_last_wrong_attempt_fails_and_reject_drops_the_prospects(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    state_organization(&app, &admin, "state").await;
    state_organization(&app, &admin, "other").await;
    let lee = app.sign_up("Lee Loser", "lee@example.com").await;
    let (uuid, token) = (uuid_of(&lee), lee.access_token.as_str());
    add_prospect(&app, key, &uuid, "state", "EXT-1").await;
    let migrate = |body: Value| sb(&app, Method::POST, "/api/user/v1/migrate", Some(key), Some(token), Some(body));
    assert_eq!(migrate(accept(&uuid, "state", "x")).await.result()["remainingAttempt"], 1);
    let failed = migrate(accept(&uuid, "state", "y")).await;
    assert_error(&failed, 400, "USER_MIGRATION_FAILED", "CLIENT_ERROR", Some("user is failed to migrate"));
    assert!(feed_of(&app, key, &lee).await.is_empty(), "a failed prospect is gone");
    let after = migrate(accept(&uuid, "state", "EXT-1")).await;
    assert_error(&after, 400, "INVALID_USER_ID", "CLIENT_ERROR", None);

    // Reject drops every pending prospect.
    add_prospect(&app, key, &uuid, "state", "EXT-1").await;
    add_prospect(&app, key, &uuid, "other", "EXT-2").await;
    assert_eq!(feed_of(&app, key, &lee).await.len(), 2);
    let unknown_channel = migrate(accept(&uuid, "nowhere", "EXT-1")).await;
    assert_error(&unknown_channel, 400, "INVALID_USER_ID", "CLIENT_ERROR", None);
    let reject = json!({"request": {"userId": uuid, "action": "reject", "feedId": "f"}});
    let rejected = migrate(reject.clone()).await;
    assert_envelope(&rejected, 200, "api.user.migrate");
    assert_eq!(rejected.result(), &json!({"success": true, "userId": uuid}));
    assert!(feed_of(&app, key, &lee).await.is_empty());
    assert_error(&migrate(reject).await, 400, "INVALID_USER_ID", "CLIENT_ERROR", None);
    let elevate = app.get("/user/v1/user/read", Some(token)).await;
    assert_eq!(elevate.result()["organization_id"], 1, "still in the default organisation");
}

async fn migrate_and_feed_refusals(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    state_organization(&app, &admin, "state").await;
    let mina = app.sign_up("Mina Mover", "mina@example.com").await;
    let other = app.sign_up("Oli Other", "oli@example.com").await;
    let (uuid, token) = (uuid_of(&mina), mina.access_token.as_str());
    add_prospect(&app, key, &uuid, "state", "EXT-42").await;
    let migrate = |user: Option<&'static str>, body: Value| {
        let token = match user {
            Some("other") => Some(other.access_token.clone()),
            Some(_) => Some(mina.access_token.clone()),
            None => None,
        };
        let app = &app;
        async move { sb(app, Method::POST, "/api/user/v1/migrate", Some(key), token.as_deref(), Some(body)).await }
    };
    let me = Some("mina");

    let bad_action = json!({"request": {"userId": uuid, "action": "maybe"}});
    assert_error(
        &migrate(me, bad_action).await,
        400,
        "UOS_USRMIG0017",
        "CLIENT_ERROR",
        Some("Invalid value maybe for parameter action. Please provide a valid value."),
    );
    let no_action = json!({"request": {"userId": uuid}});
    assert_error(
        &migrate(me, no_action).await,
        400,
        "UOS_USRMIG0030",
        "CLIENT_ERROR",
        Some("Mandatory parameter action is missing."),
    );
    let no_user = json!({"request": {"action": "reject"}});
    assert_error(
        &migrate(me, no_user).await,
        400,
        "UOS_USRMIG0030",
        "CLIENT_ERROR",
        Some("Mandatory parameter userId is missing."),
    );
    let no_ext = json!({"request": {"userId": uuid, "action": "accept", "channel": "state"}});
    assert_error(
        &migrate(me, no_ext).await,
        400,
        "UOS_USRMIG0030",
        "CLIENT_ERROR",
        Some("Mandatory parameter userExtId is missing."),
    );
    let no_channel = json!({"request": {"userId": uuid, "action": "accept", "userExtId": "EXT-42"}});
    assert_error(
        &migrate(me, no_channel).await,
        400,
        "UOS_USRMIG0030",
        "CLIENT_ERROR",
        Some("Mandatory parameter channel is missing."),
    );
    // Another user's account: an invalid value, as Sunbird answers.
    let theirs = migrate(Some("other"), accept(&uuid, "state", "EXT-42")).await;
    assert_error(&theirs, 400, "UOS_USRMIG0017", "CLIENT_ERROR", None);
    let anonymous = migrate(None, accept(&uuid, "state", "EXT-42")).await;
    assert_error(&anonymous, 401, "UOS_0070", "UNAUTHORIZED", None);
    let no_key =
        sb(&app, Method::POST, "/v1/user/migrate", None, Some(token), Some(accept(&uuid, "state", "EXT-42"))).await;
    assert_error(&no_key, 401, "UOS_0070", "UNAUTHORIZED", None);
    let bad_key =
        sb(&app, Method::POST, "/v1/user/migrate", Some("rk_x_y"), Some(token), Some(accept(&uuid, "state", "x")))
            .await;
    assert_error(&bad_key, 401, "UOS_0070", "UNAUTHORIZED", None);
    let bad_token =
        sb(&app, Method::POST, "/v1/user/migrate", Some(key), Some("nope"), Some(accept(&uuid, "state", "x"))).await;
    assert_error(&bad_token, 401, "UOS_0070", "UNAUTHORIZED", None);
    // None of those spent an attempt.
    let wrong = migrate(me, accept(&uuid, "state", "x")).await;
    assert_eq!(wrong.result()["remainingAttempt"], 1, "{}", wrong.body);

    // The feed: one's own only.
    let theirs =
        sb(&app, Method::GET, &format!("/api/user/v1/feed/{uuid}"), Some(key), Some(&other.access_token), None).await;
    assert_error(&theirs, 401, "UOS_0070", "UNAUTHORIZED", None);
    let by_admin = sb(&app, Method::GET, &format!("/api/user/v1/feed/{uuid}"), Some(key), Some(key), None).await;
    assert_error(&by_admin, 401, "UOS_0070", "UNAUTHORIZED", None);
    let anonymous = sb(&app, Method::GET, &format!("/api/user/v1/feed/{uuid}"), Some(key), None, None).await;
    assert_error(&anonymous, 401, "UOS_0070", "UNAUTHORIZED", None);

    // Adding prospects: an admin's; the fields Sunbird's feed create checks.
    let create = |user: &str, body: Value| {
        let user = user.to_string();
        let app = &app;
        async move { sb(app, Method::POST, "/api/user/v1/feed/create", Some(key), Some(&user), Some(body)).await }
    };
    let by_user = create(token, prospect(&uuid_of(&other), "state", "E")).await;
    assert_error(&by_user, 403, "UOS_FEEDCRT0071", "FORBIDDEN", None);
    let twice = create(key, prospect(&uuid, "state", "E")).await;
    assert_error(&twice, 400, "UOS_FEEDCRT0002", "CLIENT_ERROR", Some("channel already exists"));
    let nowhere = create(key, prospect(&uuid, "nowhere", "E")).await;
    assert_error(
        &nowhere,
        400,
        "UOS_FEEDCRT0017",
        "CLIENT_ERROR",
        Some("Invalid value nowhere for parameter channel. Please provide a valid value."),
    );
    let own_org = create(key, prospect(&uuid_of(&other), "default", "E")).await;
    assert_error(&own_org, 400, "UOS_FEEDCRT0017", "CLIENT_ERROR", None);
    let mut category = prospect(&uuid, "state", "E");
    category["request"]["category"] = json!("Announcement");
    assert_error(&create(key, category).await, 400, "UOS_FEEDCRT0017", "CLIENT_ERROR", None);
    let mut priority = prospect(&uuid, "state", "E");
    priority["request"]["priority"] = json!(0);
    assert_error(
        &create(key, priority).await,
        400,
        "UOS_FEEDCRT0030",
        "CLIENT_ERROR",
        Some("Mandatory parameter priority is missing."),
    );
    let mut two = prospect(&uuid, "state", "E");
    two["request"]["data"]["prospectChannels"] = json!(["state", "other"]);
    assert_error(&create(key, two).await, 400, "UOS_FEEDCRT0019", "CLIENT_ERROR", None);
    let nobody = create(key, prospect(&uuid::Uuid::new_v4().to_string(), "state", "E")).await;
    assert_error(&nobody, 404, "UOS_FEEDCRT0013", "RESOURCE_NOT_FOUND", None);
    let blank = create(key, prospect(&uuid_of(&other), "state", " ")).await;
    assert_error(&blank, 400, "UOS_FEEDCRT0031", "CLIENT_ERROR", None);
}

/// Many wrong answers at once spend exactly the two attempts: one answer
/// has an attempt left, one fails the prospect, the rest find none.
async fn parallel_wrong_attempts_never_exceed_the_maximum(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    state_organization(&app, &admin, "state").await;
    let mina = app.sign_up("Mina Mover", "mina@example.com").await;
    let (uuid, token) = (uuid_of(&mina), mina.access_token.as_str());
    add_prospect(&app, key, &uuid, "state", "EXT-42").await;
    let answers = join_all((0..12).map(|n| {
        let body = accept(&uuid, "state", &format!("wrong-{n}"));
        sb(&app, Method::POST, "/api/user/v1/migrate", Some(key), Some(token), Some(body))
    }))
    .await;
    let mut outcomes: Vec<String> = answers
        .iter()
        .map(|a| match (a.status.as_u16(), a.body["params"]["err"].as_str()) {
            (200, None) => format!("remaining {}", a.result()["remainingAttempt"]),
            (400, Some(err)) => err.to_string(),
            _ => panic!("unexpected answer: {}", a.body),
        })
        .collect();
    outcomes.sort();
    let mut expected = vec!["INVALID_USER_ID".to_string(); 10];
    expected.push("USER_MIGRATION_FAILED".into());
    expected.push("remaining 1".into());
    expected.sort();
    assert_eq!(outcomes, expected);
    let history = app.get(&format!("/user/v1/audit/users/{uuid}/history"), Some(key)).await;
    let types: Vec<String> = history.result()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_string())
        .filter(|t| t.starts_with("Migration"))
        .collect();
    assert_eq!(types, ["MigrationProspectAdded", "MigrationAttemptFailed", "MigrationFailed"]);
}

on_both_backends!(
    a_prospect_is_shown_and_accepted_with_the_right_external_id,
    the_last_wrong_attempt_fails_and_reject_drops_the_prospects,
    migrate_and_feed_refusals,
    parallel_wrong_attempts_never_exceed_the_maximum,
);
