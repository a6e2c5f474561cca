//! Sunbird's user tokens from Keycloak (RS256, verified offline against a
//! folder of public keys chosen by `kid`) and `x-authenticated-for`, a
//! managed user's token that lets their manager act for them.

use std::sync::OnceLock;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use roster::config::KeycloakSettings;
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;
use crate::sunbird::{assert_envelope, assert_error, create, sb};

const ISSUER: &str = "https://sso.example.org/auth/realms/sunbird";

/// Keycloak's signing key and one it never published, made once per run
/// (RSA key generation is slow).
fn keys() -> &'static (RsaPrivateKey, RsaPrivateKey) {
    static KEYS: OnceLock<(RsaPrivateKey, RsaPrivateKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::rngs::OsRng;
        (RsaPrivateKey::new(&mut rng, 2048).unwrap(), RsaPrivateKey::new(&mut rng, 2048).unwrap())
    })
}

/// The folder Keycloak's public key is in, under three `kid`s in each form
/// Sunbird's key folder may hold: SPKI PEM, PKCS#1 PEM, bare base64.
fn key_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let public = RsaPublicKey::from(&keys().0);
    let spki = public.to_public_key_pem(LineEnding::LF).unwrap();
    std::fs::write(dir.path().join("kid-spki"), &spki).unwrap();
    std::fs::write(dir.path().join("kid-pkcs1"), public.to_pkcs1_pem(LineEnding::LF).unwrap()).unwrap();
    let der = public.to_public_key_der().unwrap();
    std::fs::create_dir(dir.path().join("nested")).unwrap();
    std::fs::write(dir.path().join("nested").join("kid-bare"), STANDARD.encode(der.as_bytes())).unwrap();
    dir
}

fn sign_with(key: &RsaPrivateKey, kid: &str, claims: Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    let der = key.to_pkcs1_der().unwrap();
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_der(der.as_bytes())).unwrap()
}

fn claims(user: &str, iss: &str, exp_in: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": format!("f:5a8a3f2b-3409-42e0-9001-f913bc0fde31:{user}"), "iss": iss, "exp": now + exp_in,
           "iat": now, "typ": "Bearer", "aud": "account"})
}

fn token(user: &str) -> String {
    sign_with(&keys().0, "kid-spki", claims(user, ISSUER, 600))
}

async fn spawn_with_keycloak(backend: Backend, dir: &tempfile::TempDir) -> TestApp {
    let path = dir.path().to_path_buf();
    spawn_app_with(fresh_database(backend).await, move |s| {
        s.keycloak = Some(KeycloakSettings { public_keys_dir: path, issuer: ISSUER.into() })
    })
    .await
}

async fn read_as(app: &TestApp, key: &str, user_token: &str, user: &str) -> Reply {
    sb(app, Method::GET, &format!("/api/user/v1/read/{user}"), Some(key), Some(user_token), None).await
}

