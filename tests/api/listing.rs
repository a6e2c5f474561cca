//! PostgreSQL keeps `user_list_counts` and `role_listing` (migration 0007) in
//! step with `users` and `user_roles` by triggers, so list endpoints read an
//! exact count from one row. After every kind of user change, and after a
//! replay, they must equal counting the rows themselves. On SQLite, substring
//! searches read an FTS5 trigram table, kept in step the same way.

use std::time::Duration;

use aggregates::{ProfileChanges, User, UserCommand};
use projections::Statement;
use roster::app::AppState;
use roster::commands::Metadata;
use roster::seed::{seed_sign_up, SEED_PASSWORD};
use roster::storage::Db;

use crate::helpers::*;

async fn count(db: &Db, sql: &str) -> i64 {
    db.fetch_count(&Statement::new(sql, vec![])).await.unwrap()
}

const TRUTH: &str = "SELECT DISTINCT ur.role_id, u.user_uuid, u.name, u.id FROM users u \
                     JOIN user_roles ur ON ur.user_uuid = u.user_uuid WHERE u.status = 'ACTIVE'";

async fn assert_listing_matches_rows(state: &AppState, when: &str) {
    let last = state.db.last_committed_point().await.unwrap();
    assert!(state.projector.wait_for(last, Duration::from_secs(30)).await, "read models catch up ({when})");
    let db = &state.db;
    let active = count(db, "SELECT count(*) FROM users WHERE status = 'ACTIVE'").await;
    // Counters are kept in shards (migration 0035): a key's value is their sum.
    let all = "SELECT CAST(sum(active) AS BIGINT) FROM user_list_counts WHERE role_id = 0";
    assert_eq!(count(db, all).await, active, "all users, {when}");
    let wrong_counts = count(
        db,
        &format!(
            "SELECT count(*) FROM (SELECT role_id, count(*) AS n FROM ({TRUTH}) t GROUP BY role_id) truth \
             FULL JOIN (SELECT role_id, sum(active) AS active FROM user_list_counts WHERE role_id <> 0 \
               GROUP BY role_id HAVING sum(active) <> 0) kept \
             USING (role_id) WHERE truth.n IS DISTINCT FROM kept.active"
        ),
    )
    .await;
    assert_eq!(wrong_counts, 0, "per-role counts, {when}");
    let missing = count(
        db,
        &format!("SELECT count(*) FROM ({TRUTH} EXCEPT SELECT role_id, user_uuid, name, id FROM role_listing) d"),
    )
    .await;
    let extra = count(
        db,
        &format!("SELECT count(*) FROM (SELECT role_id, user_uuid, name, id FROM role_listing EXCEPT {TRUTH}) d"),
    )
    .await;
    assert_eq!((missing, extra), (0, 0), "role_listing rows missing / extra, {when}");
    assert!(count(db, "SELECT count(*) FROM role_listing").await > 0, "the listing is not trivially empty ({when})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_counters_follow_every_user_change_and_a_replay() {
    let app = spawn_app(Backend::Postgres).await;
    let state = &app.state;
    let meta = Metadata::system("listing-test");
    let hash = roster::auth::password::hash(SEED_PASSWORD.to_string()).await.unwrap();
    state.seed_users((0..12).map(seed_sign_up).collect(), hash, &meta).await.unwrap();
    assert_listing_matches_rows(state, "after seeding").await;

    let uuids: Vec<String> = match &state.db {
        Db::Postgres(pool) => sqlx::query_scalar("SELECT user_uuid FROM users WHERE email LIKE 'user%' ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap(),
        Db::Sqlite(_) => unreachable!("PostgreSQL only"),
    };
    let at = chrono::Utc::now;
    let rename = |name: &str| UserCommand::UpdateProfile {
        changes: ProfileChanges { name: Some(name.into()), ..Default::default() },
        at: at(),
    };
    let steps: Vec<(usize, UserCommand, &str)> = vec![
        (
            1,
            UserCommand::AssignRole { role_id: 2, organization_id: 1, dropped_on_move: vec![], at: at() },
            "a role granted",
        ),
        (
            1,
            UserCommand::AssignRole { role_id: 2, organization_id: 1, dropped_on_move: vec![], at: at() },
            "the same role again",
        ),
        (2, rename("Zed Renamed"), "a rename"),
        (3, UserCommand::Deactivate { at: at() }, "a deactivation"),
        (
            3,
            UserCommand::AssignRole { role_id: 4, organization_id: 1, dropped_on_move: vec![], at: at() },
            "a role given while inactive",
        ),
        (3, UserCommand::Activate { at: at() }, "a reactivation"),
        (0, UserCommand::RevokeRole { role_id: 2, at: at() }, "a role revoked"),
        (4, UserCommand::Delete { at: at() }, "a deletion"),
        (
            5,
            UserCommand::AssignRole { role_id: 5, organization_id: 1, dropped_on_move: vec![], at: at() },
            "another role",
        ),
    ];
    for (user, command, what) in steps {
        // A refused command (the same role twice, say) is fine: the listing must still match.
        let _ = state.bus.execute::<User>(&uuids[user], command, &meta).await;
        assert_listing_matches_rows(state, what).await;
    }

    state.projector.rebuild(|_, _| {}).await.unwrap();
    assert_listing_matches_rows(state, "after a replay").await;
    assert_eq!(
        count(&state.db, "SELECT count(*) FROM user_listing_stale").await,
        0,
        "a finished replay clears the mark"
    );

    // A replay that died midway leaves the mark and a wrong listing; the
    // next start of the runner (`finish_stale_listing`) rebuilds it.
    let Db::Postgres(pool) = &state.db else { unreachable!("PostgreSQL only") };
    sqlx::query("INSERT INTO user_listing_stale (since) VALUES ('test')").execute(pool).await.unwrap();
    sqlx::query("UPDATE user_list_counts SET active = 0").execute(pool).await.unwrap();
    sqlx::query("DELETE FROM role_listing").execute(pool).await.unwrap();
    state.db.finish_stale_listing().await.unwrap();
    assert_listing_matches_rows(state, "after a died replay is finished").await;
    assert_eq!(count(&state.db, "SELECT count(*) FROM user_listing_stale").await, 0);
}

/// SQLite answers substring searches from the FTS5 trigram table that its
/// migration 0010 keeps beside `users`, not by scanning `users`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_search_reads_the_trigram_table() {
    let app = spawn_app(Backend::Sqlite).await;
    let meta = Metadata::system("search-test");
    let hash = roster::auth::password::hash(SEED_PASSWORD.to_string()).await.unwrap();
    app.state.seed_users((0..30).map(seed_sign_up).collect(), hash, &meta).await.unwrap();
    let written = app.state.db.last_committed_point().await.unwrap();
    assert!(app.state.projector.wait_for(written, Duration::from_secs(20)).await, "projections caught up");
    let Db::Sqlite(pool) = &app.state.db else { unreachable!("SQLite only") };

    let plan: Vec<(i64, i64, i64, String)> =
        sqlx::query_as("EXPLAIN QUERY PLAN SELECT rowid FROM users_search WHERE search_text LIKE '%user1%'")
            .fetch_all(pool)
            .await
            .unwrap();
    let plan: Vec<&str> = plan.iter().map(|(_, _, _, detail)| detail.as_str()).collect();
    assert!(plan.iter().any(|d| d.contains("VIRTUAL TABLE INDEX 0:L")), "FTS5 takes the LIKE (idxStr L): {plan:?}");

    let indexed: i64 = sqlx::query_scalar("SELECT count(*) FROM users_search").fetch_one(pool).await.unwrap();
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(pool).await.unwrap();
    assert_eq!(indexed, users, "every user is in the search table");
    let found: Vec<i64> =
        sqlx::query_scalar("SELECT rowid FROM users_search WHERE search_text LIKE '%user1%' ORDER BY rowid")
            .fetch_all(pool)
            .await
            .unwrap();
    let scanned: Vec<i64> = sqlx::query_scalar("SELECT id FROM users WHERE search_text LIKE '%user1%' ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap();
    assert!(!scanned.is_empty());
    assert_eq!(found, scanned, "the index finds what a scan finds");
}
