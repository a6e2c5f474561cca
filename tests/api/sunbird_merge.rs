//! Sunbird's account merge (`PATCH /api/user/v1/account/merge`, the
//! service's `/private/user/v1/account/merge`): both users prove
//! themselves, the source ends deleted with its identifiers free and its
//! sessions revoked, the target records the merge; the one commit is in
//! `one_commit.rs`.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;
use crate::sunbird::assert_error;

pub(crate) const MERGE: &str = "/api/user/v1/account/merge";

/// A merge call: `key` as the client's, `user` the acting (target) user,
/// `source` in `x-source-user-token`.
pub(crate) async fn merge_call(
    app: &TestApp,
    path: &str,
    key: Option<&str>,
    user: Option<&str>,
    source: Option<&str>,
    body: Value,
) -> Reply {
    let mut request = app.client.request(Method::PATCH, app.url(path)).header("X-msgid", "msg-1234").json(&body);
    if let Some(key) = key {
        request = request.header("Authorization", format!("Bearer {key}"));
    }
    if let Some(user) = user {
        request = request.header("x-authenticated-user-token", user);
    }
    if let Some(source) = source {
        request = request.header("x-source-user-token", source);
    }
    Reply::from(request.send().await.unwrap()).await
}

pub(crate) fn merge_body(from: &str, to: &str) -> Value {
    json!({"request": {"fromAccountId": from, "toAccountId": to}})
}