async fn keycloak_user_tokens_are_verified_offline(backend: Backend) {
    let dir = key_folder();
    let app = spawn_with_keycloak(backend, &dir).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let ada = create(&app, key, "Ada", "Lovelace", "ada@example.com").await;

    // Valid, under each kid: the acting user is `sub` after its last `:`.
    for kid in ["kid-spki", "kid-pkcs1", "kid-bare"] {
        let valid = sign_with(&keys().0, kid, claims(&ada, ISSUER, 600));
        let read = read_as(&app, key, &valid, &ada).await;
        assert_envelope(&read, 200, "api.user.read");
        assert_eq!(read.result()["response"]["email"], "ada@example.com", "her own full view: {}", read.body);
    }
    let update = json!({"request": {"firstName": "Augusta", "lastName": "King"}});
    let updated = sb(&app, Method::PATCH, "/api/user/v1/update", Some(key), Some(&token(&ada)), Some(update)).await;
    assert_envelope(&updated, 200, "api.user.update");
    let read = read_as(&app, key, &token(&ada), &ada).await;
    assert_eq!(read.result()["response"]["firstName"], "Augusta", "{}", read.body);

    // Wrong kid, wrong issuer, expired, signed by another key, tampered, unknown user, a sub naming no UUID.
    let (_, unpublished) = keys();
    let valid = token(&ada);
    let (head, rest) = valid.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let forged_body = URL_SAFE_NO_PAD.encode(claims(&uuid::Uuid::new_v4().to_string(), ISSUER, 600).to_string());
    let refused = [
        ("wrong kid", sign_with(&keys().0, "kid-unknown", claims(&ada, ISSUER, 600))),
        (
            "no kid",
            jsonwebtoken::encode(
                &Header::new(Algorithm::RS256),
                &claims(&ada, ISSUER, 600),
                &EncodingKey::from_rsa_der(keys().0.to_pkcs1_der().unwrap().as_bytes()),
            )
            .unwrap(),
        ),
        (
            "wrong issuer",
            sign_with(&keys().0, "kid-spki", claims(&ada, "https://evil.example/auth/realms/sunbird", 600)),
        ),
        ("expired", sign_with(&keys().0, "kid-spki", claims(&ada, ISSUER, -3600))),
        ("another key", sign_with(unpublished, "kid-spki", claims(&ada, ISSUER, 600))),
        ("tampered", format!("{head}.{forged_body}.{signature}")),
        ("unknown user", token(&uuid::Uuid::new_v4().to_string())),
        ("not a uuid", token("ada")),
    ];
    for (why, user_token) in refused {
        let reply = read_as(&app, key, &user_token, &ada).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{why}: {}", reply.body);
        assert_envelope(&reply, 401, "api.user.read");
        assert_error(&reply, 401, "UOS_0070", "UNAUTHORIZED", Some("You are not authorized."));
    }

    // A blocked user's Keycloak token is refused at once; unblocked, it works again.
    let block = json!({"request": {"userId": ada}});
    let blocked =
        sb(&app, Method::POST, "/api/user/v1/block", Some(key), Some(&admin.access_token), Some(block.clone())).await;
    assert_envelope(&blocked, 200, "api.user.block");
    assert_error(&read_as(&app, key, &token(&ada), &ada).await, 401, "UOS_0070", "UNAUTHORIZED", None);
    sb(&app, Method::POST, "/api/user/v1/unblock", Some(key), Some(&admin.access_token), Some(block)).await;
    assert_envelope(&read_as(&app, key, &token(&ada), &ada).await, 200, "api.user.read");

    // A Keycloak token is a user's, never a client credential.
    let as_client = read_as(&app, &token(&ada), &token(&ada), &ada).await;
    assert_error(&as_client, 401, "UOS_0070", "UNAUTHORIZED", None);
}

/// Without the settings RS256 tokens are refused; a folder with no key or
/// a file that is not one stops the start.
async fn keycloak_tokens_need_the_keys(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let ada = create(&app, &admin.access_token, "Ada", "Lovelace", "ada@example.com").await;
    let reply = read_as(&app, &admin.access_token, &token(&ada), &ada).await;
    assert_error(&reply, 401, "UOS_0070", "UNAUTHORIZED", None);

    for content in [None, Some("not a key")] {
        let dir = tempfile::tempdir().unwrap();
        if let Some(content) = content {
            std::fs::write(dir.path().join("kid-1"), content).unwrap();
        }
        let database = fresh_database(backend).await;
        let mut settings = test_settings(&database.url);
        settings.keycloak = Some(KeycloakSettings { public_keys_dir: dir.path().into(), issuer: ISSUER.into() });
        let error = match roster::app::Application::build(settings).await {
            Ok(_) => panic!("a key folder without a usable key must stop the start"),
            Err(error) => format!("{error:#}"),
        };
        assert!(error.contains("KEYCLOAK_PUBLIC_KEYS_DIR") || error.contains("kid-1"), "{error}");
    }
}

