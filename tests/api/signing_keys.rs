//! Signing keys: rotated with `roster keys rotate` while the service runs
//! (old tokens valid until they expire, new ones signed with the new key,
//! the JWKS showing both, then only the new one), sealed at rest with the
//! master key, and refused at start with a master key that does not open them.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use roster::app::Application;
use roster::config::MasterKeySource;
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_backends;

const TTL_SECONDS: i64 = 3;

fn keys(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .arg("keys")
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("ROSTER_MASTER_KEY", MASTER_KEY)
        .env("ACCESS_TOKEN_TTL_SECONDS", TTL_SECONDS.to_string())
        .env("REFRESH_TOKEN_TTL_SECONDS", TTL_SECONDS.to_string())
        .env("SIGNING_KEYS_REFRESH_MS", "200")
        .env("RUST_LOG", "error")
        .env_remove("ACCESS_TOKEN_SECRET")
        .env_remove("REFRESH_TOKEN_SECRET")
        .output()
        .unwrap()
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.expect("tokens name their key")
}

fn published_kids(jwks: &Value) -> Vec<String> {
    jwks["keys"].as_array().unwrap().iter().map(|key| key["kid"].as_str().unwrap().to_string()).collect()
}

/// The JWKS key with this id verifies the token.
fn verifies(jwks: &Value, token: &str) -> bool {
    let kid = kid_of(token);
    let Some(key) = jwks["keys"].as_array().unwrap().iter().find(|key| key["kid"] == kid.as_str()) else {
        return false;
    };
    let decoding = jsonwebtoken::DecodingKey::from_ed_components(key["x"].as_str().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.validate_exp = false;
    jsonwebtoken::decode::<Value>(token, &decoding, &validation).is_ok()
}

async fn jwks_of(app: &TestApp) -> Value {
    app.client.get(app.url("/.well-known/jwks.json")).send().await.unwrap().json().await.unwrap()
}

async fn a_rotated_key_signs_new_tokens_while_old_ones_stay_valid_until_they_expire(backend: Backend) {
    let app = spawn_app_with(fresh_database(backend).await, |s| {
        s.access_token_ttl_seconds = TTL_SECONDS;
        s.refresh_token_ttl_seconds = TTL_SECONDS;
        s.signing_keys_refresh_ms = 200;
    })
    .await;
    let before = app.sign_up("Before Rotation", "before@example.com").await;
    let old_kid = kid_of(&before.access_token);
    assert_eq!(published_kids(&jwks_of(&app).await), vec![old_kid.clone()]);

    let rotated = keys(&app.database.url, &["rotate"]);
    assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
    let new_kid = String::from_utf8(rotated.stdout).unwrap().trim().to_string();
    assert_ne!(new_kid, old_kid);
    let rotated_at = Instant::now();

    // The instance reads the new key within SIGNING_KEYS_REFRESH_MS and signs with it.
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let login = app.login("before@example.com", PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.body);
        let after = session(&login);
        if kid_of(&after.access_token) == new_kid {
            break after;
        }
        assert!(Instant::now() < deadline, "the instance never signed with the new key");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let jwks = jwks_of(&app).await;
    assert_eq!(published_kids(&jwks), vec![new_kid.clone(), old_kid.clone()], "current key first: {jwks}");
    assert!(verifies(&jwks, &before.access_token) && verifies(&jwks, &after.access_token));
    for token in [&before.access_token, &after.access_token] {
        let profile = app.get("/user/v1/user/read", Some(token)).await;
        assert_eq!(profile.status, StatusCode::OK, "{}", profile.body);
    }
    // The old refresh token still refreshes, and what it gets is signed with the new key.
    let refreshed = app
        .post("/user/v1/account/generateToken", None, serde_json::json!({"refresh_token": before.refresh_token}))
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert_eq!(kid_of(refreshed.result()["access_token"].as_str().unwrap()), new_kid);

    // Once every token the old key signed has expired (TTL + refresh + leeway), it leaves the JWKS.
    let retired_after = Duration::from_secs((TTL_SECONDS + 1 + roster::auth::tokens::LEEWAY_SECONDS) as u64);
    tokio::time::sleep(retired_after.saturating_sub(rotated_at.elapsed()) + Duration::from_millis(300)).await;
    assert_eq!(published_kids(&jwks_of(&app).await), vec![new_kid.clone()]);
    let listed = keys(&app.database.url, &["list"]);
    let listed: Vec<Value> =
        String::from_utf8(listed.stdout).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.iter().any(|key| key["kid"] == new_kid.as_str() && key["current"] == true), "{listed:?}");
    assert!(listed.iter().all(|key| key.get("secret").is_none()), "{listed:?}");
    // A second rotation deletes the key that has retired.
    assert!(keys(&app.database.url, &["rotate"]).status.success());
    let kids: Vec<String> = roster::on_pool!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT kid FROM signing_keys").fetch_all(pool).await.unwrap()
    });
    assert!(!kids.contains(&old_kid) && kids.contains(&new_kid) && kids.len() == 2, "{kids:?}");
}

