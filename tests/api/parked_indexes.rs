//! A replay parks the read tables' secondary indexes and builds them again
//! at its end. A replay that dies midway leaves them recorded, and the next
//! start of the runners builds them.

use std::time::{Duration, Instant};

use roster::projector::Projector;
use roster::storage::Db;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

/// Every index definition of the schema (and on SQLite every trigger), by name.
async fn index_definitions(db: &Db) -> Vec<String> {
    match db {
        Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname")
                .fetch_all(pool)
                .await
                .unwrap()
        }
        Db::Sqlite(pool) => sqlx::query_scalar(
            "SELECT sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY name",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
    }
}

/// Parked indexes and triggers; a search index's rebuild is recorded too, but
/// drops nothing.
async fn parked(db: &Db) -> i64 {
    roster::on_pool!(db, pool => sqlx::query_scalar(
        "SELECT count(*) FROM parked_indexes WHERE definition NOT LIKE 'INSERT%'"
    ).fetch_one(pool).await.unwrap())
}

/// Users whose name or email holds `term`, as the search endpoint finds them.
async fn found(db: &Db, term: &str) -> i64 {
    let pattern = format!("%{term}%");
    roster::on_pool!(db, pool => {
        let sql = if matches!(db, Db::Sqlite(_)) {
            "SELECT count(*) FROM users_search WHERE search_text LIKE $1"
        } else {
            "SELECT count(*) FROM users WHERE search_text LIKE $1"
        };
        sqlx::query_scalar(sql).bind(&pattern).fetch_one(pool).await.unwrap()
    })
}

async fn a_replay_builds_its_parked_indexes_again_even_after_dying(backend: Backend) {
    let database = fresh_database(backend).await;
    let db = Db::connect(&database.url, 4).await.unwrap();
    let client = reqwest::Client::new();
    let server = start_server(&database.url, &[]).await;
    for i in 0..3 {
        let created = client
            .post(format!("{}/user/v1/account/create", server.base))
            .json(&json!({"name": format!("Parked {i}"), "email": format!("parked{i}@example.com"), "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert!(created.status().is_success());
    }
    drop(server);

    let before = index_definitions(&db).await;
    let is_users_listing = |definition: &String| definition.contains("users_listing");
    assert!(before.iter().any(is_users_listing), "the schema has its secondary indexes: {before:?}");
    let rows_before = dump(&db).await;

    Projector::new(db.clone()).rebuild(|_, _| {}).await.unwrap();
    assert_eq!(index_definitions(&db).await, before, "a replay builds every parked index again");
    assert_eq!(parked(&db).await, 0);
    assert_eq!(dump(&db).await, rows_before, "and the rows are the same");
    assert_eq!(found(&db, "parked").await, 3, "search finds every user after the replay");

    // A replay that dies once it has parked the indexes: they are gone and
    // recorded; parking again keeps the record.
    db.park_indexes(&["users", "user_roles"]).await.unwrap();
    db.park_indexes(&["users", "user_roles"]).await.unwrap();
    let while_parked = index_definitions(&db).await;
    assert!(!while_parked.iter().any(is_users_listing), "users_listing is parked: {while_parked:?}");
    assert!(while_parked.len() < before.len());
    assert_eq!(parked(&db).await, (before.len() - while_parked.len()) as i64);

    // The next start of the runners builds them.
    let _server = start_server(&database.url, &[]).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while parked(&db).await > 0 || index_definitions(&db).await != before {
        assert!(Instant::now() < deadline, "parked indexes were not built again: {:?}", index_definitions(&db).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(found(&db, "parked 1").await, 1, "search works again after the died replay is finished");
}

on_both_backends!(a_replay_builds_its_parked_indexes_again_even_after_dying);
