//! Each dialect answers in its own envelope, its unknown paths included;
//! routes outside any dialect answer errors in a small neutral JSON body.

use reqwest::{Method, StatusCode};

use crate::helpers::*;
use crate::on_both_backends;

async fn unknown_paths_are_answered_by_the_dialect_of_their_prefix(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/user/v1/no/such/route", "/user/v1/", "/user/v1"] {
        let elevate = app.get(path, None).await;
        elevate.assert_error_envelope(404);
        assert_eq!(elevate.body["message"], "Route not found", "{path}");
    }

    for path in ["/no/such/route", "/api/other/v1/read", "/user/v2/account/login", "/user/v1x"] {
        let neutral = app.get(path, None).await;
        assert_eq!(neutral.status, StatusCode::NOT_FOUND, "{path}: {}", neutral.body);
        assert_eq!(neutral.body["error"], "not_found", "{path}: {}", neutral.body);
        assert!(neutral.body["message"].is_string(), "{path}: {}", neutral.body);
        assert!(neutral.body.get("responseCode").is_none(), "{path}: no ELEVATE envelope: {}", neutral.body);
    }
    // Sunbird's prefixes are Sunbird's, unknown paths included.
    for path in ["/api/user/v1/read", "/v1/user/no/such/route"] {
        let sunbird = app.get(path, None).await;
        assert_eq!(sunbird.status, StatusCode::NOT_FOUND, "{path}: {}", sunbird.body);
        assert_eq!(sunbird.body["responseCode"], "RESOURCE_NOT_FOUND", "{path}: {}", sunbird.body);
        assert_eq!(sunbird.body["params"]["status"], "failed", "{path}: {}", sunbird.body);
    }
    let wrong_method = app.call(Method::POST, "/health", None, None).await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.body["error"], "method_not_allowed", "{}", wrong_method.body);
}

async fn neutral_routes_keep_their_own_bodies(backend: Backend) {
    let app = spawn_app(backend).await;
    let health = app.get("/health", None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert!(health.body.get("responseCode").is_none(), "{}", health.body);
    let jwks = app.get("/.well-known/jwks.json", None).await;
    assert!(jwks.body.get("responseCode").is_none(), "{}", jwks.body);
    // The shared text check refuses neutrally outside a dialect…
    let nul = app.get("/health?probe=%00", None).await;
    assert_eq!(nul.status, StatusCode::BAD_REQUEST, "{}", nul.body);
    assert_eq!(nul.body["error"], "invalid.unstorable", "{}", nul.body);
    // …and in the ELEVATE envelope inside it, naming the path parameter.
    let elevate = app.get("/user/v1/user/read/a%00b", None).await;
    elevate.assert_error_envelope(400);
    assert_eq!(elevate.body["error"][0]["param"], "id", "{}", elevate.body);
    assert_eq!(elevate.body["message"], "id contains a NUL character, which cannot be stored");
}

on_both_backends!(unknown_paths_are_answered_by_the_dialect_of_their_prefix, neutral_routes_keep_their_own_bodies);
