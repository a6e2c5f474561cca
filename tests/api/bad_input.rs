use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

async fn malformed_bodies_get_4xx_in_the_envelope(backend: Backend) {
    let app = spawn_app(backend).await;
    let create = "/user/v1/account/create";
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("malformed JSON", b"{\"name\": \"x\",".to_vec(), 400),
        ("not an object", b"[1, 2, 3]".to_vec(), 400),
        ("missing fields", br#"{"name": "x"}"#.to_vec(), 400),
        ("wrong types", br#"{"name": 5, "email": true, "password": []}"#.to_vec(), 400),
        ("null body", b"null".to_vec(), 400),
    ];
    for (what, body, status) in cases {
        let reply = app.raw(Method::POST, create, "application/json", body).await;
        assert_eq!(reply.status.as_u16(), status, "{what}: {}", reply.body);
        reply.assert_error_envelope(status);
    }
    // A missing field is named (README, "Input rules"), not reported as `body`.
    let missing = app.post(create, None, json!({"name": "x"})).await;
    assert_eq!(missing.body["error"][0]["param"], "email", "{}", missing.body);
    let admin = app.admin_session().await;
    let no_id = app.post("/user/v1/rolePermissionMapping/create/2", Some(&admin.access_token), json!({})).await;
    assert_eq!(no_id.body["error"][0]["param"], "permission_id", "{}", no_id.body);
    let wrong_type = app.raw(Method::POST, create, "text/plain", b"{}".to_vec()).await;
    wrong_type.assert_error_envelope(415);

    // 2 MiB body: refused before it is read, in the envelope.
    let huge = format!("{{\"name\": \"{}\", \"email\": \"a@b.co\", \"password\": \"x\"}}", "x".repeat(2 * 1024 * 1024));
    let reply = oversized_post(&app, create, huge.into_bytes()).await;
    reply.assert_error_envelope(413);
    // The same without a length (chunked): refused as it passes the limit, also 413.
    let chunked = chunked_post(&app, create, 2 * 1024 * 1024).await;
    chunked.assert_error_envelope(413);

    // Validation: bad email, weak password, empty name.
    let invalid = app.post(create, None, json!({"name": " ", "email": "not-an-email", "password": "weak"})).await;
    invalid.assert_error_envelope(400);
    let params: Vec<&str> =
        invalid.body["error"].as_array().unwrap().iter().map(|e| e["param"].as_str().unwrap()).collect();
    assert_eq!(params, vec!["name", "email", "password"]);

    // Unknown route and method.
    app.get("/user/v1/nothing/here", None).await.assert_error_envelope(404);
    app.get("/user/v1/account/create", None).await.assert_error_envelope(405);

    // Protected fields cannot be changed through user/update.
    let s = app.sign_up("Safe", "safe@example.com").await;
    let sneaky =
        app.patch("/user/v1/user/update", Some(&s.access_token), Some(json!({"email": "other@example.com"}))).await;
    sneaky.assert_error_envelope(400);
    let empty = app.patch("/user/v1/user/update", Some(&s.access_token), Some(json!({}))).await;
    empty.assert_error_envelope(400);
    let bad_page = app.get("/user/v1/account/list?page=abc", Some(&s.access_token)).await;
    bad_page.assert_error_envelope(400);
    let missing = app.get("/user/v1/user/read/999999", Some(&s.access_token)).await;
    missing.assert_error_envelope(404);
    let garbage_id = app.get("/user/v1/user/read/not-an-id", Some(&s.access_token)).await;
    garbage_id.assert_error_envelope(404);

    // Nothing stored was harmed: the user still reads back intact.
    let me = app.get("/user/v1/user/read", Some(&s.access_token)).await;
    assert_eq!(me.result()["email"], "safe@example.com");
}

async fn wrong_password_and_unknown_user_look_the_same(backend: Backend) {
    let app = spawn_app(backend).await;
    app.sign_up("Known", "known@example.com").await;
    let wrong = app.login("known@example.com", "Wr0ng!pass").await;
    let unknown = app.login("unknown@example.com", "Wr0ng!pass").await;
    wrong.assert_error_envelope(400);
    unknown.assert_error_envelope(400);
    assert_eq!(wrong.body["message"], unknown.body["message"]);
    assert_eq!(wrong.body["error"], unknown.body["error"]);
    let duplicate = app
        .post(
            "/user/v1/account/create",
            None,
            json!({"name": "Again", "email": "KNOWN@example.com", "password": PASSWORD}),
        )
        .await;
    duplicate.assert_error_envelope(400);
    assert_eq!(duplicate.body["message"], "User already exists");
}

/// Sends a body the server refuses before reading it. The server answers and
/// closes while the client may still be writing, so this writes over a raw
/// socket, ignores a broken pipe, and reads the answer that arrived.
async fn oversized_post(app: &TestApp, path: &str, body: Vec<u8>) -> Reply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        app.addr,
        body.len()
    );
    let write = tokio::spawn(async move {
        let _ = writer.write_all(head.as_bytes()).await;
        let _ = writer.write_all(&body).await;
    });
    let mut raw = Vec::new();
    let _ = reader.read_to_end(&mut raw).await;
    let _ = write.await;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    Reply {
        status: reqwest::StatusCode::from_u16(status).unwrap(),
        body: serde_json::from_str(body).expect("a JSON body"),
    }
}

