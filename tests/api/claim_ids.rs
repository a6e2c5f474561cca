//! Unique-value claim ids are keyed (HMAC under a server secret), and a log
//! written before that is upgraded at start: its claims keep holding their
//! values under the new ids, and no plain-hash id is left to reverse.

use aggregates::ClaimKind;
use roster::storage::claim_ids::legacy_claim_id;
use roster::storage::Db;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

const LEGACY_EMAIL: &str = "held.before@example.com";

async fn claim_ids_in_log(db: &Db) -> Vec<String> {
    roster::on_pool!(db, pool => {
        sqlx::query_scalar("SELECT aggregate_id FROM events WHERE aggregate_type = 'unique_claim'")
            .fetch_all(pool)
            .await
            .unwrap()
    })
}

async fn a_log_with_plain_hash_claim_ids_is_upgraded(backend: Backend) {
    let first = spawn_stoppable(fresh_database(backend).await, |_| {}).await;
    first.app.sign_up("Held Before", LEGACY_EMAIL).await;
    let keyed = first.app.state.bus.claim_id(ClaimKind::Email, LEGACY_EMAIL);
    let database = first.stop().await;
    // As an older version left it: the claim under its plain SHA-256 id,
    // and the log not yet upgraded.
    let legacy = legacy_claim_id(ClaimKind::Email, LEGACY_EMAIL);
    let db = Db::connect(&database.url, 1).await.unwrap();
    roster::on_pool!(&db, pool => {
        let renamed = sqlx::query("UPDATE events SET aggregate_id = $1 WHERE aggregate_id = $2")
            .bind(&legacy)
            .bind(&keyed)
            .execute(pool)
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(renamed, 1, "the email's claim");
        sqlx::query("UPDATE claim_id_secret SET upgraded = false").execute(pool).await.unwrap();
    });
    db.close().await;

    let app = spawn_app_with(database, |_| {}).await;
    let ids = claim_ids_in_log(&app.state.db).await;
    assert!(!ids.contains(&legacy), "the plain-hash id is gone");
    assert!(ids.contains(&keyed), "the claim lives on under its keyed id: {ids:?}");
    assert!(ids.iter().all(|id| id.split(':').nth(1) == Some("h")), "every claim is keyed: {ids:?}");
    // Still held: the email is taken, and its owner still logs in with it.
    let taken = app
        .post("/user/v1/account/create", None, json!({"name": "Late", "email": LEGACY_EMAIL, "password": PASSWORD}))
        .await;
    assert_eq!(taken.status, 400, "{}", taken.body);
    let login = app.post("/user/v1/account/login", None, json!({"email": LEGACY_EMAIL, "password": PASSWORD})).await;
    assert_eq!(login.status, 200, "{}", login.body);
}

/// Each database has its own secret: the same email gets different claim
/// ids in two deployments.
async fn each_database_keys_its_own_claims(backend: Backend) {
    let first = spawn_app(backend).await;
    let second = spawn_app(backend).await;
    let a = first.state.bus.claim_id(ClaimKind::Email, "same@example.com");
    let b = second.state.bus.claim_id(ClaimKind::Email, "same@example.com");
    assert_ne!(a, b);
}

on_both_backends!(a_log_with_plain_hash_claim_ids_is_upgraded, each_database_keys_its_own_claims);
