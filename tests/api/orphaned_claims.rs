//! Before a sign-up and its claims were one commit, a crash between an
//! older version's claim and its registration left the email claimed by a
//! user who never existed. Such claims are released at the next start (on
//! PostgreSQL once they are old enough that no instance of an older version
//! can still be signing up); a sign-up never takes them over (a failed one
//! leaves no claim: `one_commit`).

use aggregates::{ClaimCommand, ClaimKind, UniqueClaim};
use reqwest::StatusCode;
use roster::commands::Metadata;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

/// What an older version's sign-up killed after its email claim left: a
/// `ValueClaimed` for an owner that has no events. Returns the claim's id.
async fn orphan_claim(app: &TestApp, email: &str, claimed_at: chrono::DateTime<chrono::Utc>) -> String {
    orphan(app, ClaimKind::Email, email, claimed_at).await
}

async fn orphan(app: &TestApp, kind: ClaimKind, value: &str, claimed_at: chrono::DateTime<chrono::Utc>) -> String {
    let id = app.state.bus.claim_id(kind, value);
    let claim = ClaimCommand::Claim { owner: uuid::Uuid::new_v4().to_string(), at: claimed_at };
    let committed = app.state.bus.execute::<UniqueClaim>(&id, claim, &Metadata::system("test")).await.unwrap();
    assert!(committed.point.is_some());
    id
}

async fn sign_up(app: &TestApp, email: &str) -> Reply {
    app.post("/user/v1/account/create", None, json!({"name": "Back Again", "email": email, "password": PASSWORD})).await
}

/// The events of one claim: (event type, metadata), in order.
async fn claim_events(app: &TestApp, id: &str) -> Vec<(String, String)> {
    roster::on_pool!(&app.state.db, pool => {
        sqlx::query_as::<_, (String, String)>(
            "SELECT event_type, CAST(metadata AS TEXT) FROM events \
             WHERE aggregate_type = 'unique_claim' AND aggregate_id = $1 ORDER BY sequence",
        )
        .bind(id)
        .fetch_all(pool)
        .await
        .unwrap()
    })
}

async fn an_orphaned_claim_is_released_at_restart(backend: Backend) {
    let first = spawn_stoppable(fresh_database(backend).await, |_| {}).await;
    let now = chrono::Utc::now();
    let old = orphan_claim(&first.app, "crashed@example.com", now).await;
    let fresh = orphan_claim(&first.app, "just-now@example.com", now).await;
    // Creating an organisation claims its code first, the same way.
    let lost_org = orphan(&first.app, ClaimKind::OrganizationCode, "lost", now).await;
    first.app.sign_up("Real User", "real@example.com").await;
    // The probe's symptom.
    let refused = sign_up(&first.app, "crashed@example.com").await;
    refused.assert_error_envelope(400);
    assert_eq!(refused.body["message"], "User already exists");
    let database = first.stop().await;
    if backend == Backend::Postgres {
        // The crash was long ago by the database's clock (changed while no
        // app runs, so no sweep sees the log change under it).
        let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
        sqlx::query("UPDATE events SET recorded_at = recorded_at - interval '1 hour' WHERE aggregate_id IN ($1, $2)")
            .bind(&old)
            .bind(&lost_org)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let app = spawn_app_with(database, |_| {}).await;

    // The sweep runs beside serving; on SQLite it releases both.
    let expected = if backend == Backend::Sqlite { vec![&old, &lost_org, &fresh] } else { vec![&old, &lost_org] };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    for id in expected {
        while claim_events(&app, id).await.len() < 2 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    let released = claim_events(&app, &old).await;
    assert_eq!(released.len(), 2, "{released:?}");
    assert_eq!(released[1].0, "ValueReleased");
    assert!(released[1].1.contains("release-orphaned-claims") && released[1].1.contains("system"), "{released:?}");
    let back = sign_up(&app, "crashed@example.com").await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    assert_eq!(app.login("crashed@example.com", PASSWORD).await.status, StatusCode::OK);

    // A fresh orphan: SQLite is one instance, so nothing could still be
    // signing up with it; on PostgreSQL another instance might be.
    let again = sign_up(&app, "just-now@example.com").await;
    match backend {
        Backend::Sqlite => assert_eq!(again.status, StatusCode::OK, "{}", again.body),
        Backend::Postgres => {
            again.assert_error_envelope(400);
            assert_eq!(claim_events(&app, &fresh).await.len(), 1);
        }
    }
    let admin = app.admin_session().await;
    let org = app
        .post("/user/v1/organization/create", Some(&admin.access_token), json!({"name": "Found", "code": "lost"}))
        .await;
    assert_eq!(org.status, StatusCode::OK, "{}", org.body);
    // A claim whose user exists is kept.
    sign_up(&app, "real@example.com").await.assert_error_envelope(400);
    assert_eq!(app.login("real@example.com", PASSWORD).await.status, StatusCode::OK);
}

/// Makes every event of the log an hour older (PostgreSQL's sweep waits
/// `ABANDONED_CLAIM_AGE` before it takes a claim for abandoned), while no
/// app runs on it: a sweep must not see the log change under it.
async fn age_the_log(database: &TestDatabase) {
    if database.url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&database.url).await.unwrap();
        sqlx::query("UPDATE events SET recorded_at = recorded_at - interval '1 hour'").execute(&pool).await.unwrap();
        pool.close().await;
    }
}

async fn position_of(app: &TestApp, claim: &str) -> i64 {
    roster::on_pool!(&app.state.db, pool => {
        sqlx::query_scalar::<_, i64>("SELECT max(position) FROM events WHERE aggregate_id = $1")
            .bind(claim)
            .fetch_one(pool)
            .await
            .unwrap()
    })
}

async fn wait_released(app: &TestApp, claim: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while claim_events(app, claim).await.len() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(claim_events(app, claim).await.len(), 2, "{claim} released");
}

/// A start sweeps only the claims after the mark the last sweep left, so
/// it does not read the whole log again; an orphan after the mark is still
/// found by the next start.
async fn a_sweep_reads_only_what_came_after_its_mark(backend: Backend) {
    let first = spawn_stoppable(fresh_database(backend).await, |_| {}).await;
    let early = orphan_claim(&first.app, "early@example.com", chrono::Utc::now()).await;
    let database = first.stop().await;
    age_the_log(&database).await;
    let second = spawn_stoppable(database, |_| {}).await;
    wait_released(&second.app, &early).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let released_at = position_of(&second.app, &early).await;
    while second.app.state.db.sweep_mark().await.unwrap() < released_at - 1 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mark = second.app.state.db.sweep_mark().await.unwrap();
    assert!(mark >= released_at - 1, "the mark {mark} passed the swept claims (released at {released_at})");

    let late = orphan_claim(&second.app, "late@example.com", chrono::Utc::now()).await;
    assert!(position_of(&second.app, &late).await > mark);
    let database = second.stop().await;
    age_the_log(&database).await;
    let third = spawn_app_with(database, |_| {}).await;
    wait_released(&third, &late).await;
    assert_eq!(sign_up(&third, "late@example.com").await.status, StatusCode::OK);
    let moved = third.state.db.sweep_mark().await.unwrap();
    assert!(moved >= mark, "the mark never goes back: {mark} then {moved}");
}

on_both_backends!(an_orphaned_claim_is_released_at_restart, a_sweep_reads_only_what_came_after_its_mark);
