//! `roster dev seed`'s batched path: whole batches of users appended in one
//! transaction must end up exactly like users signed up one by one (claims
//! held, read models and listing counters right, able to log in), and a
//! batch that clashes with existing users must fall back without losing any.

use std::time::Duration;

use projections::Statement;
use roster::commands::Metadata;
use roster::seed::{seed_email, seed_sign_up, SEED_PASSWORD};
use roster::storage::Db;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

async fn count(db: &Db, sql: &str) -> i64 {
    db.fetch_count(&Statement::new(sql, vec![])).await.unwrap()
}

async fn batches_of_seeded_users_behave_like_signed_up_ones(backend: Backend) {
    let app = spawn_app(backend).await;
    let state = &app.state;
    let meta = Metadata::system("seed-test");
    let hash = roster::auth::password::hash(SEED_PASSWORD.to_string()).await.unwrap();

    let first = state.seed_users((0..20).map(seed_sign_up).collect(), hash.clone(), &meta).await.unwrap();
    assert_eq!(first, 20, "a fresh batch is appended whole");
    // Users 15..19 exist: the batch is rolled back and its users go one by
    // one, so only the ten new ones are registered.
    let second = state.seed_users((15..30).map(seed_sign_up).collect(), hash.clone(), &meta).await.unwrap();
    assert_eq!(second, 10, "the clashing batch registers exactly the new users");

    let end = state.db.last_committed_point().await.unwrap();
    assert!(state.projector.wait_for(end, Duration::from_secs(30)).await, "read models catch up");

    let db = &state.db;
    assert_eq!(count(db, "SELECT count(*) FROM users WHERE email LIKE '%@bench.roster.example'").await, 30);
    assert_eq!(count(db, "SELECT count(DISTINCT id) FROM users WHERE email LIKE '%@bench.roster.example'").await, 30);
    // Users 0, 10 and 20 are mentors (role 2), every other one a mentee (3).
    assert_eq!(count(db, "SELECT count(*) FROM user_roles WHERE role_id = 2").await, 3);
    assert_eq!(count(db, "SELECT count(*) FROM user_roles WHERE role_id = 3").await, 27);
    assert_eq!(count(db, "SELECT count(*) FROM events WHERE aggregate_type = 'user'").await, 30);
    if matches!(db, Db::Postgres(_)) {
        // The listing counters (migration 0007) follow the multi-row inserts.
        for (role, expected) in [
            (0, "SELECT count(*) FROM users WHERE status = 'ACTIVE'"),
            (2, "SELECT count(*) FROM user_roles WHERE role_id = 2"),
            (3, "SELECT count(*) FROM user_roles WHERE role_id = 3"),
        ] {
            // Kept in shards (migration 0035): the counter is their sum.
            let sum = format!("SELECT CAST(sum(active) AS BIGINT) FROM user_list_counts WHERE role_id = {role}");
            let counted = count(db, &sum).await;
            assert_eq!(counted, count(db, expected).await, "user_list_counts for role {role}");
        }
        assert_eq!(count(db, "SELECT count(*) FROM role_listing").await, 30);
    }

    // Seeded users hold their email claims and can log in.
    let taken = app
        .post("/user/v1/account/create", None, json!({"name": "Copy", "email": seed_email(3), "password": PASSWORD}))
        .await;
    taken.assert_error_envelope(400);
    for i in [3, 25] {
        let login = app.login(&seed_email(i), SEED_PASSWORD).await;
        assert_eq!(login.status, 200, "seeded user {i} logs in: {:?}", login.body);
        assert_eq!(login.result()["user"]["email"], seed_email(i));
    }
}

on_both_backends!(batches_of_seeded_users_behave_like_signed_up_ones);