/// A Sunbird call with `x-authenticated-for`.
async fn sb_for(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    user: &str,
    for_token: &str,
    body: Option<Value>,
) -> Reply {
    let mut request = app
        .client
        .request(method, app.url(path))
        .header("X-msgid", "msg-1234")
        .header("Authorization", format!("Bearer {key}"))
        .header("x-authenticated-user-token", user)
        .header("x-authenticated-for", for_token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    Reply::from(request.send().await.unwrap()).await
}

fn rename(user: &str, first: &str) -> Option<Value> {
    Some(json!({"request": {"userId": user, "firstName": first, "lastName": "Child"}}))
}

async fn first_name(app: &TestApp, key: &str, admin: &Session, user: &str) -> Value {
    read_as(app, key, &admin.access_token, user).await.result()["response"]["firstName"].clone()
}

async fn a_manager_acts_for_a_managed_user_with_their_token(backend: Backend) {
    let dir = key_folder();
    let app = spawn_with_keycloak(backend, &dir).await;
    let admin = app.admin_session().await;
    let key = admin.access_token.as_str();
    let parent = app.sign_up("Pat Parent", "parent@example.com").await;
    let other = app.sign_up("Oscar Other", "other@example.com").await;
    let (pat, oscar) = (parent.user["uuid"].as_str().unwrap(), other.user["uuid"].as_str().unwrap());
    let managed = json!({"request": {"firstName": "Kim", "lastName": "Child", "managedBy": pat}});
    let created =
        sb(&app, Method::POST, "/api/user/v1/managed/create", Some(key), Some(&parent.access_token), Some(managed))
            .await;
    assert_envelope(&created, 200, "api.manageduser.create");
    let kim = created.result()["userId"].as_str().unwrap().to_string();
    let listed = sb(
        &app,
        Method::GET,
        &format!("/api/user/v1/managed/{pat}?withTokens=true"),
        Some(key),
        Some(&parent.access_token),
        None,
    )
    .await;
    let kim_token = listed.result()["response"]["content"][0]["managedToken"].as_str().unwrap().to_string();

    // Without the managed user's token the manager may not update them.
    let path = "/api/user/v1/update";
    let plain = sb(&app, Method::PATCH, path, Some(key), Some(&parent.access_token), rename(&kim, "Kit")).await;
    assert_envelope(&plain, 403, "api.user.update");
    // With it (a Roster token), the manager acts as them.
    let acting = sb_for(&app, Method::PATCH, path, key, &parent.access_token, &kim_token, rename(&kim, "Kit")).await;
    assert_envelope(&acting, 200, "api.user.update");
    assert_eq!(first_name(&app, key, &admin, &kim).await, "Kit");
    let read =
        sb_for(&app, Method::GET, &format!("/api/user/v1/read/{kim}"), key, &parent.access_token, &kim_token, None)
            .await;
    assert_envelope(&read, 200, "api.user.read");
    let tnc = Some(json!({"request": {"version": "v1", "userId": kim}}));
    let accepted =
        sb_for(&app, Method::POST, "/api/user/v1/tnc/accept", key, &parent.access_token, &kim_token, tnc).await;
    assert_envelope(&accepted, 200, "api.user.tnc.accept");
    // About the manager themselves the for-token changes nothing; about anyone else it is 401.
    let own = sb_for(&app, Method::PATCH, path, key, &parent.access_token, &kim_token, rename(pat, "Pat")).await;
    assert_envelope(&own, 200, "api.user.update");
    let elsewhere = sb_for(&app, Method::PATCH, path, key, &parent.access_token, &kim_token, rename(oscar, "X")).await;
    assert_error(&elsewhere, 401, "UOS_0070", "UNAUTHORIZED", None);
    // Someone who does not manage them, and tokens that prove nothing.
    let not_theirs = sb_for(&app, Method::PATCH, path, key, &other.access_token, &kim_token, rename(&kim, "Y")).await;
    assert_envelope(&not_theirs, 403, "api.user.update");
    for bad in ["garbage", parent.access_token.as_str()] {
        let reply = sb_for(&app, Method::PATCH, path, key, &parent.access_token, bad, rename(&kim, "Z")).await;
        assert!(matches!(reply.status.as_u16(), 401 | 403), "{bad}: {}", reply.body);
    }
    assert_eq!(first_name(&app, key, &admin, &kim).await, "Kit");

    // Keycloak's form: `sub` the managed user, `parentId` the manager.
    let for_kim = |parent_id: &str| {
        let mut c = claims(&kim, ISSUER, 600);
        c["parentId"] = parent_id.into();
        sign_with(&keys().0, "kid-spki", c)
    };
    let keycloak = sb_for(&app, Method::PATCH, path, key, &token(pat), &for_kim(pat), rename(&kim, "Kai")).await;
    assert_envelope(&keycloak, 200, "api.user.update");
    assert_eq!(first_name(&app, key, &admin, &kim).await, "Kai");
    let wrong_parent = sb_for(&app, Method::PATCH, path, key, &token(pat), &for_kim(oscar), rename(&kim, "Q")).await;
    assert_error(&wrong_parent, 401, "UOS_0070", "UNAUTHORIZED", None);
    let no_parent = sign_with(&keys().0, "kid-spki", claims(&kim, ISSUER, 600));
    let no_parent = sb_for(&app, Method::PATCH, path, key, &token(pat), &no_parent, rename(&kim, "Q")).await;
    assert_error(&no_parent, 401, "UOS_0070", "UNAUTHORIZED", None);
    let expired = {
        let mut c = claims(&kim, ISSUER, -3600);
        c["parentId"] = pat.into();
        sign_with(&keys().0, "kid-spki", c)
    };
    let expired = sb_for(&app, Method::PATCH, path, key, &token(pat), &expired, rename(&kim, "Q")).await;
    assert_error(&expired, 401, "UOS_0070", "UNAUTHORIZED", None);
    assert_eq!(first_name(&app, key, &admin, &kim).await, "Kai");
    assert_eq!(plain.status, StatusCode::FORBIDDEN);
}

on_both_backends!(
    keycloak_user_tokens_are_verified_offline,
    keycloak_tokens_need_the_keys,
    a_manager_acts_for_a_managed_user_with_their_token,
);
