//! Security headers on every response, CORS only for the origins an
//! operator allows, HSTS when configured, and a whole-request timeout
//! answered in the envelope.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

async fn every_response_carries_the_security_headers_and_no_cors_by_default(backend: Backend) {
    let app = spawn_app(backend).await;
    let signed_up = app
        .client
        .post(app.url("/user/v1/account/create"))
        .header("origin", "https://evil.example")
        .json(&json!({"name": "Head Ers", "email": "headers@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let missing = app.client.get(app.url("/user/v1/no/such/route")).send().await.unwrap();
    for response in [&signed_up, &missing] {
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert_eq!(headers["cache-control"], "no-store", "token responses must not be cached");
        assert!(headers.get("strict-transport-security").is_none(), "HSTS only when configured");
        assert!(headers.get("access-control-allow-origin").is_none(), "no CORS unless configured");
    }
    assert_eq!(signed_up.status(), StatusCode::OK);
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/user/v1/account/login"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(preflight.headers().get("access-control-allow-origin").is_none());
}

async fn allowed_origins_get_cors_and_hsts_is_sent_when_configured(backend: Backend) {
    let app = spawn_app_with(fresh_database(backend).await, |s| {
        s.hardening.cors_allowed_origins = vec!["https://app.example.org".into()];
        s.hardening.hsts_max_age_seconds = Some(31_536_000);
    })
    .await;
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/user/v1/account/login"))
        .header("origin", "https://app.example.org")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type, x-auth-token")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let headers = preflight.headers();
    assert_eq!(headers["access-control-allow-origin"], "https://app.example.org");
    let allowed = headers["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
    assert!(allowed.contains("x-auth-token") && allowed.contains("content-type"), "{allowed}");
    // An error answer carries them too, so a browser can read the envelope.
    let refused = app
        .client
        .post(app.url("/user/v1/account/login"))
        .header("origin", "https://app.example.org")
        .json(&json!({"email": "nobody@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(refused.headers()["access-control-allow-origin"], "https://app.example.org");
    assert_eq!(refused.headers()["strict-transport-security"], "max-age=31536000; includeSubDomains");
    // Another origin is not allowed.
    let other =
        app.client.get(app.url("/user/v1/account/list")).header("origin", "https://evil.example").send().await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

/// A login hashes a password (tens of milliseconds): with a 1 ms limit it
/// is cut off and answered 503 in the envelope.
async fn a_request_past_the_timeout_is_answered_in_the_envelope(backend: Backend) {
    let app = spawn_app_with(fresh_database(backend).await, |s| s.hardening.request_timeout_ms = 1).await;
    let reply = app.login("nobody@example.com", PASSWORD).await;
    reply.assert_error_envelope(503);
    assert_eq!(reply.body["message"], "The request took too long; retry it");
}

/// A client that writes its whole 2 MiB body before reading (as Python's
/// urllib does) reads the 413 in the envelope, not a broken pipe or reset.
async fn a_write_first_client_reads_the_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let addr = app.addr;
    let (head, body) = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let body = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_write_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
        stream.set_read_timeout(Some(std::time::Duration::from_secs(20))).unwrap();
        let request = format!(
            "POST /user/v1/account/create HTTP/1.1\r\nHost: roster\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        // In pieces, as a real client over a real link: the server answers
        // (and would close) long before the last piece is written.
        for piece in body.as_bytes().chunks(64 * 1024) {
            stream.write_all(piece).expect("the whole body is taken, not refused mid-way");
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("the answer arrives before the connection closes");
        let answer = String::from_utf8(answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        (head.to_string(), body.to_string())
    })
    .await
    .unwrap();
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    let envelope: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(envelope["responseCode"], "CLIENT_ERROR", "{envelope}");
    assert_eq!(envelope["message"], "Request body is larger than 1048576 bytes");
}

/// Lists are gzipped for a client that asks; small answers and clients
/// that do not ask get plain JSON.
async fn large_answers_are_gzipped_for_clients_that_ask(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    for i in 0..30 {
        app.sign_up(&format!("Gzip User {i}"), &format!("gzip{i}@example.com")).await;
    }
    let get = |path: &'static str, gzip: bool| {
        let mut request =
            app.client.get(app.url(path)).header("X-auth-token", format!("bearer {}", admin.access_token));
        if gzip {
            request = request.header("accept-encoding", "gzip");
        }
        request.send()
    };
    let list = get("/user/v1/account/list?limit=50", true).await.unwrap();
    assert_eq!(list.status(), StatusCode::OK);
    assert_eq!(list.headers()["content-encoding"], "gzip");
    let compressed = list.bytes().await.unwrap();
    let mut plain = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&compressed[..]), &mut plain).unwrap();
    let body: serde_json::Value = serde_json::from_str(&plain).unwrap();
    assert_eq!(body["result"]["count"], 31, "{body}");
    assert!(compressed.len() * 2 < plain.len(), "{} of {}", compressed.len(), plain.len());
    let unasked = get("/user/v1/account/list?limit=50", false).await.unwrap();
    assert!(unasked.headers().get("content-encoding").is_none());
    let small = get("/user/v1/user/read", true).await.unwrap();
    assert!(small.headers().get("content-encoding").is_none(), "a profile is too small to gain");
}

on_both_backends!(
    large_answers_are_gzipped_for_clients_that_ask,
    a_write_first_client_reads_the_413,
    every_response_carries_the_security_headers_and_no_cors_by_default,
    allowed_origins_get_cors_and_hsts_is_sent_when_configured,
    a_request_past_the_timeout_is_answered_in_the_envelope
);

#[test]
fn an_origin_that_is_not_one_is_refused_at_start() {
    // Settings::from_env reads the process environment; the parsing rule is
    // the same one, exercised through a child process.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .arg("migrate")
        .env("DATABASE_URL", "sqlite::memory:")
        .env("CORS_ALLOWED_ORIGINS", "https://ok.example, not an origin")
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("CORS_ALLOWED_ORIGINS") && stderr.contains("not an origin"), "{stderr}");
}
