//! Rate limits at the login, sign-up, refresh and OTP doors: per address and per
//! identity, answered 429 with Retry-After in the envelope, and recovered
//! once the quota refills.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

fn retry_after(reply: &reqwest::Response) -> u64 {
    reply.headers()["retry-after"].to_str().unwrap().parse().unwrap()
}

async fn post(app: &TestApp, path: &str, body: serde_json::Value) -> reqwest::Response {
    app.client.post(app.url(path)).json(&body).send().await.unwrap()
}

/// Per identity: the sixth login for one email within the minute is refused
/// whatever the password, while another email from the same address goes
/// through; after the wait it is let in again.
async fn logins_for_one_identity_are_limited_and_recover(backend: Backend) {
    let app = spawn_app_with(fresh_database(backend).await, |s| {
        // Five a minute: one more every 12 s, soon enough to see it recover.
        s.rate_limits.enabled = true;
        s.rate_limits.login_per_identity_per_minute = 5;
    })
    .await;
    app.sign_up("Rate Limited", "limited@example.com").await;
    app.sign_up("Not Limited", "free@example.com").await;
    for _ in 0..5 {
        let login = app.login("limited@example.com", PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    }
    let refused =
        post(&app, "/user/v1/account/login", json!({"email": " LIMITED@example.com", "password": PASSWORD})).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&refused);
    assert!((1..=12).contains(&wait), "Retry-After {wait}");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["responseCode"], "CLIENT_ERROR", "{body}");
    assert_eq!(body["message"], "Too many requests; retry after the seconds in Retry-After");
    assert!(body["meta"]["correlation"].is_string());
    // The admin door shares the identity's quota.
    let admin_door =
        post(&app, "/user/v1/admin/login", json!({"email": "limited@example.com", "password": PASSWORD})).await;
    assert_eq!(admin_door.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.login("free@example.com", PASSWORD).await.status, StatusCode::OK);
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("roster_rate_limited_total{door=\"login\",by=\"identity\"}"), "{metrics}");
    // Recovered once one more request's worth has refilled.
    let deadline = Instant::now() + Duration::from_secs(20);
    tokio::time::sleep(Duration::from_secs(wait)).await;
    loop {
        let again = app.login("limited@example.com", PASSWORD).await;
        if again.status == StatusCode::OK {
            break;
        }
        assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS, "{}", again.body);
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Per address: sign-ups and refreshes from one address beyond their quota
/// are refused, each door on its own, and each lets requests in again once
/// its quota refills.
async fn sign_ups_and_refreshes_from_one_address_are_limited(backend: Backend) {
    // Six a minute: one more every 10 s, soon enough to see each recover.
    let app = spawn_app_with(fresh_database(backend).await, |s| {
        s.rate_limits.enabled = true;
        s.rate_limits.sign_up_per_address_per_minute = 6;
        s.rate_limits.refresh_per_address_per_minute = 6;
    })
    .await;
    let first = app.sign_up("First Door", "door1@example.com").await;
    for i in 2..=6 {
        app.sign_up("Next Door", &format!("door{i}@example.com")).await;
    }
    let seventh = post(
        &app,
        "/user/v1/account/create",
        json!({"name": "Seventh", "email": "door7@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(seventh.status(), StatusCode::TOO_MANY_REQUESTS);
    let sign_up_wait = retry_after(&seventh);
    assert!((1..=10).contains(&sign_up_wait), "Retry-After {sign_up_wait}");
    // Nothing of the refused sign-up was stored: the email is free.
    assert_eq!(app.login("door7@example.com", PASSWORD).await.status, StatusCode::BAD_REQUEST);
    let mut refresh = first.refresh_token.clone();
    for _ in 0..6 {
        let refreshed = app.post("/user/v1/account/generateToken", None, json!({"refresh_token": refresh})).await;
        assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
        refresh = refreshed.result()["refresh_token"].as_str().unwrap().to_string();
    }
    let refused = post(&app, "/user/v1/account/generateToken", json!({"refresh_token": refresh})).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let refresh_wait = retry_after(&refused);
    // Logins are another door, with their own quota.
    assert_eq!(app.login("door1@example.com", PASSWORD).await.status, StatusCode::OK);
    // Both recover: the refused refresh token was not spent, the email is free.
    let deadline = Instant::now() + Duration::from_secs(30);
    tokio::time::sleep(Duration::from_secs(sign_up_wait.max(refresh_wait))).await;
    loop {
        let again = post(
            &app,
            "/user/v1/account/create",
            json!({"name": "Seventh", "email": "door7@example.com", "password": PASSWORD}),
        )
        .await;
        if again.status() == StatusCode::OK {
            break;
        }
        assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(Instant::now() < deadline, "sign-ups never recovered");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    loop {
        let again = app.post("/user/v1/account/generateToken", None, json!({"refresh_token": refresh})).await;
        if again.status == StatusCode::OK {
            break;
        }
        assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS, "{}", again.body);
        assert!(Instant::now() < deadline, "refreshes never recovered");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The OTP doors (asking for codes, spending them, changing a password):
/// per identity across the routes, and per address, each recovering.
async fn otp_routes_are_limited_per_identity_and_address(backend: Backend) {
    let app = spawn_app_with(fresh_database(backend).await, |s| {
        s.rate_limits.enabled = true;
        s.rate_limits.otp_per_identity_per_minute = 3;
        s.rate_limits.otp_per_address_per_minute = 6;
        // The OTP's own resend limit stays out of the way.
        s.otp.resend_limit = 100;
    })
    .await;
    app.sign_up("Otp Door", "otpdoor@example.com").await;
    for path in ["/user/v1/account/generateOtp", "/user/v1/account/registrationOtp"] {
        let reply = app.post(path, None, json!({"email": "otpdoor@example.com"})).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
    }
    let wrong = app
        .post(
            "/user/v1/account/resetPassword",
            None,
            json!({"email": "otpdoor@example.com", "password": PASSWORD, "otp": "000000"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.body);
    // The fourth request naming the identity, on any OTP route, waits.
    let refused = post(&app, "/user/v1/account/generateOtp", json!({"email": "OTPDOOR@example.com"})).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&refused);
    assert!((1..=20).contains(&wait), "Retry-After {wait}");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["message"], "Too many requests; retry after the seconds in Retry-After");
    // Other identities from the address pass until the address's quota is
    // spent (the refused request counted against the address too).
    for i in 0..2 {
        let other =
            app.post("/user/v1/account/generateOtp", None, json!({"email": format!("other{i}@example.com")})).await;
        assert_eq!(other.status, StatusCode::OK, "{}", other.body);
    }
    let by_address = post(&app, "/user/v1/account/generateOtp", json!({"email": "fresh@example.com"})).await;
    assert_eq!(by_address.status(), StatusCode::TOO_MANY_REQUESTS);
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("roster_rate_limited_total{door=\"otp\",by=\"identity\"}"), "{metrics}");
    assert!(metrics.contains("roster_rate_limited_total{door=\"otp\",by=\"address\"}"), "{metrics}");
    // Recovered: the address's quota refills one every 10 s.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let again = app.post("/user/v1/account/generateOtp", None, json!({"email": "fresh@example.com"})).await;
        if again.status == StatusCode::OK {
            break;
        }
        assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS, "{}", again.body);
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

on_both_backends!(
    logins_for_one_identity_are_limited_and_recover,
    sign_ups_and_refreshes_from_one_address_are_limited,
    otp_routes_are_limited_per_identity_and_address
);