/// A POST whose body (`size` bytes of a JSON string) comes chunked, with no
/// `Content-Length`, over a raw socket.
async fn chunked_post(app: &TestApp, path: &str, size: usize) -> Reply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        app.addr
    );
    let write = tokio::spawn(async move {
        let _ = writer.write_all(head.as_bytes()).await;
        let mut body = b"{\"name\": \"".to_vec();
        body.extend(std::iter::repeat_n(b'x', size));
        body.extend_from_slice(b"\"}");
        for chunk in body.chunks(64 * 1024) {
            if writer.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await.is_err()
                || writer.write_all(chunk).await.is_err()
                || writer.write_all(b"\r\n").await.is_err()
            {
                return;
            }
        }
        let _ = writer.write_all(b"0\r\n\r\n").await;
    });
    let mut raw = Vec::new();
    let _ = reader.read_to_end(&mut raw).await;
    let _ = write.await;
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    Reply {
        status: reqwest::StatusCode::from_u16(status).unwrap(),
        body: serde_json::from_str(body).expect("a JSON body"),
    }
}

fn b64(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

async fn forged_expired_and_unsigned_tokens_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let s = app.sign_up("Tok", "tok@example.com").await;
    let parts: Vec<&str> = s.access_token.split('.').collect();
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();

    // alg: none with the real claims.
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), parts[1]);
    // Claims changed (admin role added) under the old signature.
    let mut elevated = claims.clone();
    elevated["data"]["roles"] = json!([{"id": 4, "title": "admin", "user_type": 1, "status": "ACTIVE"}]);
    let forged = format!("{}.{}.{}", parts[0], b64(&elevated), parts[2]);
    // HS256 signed with a guessed secret.
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"guess"),
    )
    .unwrap();
    // A correctly signed but expired token cannot be minted here without the key, so expire via the service itself.
    let now = chrono::Utc::now().timestamp();
    let data: roster::auth::tokens::TokenData = serde_json::from_value(claims["data"].clone()).unwrap();
    let expired =
        app.state.tokens.issue("access", data.clone(), "x".into(), now - 2 * app.state.tokens.access_ttl).unwrap();
    // A refresh token is not an access token.
    let refresh_as_access = s.refresh_token.clone();

    for (what, token) in [
        ("none", none),
        ("forged", forged),
        ("hs256", hs),
        ("expired", expired),
        ("refresh", refresh_as_access),
        ("junk", "abc.def".into()),
    ] {
        let reply = app.get("/user/v1/user/read", Some(&token)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{what}: {}", reply.body);
        reply.assert_error_envelope(401);
    }
    // The access token must not pass as a refresh token either.
    app.post("/user/v1/account/generateToken", None, json!({"refresh_token": s.access_token}))
        .await
        .assert_error_envelope(401);
    // Scheme is case-insensitive; a missing header is 401.
    let reply = app
        .client
        .get(app.url("/user/v1/user/read"))
        .header("X-auth-token", format!("BEARER {}", s.access_token))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    app.get("/user/v1/user/read", None).await.assert_error_envelope(401);
}

on_both_backends!(
    malformed_bodies_get_4xx_in_the_envelope,
    wrong_password_and_unknown_user_look_the_same,
    forged_expired_and_unsigned_tokens_are_refused,
);