async fn signing_keys_are_sealed_at_rest_and_need_their_master_key(backend: Backend) {
    let database = fresh_database(backend).await;
    // An older version's key, stored in clear: sealed at the next start, and kept.
    {
        let db = roster::storage::Db::connect(&database.url, 2).await.unwrap();
        db.migrate().await.unwrap();
        let seed = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, [9u8; 32]);
        roster::on_pool!(&db, pool => {
            sqlx::query("INSERT INTO signing_keys (id, kid, secret, created_at) VALUES ('primary', 'legacy-kid', $1, '2026-11-01T00:00:00Z')")
                .bind(&seed).execute(pool).await.unwrap();
        });
        db.close().await;
    }
    let app = spawn_stoppable(database, |_| {}).await;
    let user = app.app.sign_up("Sealed Keys", "sealed@example.com").await;
    assert_eq!(kid_of(&user.access_token), "legacy-kid", "the stored key goes on signing");
    let legacy_public = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]).verifying_key().to_bytes();
    let jwks = jwks_of(&app.app).await;
    assert_eq!(
        jwks["keys"][0]["x"],
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, legacy_public)
    );
    assert!(keys(&app.app.database.url, &["rotate"]).status.success());
    let secrets: Vec<String> = roster::on_pool!(&app.app.state.db, pool => {
        sqlx::query_scalar("SELECT secret FROM signing_keys").fetch_all(pool).await.unwrap()
    });
    assert_eq!(secrets.len(), 2);
    for secret in &secrets {
        assert!(secret.starts_with("sealed:v1:"), "{secret}");
        assert!(secret.len() > 60, "{secret}");
    }
    let database = app.stop().await;

    // Another master key does not open them: refused at start, naming the variable.
    let mut settings = test_settings(&database.url);
    settings.master_key = MasterKeySource::Value("b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktISE=".into());
    let error = match Application::build(settings).await {
        Ok(_) => panic!("a wrong master key must be refused"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("ROSTER_MASTER_KEY") && error.contains("does not open"), "{error}");
    assert!(!error.contains('\n'), "{error}");
    // The right one still starts, and the tokens signed before verify.
    let app = spawn_app_with(database, |_| {}).await;
    assert_eq!(app.get("/user/v1/user/read", Some(&user.access_token)).await.status, StatusCode::OK);
}

/// HS256: a changed secret with the old one as the previous secret keeps
/// the tokens it signed valid; without it they are refused.
async fn a_previous_hs256_secret_still_verifies_until_it_is_dropped(backend: Backend) {
    let app = spawn_stoppable(fresh_database(backend).await, |s| {
        s.access_token_secret = Some("old-access".into());
        s.refresh_token_secret = Some("old-refresh".into());
    })
    .await;
    let user = app.app.sign_up("Hs Rotation", "hs-rotation@example.com").await;
    let database = app.stop().await;
    let app = spawn_stoppable(database, |s| {
        s.access_token_secret = Some("new-access".into());
        s.refresh_token_secret = Some("new-refresh".into());
        s.access_token_previous_secret = Some("old-access".into());
        s.refresh_token_previous_secret = Some("old-refresh".into());
    })
    .await;
    assert_eq!(app.app.get("/user/v1/user/read", Some(&user.access_token)).await.status, StatusCode::OK);
    let fresh = session(&app.app.login("hs-rotation@example.com", PASSWORD).await);
    let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    let decoding = jsonwebtoken::DecodingKey::from_secret(b"new-access");
    assert!(
        jsonwebtoken::decode::<Value>(&fresh.access_token, &decoding, &validation).is_ok(),
        "signed with the new secret"
    );
    let database = app.stop().await;
    let app = spawn_app_with(database, |s| {
        s.access_token_secret = Some("new-access".into());
        s.refresh_token_secret = Some("new-refresh".into());
    })
    .await;
    assert_eq!(app.get("/user/v1/user/read", Some(&user.access_token)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/user/v1/user/read", Some(&fresh.access_token)).await.status, StatusCode::OK);
}

on_both_backends!(
    a_rotated_key_signs_new_tokens_while_old_ones_stay_valid_until_they_expire,
    signing_keys_are_sealed_at_rest_and_need_their_master_key,
    a_previous_hs256_secret_still_verifies_until_it_is_dropped
);

/// PostgreSQL is shared by every instance, so there is no file to keep a key
/// in: without one the start is refused. SQLite keeps one beside its file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_master_key_postgres_is_refused_and_sqlite_gets_a_key_file() {
    let database = fresh_database(Backend::Postgres).await;
    let mut settings = test_settings(&database.url);
    settings.master_key = MasterKeySource::Unset;
    let error = match Application::build(settings).await {
        Ok(_) => panic!("PostgreSQL without a master key must be refused"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("ROSTER_MASTER_KEY is not set") && error.contains("openssl rand -base64 32"), "{error}");

    let database = fresh_database(Backend::Sqlite).await;
    let app = spawn_stoppable(database, |s| s.master_key = MasterKeySource::Unset).await;
    let user = app.app.sign_up("Key File", "keyfile@example.com").await;
    let database = app.stop().await;
    let path = roster::auth::master_key::sqlite_key_file(&database.url).unwrap();
    assert!(path.exists(), "{}", path.display());
    // The next start reads the same file and accepts the earlier token.
    let app = spawn_app_with(database, |s| s.master_key = MasterKeySource::Unset).await;
    assert_eq!(app.get("/user/v1/user/read", Some(&user.access_token)).await.status, StatusCode::OK);
}

/// With HS256 there are no keys to rotate: the command says what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_hs256_points_to_the_secrets() {
    let database = fresh_database(Backend::Sqlite).await;
    let output = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["keys", "rotate"])
        .env("DATABASE_URL", &database.url)
        .env("ACCESS_TOKEN_SECRET", "a")
        .env("REFRESH_TOKEN_SECRET", "r")
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("ACCESS_TOKEN_PREVIOUS_SECRET"), "{stderr}");
}
