use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

async fn sign_up_login_read_update_refresh_logout(backend: Backend) {
    let app = spawn_app(backend).await;
    let signed_up = app.sign_up("Asha Rao", "Asha.Rao@Example.com").await;
    assert_eq!(signed_up.user["email"], "asha.rao@example.com");
    assert_eq!(signed_up.user["user_roles"][0]["title"], "mentee");
    assert_eq!(signed_up.user["organization"]["code"], "default");

    let login = app.login("ASHA.RAO@example.com", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.body["responseCode"], "OK");
    assert_eq!(login.body["message"], "User logged in successfully.");
    let s = session(&login);
    assert!(s.user["last_logged_in_at"].is_string());

    // Also by {identifier, password}.
    let by_identifier = app
        .post("/user/v1/account/login", None, json!({"identifier": "asha.rao@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(by_identifier.status, StatusCode::OK);

    let me = app.get("/user/v1/user/read", Some(&s.access_token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.result()["name"], "Asha Rao");
    let id = me.result()["id"].as_i64().unwrap();
    let by_id = app.get(&format!("/user/v1/user/read/{id}"), Some(&s.access_token)).await;
    assert_eq!(by_id.result()["email"], "asha.rao@example.com");
    let uuid = me.result()["uuid"].as_str().unwrap().to_string();
    let by_uuid = app.get(&format!("/user/v1/user/read/{uuid}"), Some(&s.access_token)).await;
    assert_eq!(by_uuid.result()["id"], id);

    let updated = app
        .patch(
            "/user/v1/user/update",
            Some(&s.access_token),
            Some(json!({"name": "Asha R", "about": "Teacher", "location": [{"value": "ka", "label": "Karnataka"}], "gender": "female"})),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.result()["name"], "Asha R");
    assert_eq!(updated.result()["about"], "Teacher");
    assert_eq!(updated.result()["location"][0]["value"], "ka");

    let lang = app
        .patch("/user/v1/user/setLanguagePreference", Some(&s.access_token), Some(json!({"preferred_language": "hi"})))
        .await;
    assert_eq!(lang.result()["preferred_language"], "hi");
    let terms = app.patch("/user/v1/account/acceptTermsAndCondition", Some(&s.access_token), None).await;
    assert_eq!(terms.status, StatusCode::OK);
    let me = app.get("/user/v1/user/read", Some(&s.access_token)).await;
    assert_eq!(me.result()["has_accepted_terms_and_conditions"], true);

    // Refresh rotates: the new pair works.
    let refreshed = app.post("/user/v1/account/generateToken", None, json!({"refresh_token": s.refresh_token})).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let access2 = refreshed.result()["access_token"].as_str().unwrap().to_string();
    let refresh2 = refreshed.result()["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh2, s.refresh_token);
    assert_eq!(app.get("/user/v1/user/read", Some(&access2)).await.status, StatusCode::OK);

    // Logout: every token of that session is dead at once.
    let logout = app.post("/user/v1/account/logout", Some(&access2), json!({"refresh_token": refresh2})).await;
    assert_eq!(logout.status, StatusCode::OK, "{}", logout.body);
    for token in [&s.access_token, &access2] {
        app.get("/user/v1/user/read", Some(token)).await.assert_error_envelope(401);
    }
    app.post("/user/v1/account/generateToken", None, json!({"refresh_token": refresh2}))
        .await
        .assert_error_envelope(401);

    // The sign-up session is separate and still alive.
    assert_eq!(app.get("/user/v1/user/read", Some(&signed_up.access_token)).await.status, StatusCode::OK);
}

async fn reused_refresh_token_revokes_the_family(backend: Backend) {
    let app = spawn_app(backend).await;
    app.sign_up("Ravi", "ravi@example.com").await;
    let s = session(&app.login("ravi@example.com", PASSWORD).await);
    let first = app.post("/user/v1/account/generateToken", None, json!({"refresh_token": s.refresh_token})).await;
    assert_eq!(first.status, StatusCode::OK);
    let new_access = first.result()["access_token"].as_str().unwrap().to_string();
    let new_refresh = first.result()["refresh_token"].as_str().unwrap().to_string();

    // An attacker replays the spent token: refused, and the whole family dies.
    app.post("/user/v1/account/generateToken", None, json!({"refresh_token": s.refresh_token}))
        .await
        .assert_error_envelope(401);
    app.post("/user/v1/account/generateToken", None, json!({"refresh_token": new_refresh}))
        .await
        .assert_error_envelope(401);
    app.get("/user/v1/user/read", Some(&new_access)).await.assert_error_envelope(401);
    app.get("/user/v1/user/read", Some(&s.access_token)).await.assert_error_envelope(401);
}

async fn list_and_search_see_writes_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.sign_up("Zara Khan", "zara@example.com").await;
    app.sign_up("Bilal Shah", "bilal@sample.org").await;
    app.sign_up("Chitra Iyer", "chitra@example.com").await;

    // Substring, case-insensitive, on name or email (the email only of
    // users whose contact data the caller may see: an admin here).
    let found = app.get("/user/v1/account/list?userType=mentee&search=KHA", Some(&s.access_token)).await;
    assert_eq!(listed_names(&found), vec!["Zara Khan"]);
    let admin = app.admin_session().await;
    let by_email = app.get("/user/v1/account/list?search=sample.org", Some(&admin.access_token)).await;
    assert_eq!(listed_names(&by_email), vec!["Bilal Shah"]);
    let by_email = app.get("/user/v1/account/list?search=sample.org", Some(&s.access_token)).await;
    assert!(listed_names(&by_email).is_empty(), "Bilal's email is not Zara's to search");
    let all = app.get("/user/v1/account/list?userType=mentee&page=1&limit=2", Some(&s.access_token)).await;
    assert_eq!(all.result()["count"], 3);
    assert_eq!(listed_names(&all), vec!["Bilal Shah", "Chitra Iyer"]);
    let page2 = app.get("/user/v1/account/list?userType=mentee&page=2&limit=2", Some(&s.access_token)).await;
    assert_eq!(listed_names(&page2), vec!["Zara Khan"]);
    let mentors = app.get("/user/v1/account/list?userType=mentor", Some(&s.access_token)).await;
    assert_eq!(mentors.result()["count"], 0);
    // LIKE wildcards in the search are literal.
    let wildcard = app.get("/user/v1/account/list?search=%25", Some(&s.access_token)).await;
    assert_eq!(wildcard.result()["count"], 0);

    // Read-your-writes: a rename shows in the very next search.
    app.patch("/user/v1/user/update", Some(&s.access_token), Some(json!({"name": "Yasmin Khan"}))).await;
    let renamed = app.get("/user/v1/account/list?search=yasmin", Some(&s.access_token)).await;
    assert_eq!(listed_names(&renamed), vec!["Yasmin Khan"]);
    let old_name = app.get("/user/v1/account/list?search=zara%20khan", Some(&s.access_token)).await;
    assert_eq!(old_name.result()["count"], 0, "the old name is no longer found");
    let by_email = app.get("/user/v1/account/list?search=zara@exa", Some(&s.access_token)).await;
    assert_eq!(listed_names(&by_email), vec!["Yasmin Khan"], "the email still is");

    // account/search: include by id and email, exclude by id.
    let me = app.get("/user/v1/user/read", Some(&s.access_token)).await;
    let my_id = me.result()["id"].as_i64().unwrap();
    // Emails pick only users whose contact data the caller may see.
    let pick = json!({"user_ids": [my_id.to_string()], "email_ids": ["CHITRA@example.com"], "excluded_user_ids": []});
    let picked = app.post("/user/v1/account/search?type=all", Some(&admin.access_token), pick.clone()).await;
    assert_eq!(picked.status, StatusCode::OK, "{}", picked.body);
    assert_eq!(listed_names(&picked), vec!["Chitra Iyer", "Yasmin Khan"]);
    let picked = app.post("/user/v1/account/search?type=all", Some(&s.access_token), pick).await;
    assert_eq!(listed_names(&picked), vec!["Yasmin Khan"], "Chitra's email is not hers to look up");
    let excluded = app
        .post("/user/v1/account/search?type=mentee", Some(&s.access_token), json!({"excluded_user_ids": [my_id]}))
        .await;
    assert_eq!(listed_names(&excluded), vec!["Bilal Shah", "Chitra Iyer"]);

    // Lists need a token.
    app.get("/user/v1/account/list", None).await.assert_error_envelope(401);
}

async fn admin_creation_needs_the_secret_and_admin_login_needs_the_role(backend: Backend) {
    let app = spawn_app(backend).await;
    let refused = app
        .post(
            "/user/v1/admin/create",
            None,
            json!({"name": "Root", "email": "root@example.com", "password": PASSWORD, "secret_code": "guess"}),
        )
        .await;
    refused.assert_error_envelope(401);
    // Created with the right secret, then logged in through admin/login.
    let admin = app.admin_session().await;
    assert_eq!(admin.user["user_roles"][0]["title"], "admin");

    app.sign_up("Plain", "plain@example.com").await;
    let not_admin =
        app.post("/user/v1/admin/login", None, json!({"email": "plain@example.com", "password": PASSWORD})).await;
    not_admin.assert_error_envelope(400);
    let wrong = app.login("nobody@example.com", PASSWORD).await;
    assert_eq!(not_admin.body["message"], wrong.body["message"]);
}

async fn admin_creation_is_refused_without_a_configured_secret(backend: Backend) {
    let database = fresh_database(backend).await;
    let app = spawn_app_with(database, |s| s.admin_secret_code = None).await;
    let reply = app
        .post(
            "/user/v1/admin/create",
            None,
            json!({"name": "Root", "email": "root@example.com", "password": PASSWORD, "secret_code": ""}),
        )
        .await;
    reply.assert_error_envelope(401);
}

async fn repeated_failures_lock_the_account(backend: Backend) {
    let app = spawn_app(backend).await;
    app.sign_up("Lock Me", "lock@example.com").await;
    for _ in 0..3 {
        app.login("lock@example.com", "Wr0ng!pass").await.assert_error_envelope(400);
    }
    // Locked: even the right password is refused, with the same message.
    let locked = app.login("lock@example.com", PASSWORD).await;
    locked.assert_error_envelope(400);
    assert_eq!(locked.body["message"], "Email id or password is invalid");
}

on_both_backends!(
    sign_up_login_read_update_refresh_logout,
    reused_refresh_token_revokes_the_family,
    list_and_search_see_writes_at_once,
    admin_creation_needs_the_secret_and_admin_login_needs_the_role,
    admin_creation_is_refused_without_a_configured_secret,
    repeated_failures_lock_the_account,
    deactivation_and_deletion_revoke_tokens_at_once,
    a_refresh_for_a_user_no_longer_active_is_refused_and_ends_the_session,
);

/// The refresh reads the profile in the same step as its rotation; a user
/// made inactive without its sessions being revoked (a write by a command
/// alone) must not use its access token nor get new tokens, and the session
/// ends.
async fn a_refresh_for_a_user_no_longer_active_is_refused_and_ends_the_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.sign_up("Quietly Gone", "quietly@example.com").await;
    let uuid = s.user["uuid"].as_str().unwrap().to_string();
    let at = chrono::Utc::now();
    let meta = roster::commands::Metadata::system("test");
    let committed = app
        .state
        .bus
        .execute::<aggregates::User>(&uuid, aggregates::UserCommand::Deactivate { at }, &meta)
        .await
        .unwrap();
    app.state.settle(committed).await.unwrap();

    // Its access token stops at once, though no session was revoked (a crash
    // between the deactivation's commit and the revocation leaves this state).
    app.get("/user/v1/user/read", Some(&s.access_token)).await.assert_error_envelope(401);
    app.post("/user/v1/account/generateToken", None, json!({"refresh_token": s.refresh_token}))
        .await
        .assert_error_envelope(401);
    // The session is over: the access token no longer works either.
    app.get("/user/v1/user/read", Some(&s.access_token)).await.assert_error_envelope(401);
}

/// Deactivation and deletion have no ELEVATE route in this slice (the admin
/// routes come with organisations); the use cases are driven directly.
async fn deactivation_and_deletion_revoke_tokens_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let meta = roster::commands::Metadata::system("test");
    let s = app.sign_up("Gone Soon", "gone@example.com").await;
    let uuid = s.user["uuid"].as_str().unwrap().to_string();
    let other = app.sign_up("Stays", "stays@example.com").await;

    app.state.deactivate(&uuid, &meta).await.unwrap();
    app.get("/user/v1/user/read", Some(&s.access_token)).await.assert_error_envelope(401);
    app.post("/user/v1/account/generateToken", None, json!({"refresh_token": s.refresh_token}))
        .await
        .assert_error_envelope(401);
    app.login("gone@example.com", PASSWORD).await.assert_error_envelope(400);
    let listed = app.get("/user/v1/account/list?search=gone", Some(&other.access_token)).await;
    assert_eq!(listed.result()["count"], 0);

    app.state.delete_user(&uuid, &meta).await.unwrap();
    let read = app.get(&format!("/user/v1/user/read/{uuid}"), Some(&other.access_token)).await;
    read.assert_error_envelope(404);
    // The email is free again, for a new account.
    let again = app.sign_up("New Owner", "GONE@example.com").await;
    assert_ne!(again.user["uuid"], json!(uuid));
    // Nothing personal remains in the read model for the erased user.
    let leftovers: i64 = roster::on_pool!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT count(*) FROM users WHERE user_uuid = $1 AND (email IS NOT NULL OR name IS NOT NULL OR search_text <> '')")
            .bind(&uuid)
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert_eq!(leftovers, 0);
}