/// An organisation other than the default one; its id.
pub(crate) async fn state_organization(app: &TestApp, admin: &Session, code: &str) -> i64 {
    let created = app
        .post(
            "/user/v1/organization/create",
            Some(&admin.access_token),
            json!({"name": format!("State {code}"), "code": code, "description": "a state"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    created.result()["id"].as_i64().unwrap()
}

/// A user of the organisation `organization_id` (moved there by an admin).
pub(crate) async fn state_user(
    app: &TestApp,
    admin: &Session,
    name: &str,
    email: &str,
    organization_id: i64,
) -> Session {
    app.sign_up(name, email).await;
    let moved = app
        .post(
            "/user/v1/admin/addOrgAdmin",
            Some(&admin.access_token),
            json!({"identifier": email, "organization_id": organization_id}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    session(&app.login(email, PASSWORD).await)
}

pub(crate) fn uuid_of(session: &Session) -> String {
    session.user["uuid"].as_str().unwrap().to_string()
}

fn assert_private(reply: &Reply) {
    assert!(reply.body["id"].is_null(), "{}", reply.body);
    assert_eq!(reply.body["ver"], "private", "{}", reply.body);
    assert_eq!(reply.body["params"]["msgid"], "msg-1234", "{}", reply.body);
}

async fn a_self_signed_account_merges_into_an_organisations_account(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let state = state_organization(&app, &admin, "state").await;
    let source = app.sign_up("Sam Source", "sam@example.com").await;
    let target = state_user(&app, &admin, "Tia Target", "tia@example.com", state).await;
    let (from, to) = (uuid_of(&source), uuid_of(&target));

    let merged = merge_call(
        &app,
        MERGE,
        Some(key),
        Some(&target.access_token),
        Some(&source.access_token),
        merge_body(&from, &to),
    )
    .await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
    assert_private(&merged);
    assert_eq!(merged.body["params"]["status"], "success");
    assert_eq!(merged.body["responseCode"], "OK");
    assert_eq!(merged.result()["response"], "SUCCESS", "{}", merged.body);

    // The source is gone: its session revoked, its login refused, its read 404 …
    let old_session = app.get("/user/v1/user/read", Some(&source.access_token)).await;
    assert_eq!(old_session.status, StatusCode::UNAUTHORIZED, "{}", old_session.body);
    assert_eq!(app.login("sam@example.com", PASSWORD).await.status, StatusCode::BAD_REQUEST);
    let read =
        crate::sunbird::sb(&app, Method::GET, &format!("/api/user/v1/read/{from}"), Some(key), Some(key), None).await;
    assert_eq!(read.status, StatusCode::NOT_FOUND, "{}", read.body);
    // … and its email is free for anyone's sign-up.
    let again = app.sign_up("Sam Again", "sam@example.com").await;
    assert_ne!(uuid_of(&again), from);

    // The target keeps its profile, organisation and roles; it records the merge.
    let kept = app.get("/user/v1/user/read", Some(&target.access_token)).await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);
    assert_eq!(
        (kept.result()["name"].as_str(), kept.result()["organization_id"].as_i64()),
        (Some("Tia Target"), Some(state))
    );
    let state_now = app.get(&format!("/user/v1/audit/users/{to}/state?at=2100-01-01T00:00:00Z"), Some(key)).await;
    assert_eq!(state_now.result()["merged_from"], json!([from]), "{}", state_now.body);

    // Both events are Sunbird's, correlated by X-msgid, the target acting.
    let history = |user: String| {
        let app = &app;
        async move { app.get(&format!("/user/v1/audit/users/{user}/history"), Some(key)).await.result()["events"].clone() }
    };
    let source_events = history(from.clone()).await;
    let merged_into =
        source_events.as_array().unwrap().iter().find(|e| e["event_type"] == "AccountMergedInto").unwrap();
    assert_eq!(merged_into["metadata"]["dialect"], "sunbird", "{merged_into}");
    assert_eq!(merged_into["correlation"], "msg-1234");
    assert_eq!(merged_into["actor"], to.as_str());
    assert!(source_events.as_array().unwrap().iter().any(|e| e["event_type"] == "UserDeleted"), "{source_events}");
    let target_events = history(to.clone()).await;
    let recorded = target_events.as_array().unwrap().iter().find(|e| e["event_type"] == "AccountMerged").unwrap();
    assert_eq!(recorded["metadata"]["dialect"], "sunbird", "{recorded}");

    // The service form merges too.
    let second = app.sign_up("Sue Second", "sue@example.com").await;
    let by_service = merge_call(
        &app,
        "/private/user/v1/account/merge",
        Some(key),
        Some(&target.access_token),
        Some(&second.access_token),
        merge_body(&uuid_of(&second), &to),
    )
    .await;
    assert_eq!(by_service.status, StatusCode::OK, "{}", by_service.body);
    assert_private(&by_service);
}

async fn merge_refusals_and_credentials(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let state = state_organization(&app, &admin, "state").await;
    let source = app.sign_up("Sam Source", "sam@example.com").await;
    let bystander = app.sign_up("Bea Bystander", "bea@example.com").await;
    let target = state_user(&app, &admin, "Tia Target", "tia@example.com", state).await;
    let (from, to) = (uuid_of(&source), uuid_of(&target));
    let (s, t) = (source.access_token.as_str(), target.access_token.as_str());
    let body = merge_body(&from, &to);

    // Credentials: no key, a bad key, no user token, a bad source token.
    let no_key = merge_call(&app, MERGE, None, Some(t), Some(s), body.clone()).await;
    assert_error(&no_key, 401, "UOS_0070", "UNAUTHORIZED", Some("You are not authorized."));
    assert_private(&no_key);
    let bad_key = merge_call(&app, MERGE, Some("rk_nope"), Some(t), Some(s), body.clone()).await;
    assert_error(&bad_key, 401, "UOS_0070", "UNAUTHORIZED", None);
    let no_user = merge_call(&app, MERGE, Some(key), None, Some(s), body.clone()).await;
    assert_error(&no_user, 401, "UOS_0070", "UNAUTHORIZED", None);
    let no_source = merge_call(&app, MERGE, Some(key), Some(t), None, body.clone()).await;
    assert_error(
        &no_source,
        400,
        "UOS_USRMRG0061",
        "CLIENT_ERROR",
        Some("Mandatory header parameter x-source-user-token is missing."),
    );
    let bad_source = merge_call(&app, MERGE, Some(key), Some(t), Some("not-a-token"), body.clone()).await;
    assert_error(&bad_source, 401, "UOS_0070", "UNAUTHORIZED", None);
    // Tokens of other users than the accounts named: another user's account
    // as source, the target's token for someone else, the roles swapped.
    let wrong_source =
        merge_call(&app, MERGE, Some(key), Some(t), Some(bystander.access_token.as_str()), body.clone()).await;
    assert_error(&wrong_source, 401, "UOS_0070", "UNAUTHORIZED", None);
    let wrong_target =
        merge_call(&app, MERGE, Some(key), Some(bystander.access_token.as_str()), Some(s), body.clone()).await;
    assert_error(&wrong_target, 401, "UOS_0070", "UNAUTHORIZED", None);
    let unknown =
        merge_call(&app, MERGE, Some(key), Some(t), Some(s), merge_body(&uuid::Uuid::new_v4().to_string(), &to)).await;
    assert_error(&unknown, 401, "UOS_0070", "UNAUTHORIZED", None);
    let swapped = merge_call(&app, MERGE, Some(key), Some(s), Some(t), merge_body(&to, &from)).await;
    assert_error(
        &swapped,
        400,
        "UOS_USRMRG0045",
        "CLIENT_ERROR",
        Some("Mismatch of given parameters: merger and mergee rootOrgId."),
    );
    // Two self-signed accounts: the target is not an organisation's.
    let both_default = merge_call(
        &app,
        MERGE,
        Some(key),
        Some(bystander.access_token.as_str()),
        Some(s),
        merge_body(&from, &uuid_of(&bystander)),
    )
    .await;
    assert_error(&both_default, 400, "UOS_USRMRG0045", "CLIENT_ERROR", None);
    let itself = merge_call(&app, MERGE, Some(key), Some(t), Some(t), merge_body(&to, &to)).await;
    assert_error(&itself, 400, "UOS_USRMRG0045", "CLIENT_ERROR", None);

    // Bodies: a missing or blank id, an unknown field, no wrapper, a wrong method.
    let missing = merge_call(&app, MERGE, Some(key), Some(t), Some(s), json!({"request": {"toAccountId": to}})).await;
    assert_error(
        &missing,
        400,
        "UOS_USRMRG0030",
        "CLIENT_ERROR",
        Some("Mandatory parameter fromAccountId is missing."),
    );
    let blank = merge_call(&app, MERGE, Some(key), Some(t), Some(s), merge_body(&from, " ")).await;
    assert_error(&blank, 400, "UOS_USRMRG0030", "CLIENT_ERROR", Some("Mandatory parameter toAccountId is missing."));
    let extra = json!({"request": {"fromAccountId": from, "toAccountId": to, "shoeSize": 9}});
    let extra = merge_call(&app, MERGE, Some(key), Some(t), Some(s), extra).await;
    assert_error(&extra, 400, "UOS_USRMRG0021", "CLIENT_ERROR", Some("Invalid parameter shoeSize in request."));
    let unwrapped = merge_call(&app, MERGE, Some(key), Some(t), Some(s), json!({"fromAccountId": from})).await;
    assert_error(&unwrapped, 400, "UOS_USRMRG0028", "CLIENT_ERROR", None);
    let wrong_method = crate::sunbird::sb(&app, Method::POST, MERGE, Some(key), Some(t), Some(body.clone())).await;
    assert_error(&wrong_method, 405, "UOS_USRMRG0027", "CLIENT_ERROR", None);

    // Nothing of the refusals was stored: both still sign in, and the merge goes through.
    assert_eq!(app.login("sam@example.com", PASSWORD).await.status, StatusCode::OK);
    let merged = merge_call(&app, MERGE, Some(key), Some(t), Some(s), body.clone()).await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
    // Merged once: the source's token is dead, so a second merge is refused.
    let twice = merge_call(&app, MERGE, Some(key), Some(t), Some(s), body).await;
    assert_error(&twice, 401, "UOS_0070", "UNAUTHORIZED", None);
}

on_both_backends!(a_self_signed_account_merges_into_an_organisations_account, merge_refusals_and_credentials);
