//! The command bus keeps folded aggregates in memory (`roster::aggregate_cache`).
//! These tests hold it to two promises: a cached load is exactly what a fold
//! of the whole log gives (through changes, failed logins and erasure), and a
//! write by another instance counts at this instance's very next command.

use aggregates::{User, UserCommand, UserStatus};
use reqwest::Method;
use roster::commands::{CommandBus, Metadata};
use roster::projector::Projector;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

/// A bus with an empty cache on the same database: another instance.
fn other_instance(app: &TestApp) -> CommandBus {
    CommandBus::new(app.state.db.clone(), Projector::new(app.state.db.clone()), app.state.bus.claim_ids().clone())
}

/// The app's (cached) view of the user must equal a fold of the whole log.
async fn assert_cache_matches_log(app: &TestApp, uuid: &str, step: &str) -> User {
    let cached = app.state.bus.load::<User>(uuid).await.unwrap();
    let folded = other_instance(app).load::<User>(uuid).await.unwrap();
    assert_eq!(cached, folded, "after {step}: the cached state differs from a fold of the log");
    cached
}

async fn cached_loads_equal_a_full_fold_through_changes_and_erasure(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let user = app.sign_up("Cache Person", "cache.person@example.org").await;
    let uuid = user.user["uuid"].as_str().unwrap().to_string();
    let id = user.user["id"].as_i64().unwrap();
    assert_cache_matches_log(&app, &uuid, "sign-up").await;

    assert_eq!(app.login("cache.person@example.org", PASSWORD).await.status, 200);
    assert_ne!(app.login("cache.person@example.org", "Wr0ng!pass").await.status, 200);
    let failed = assert_cache_matches_log(&app, &uuid, "a failed login").await;
    assert_eq!(failed.consecutive_failures, 1, "the failure was folded in");

    for name in ["Cache Renamed", "Cache Renamed Twice"] {
        let updated = app
            .patch("/user/v1/user/update", Some(&user.access_token), Some(json!({"name": name, "about": name})))
            .await;
        assert_eq!(updated.status, 200, "{}", updated.body);
    }
    let renamed = assert_cache_matches_log(&app, &uuid, "profile updates").await;
    assert_eq!(renamed.name.as_deref(), Some("Cache Renamed Twice"));

    let assigned =
        app.post("/user/v1/admin/assignRole", Some(&admin.access_token), json!({"user_id": id, "role_id": 6})).await;
    assert_eq!(assigned.status, 200, "{}", assigned.body);
    assert!(assert_cache_matches_log(&app, &uuid, "a role assignment").await.role_ids.contains(&6));

    let deleted =
        app.call(Method::DELETE, &format!("/user/v1/admin/deleteUser/{id}"), Some(&admin.access_token), None).await;
    assert_eq!(deleted.status, 202, "{}", deleted.body);
    // The key is destroyed: the fold from the log reads erased values, and
    // the cached state must hold no more than that.
    let erased = assert_cache_matches_log(&app, &uuid, "erasure").await;
    assert_eq!(erased.status, UserStatus::Deleted);
    assert_eq!(erased.email, None);
    assert_eq!(erased.password_hash, None);
}

async fn a_write_by_another_instance_counts_at_the_next_command(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("Two Instances", "two.instances@example.org").await;
    let uuid = user.user["uuid"].as_str().unwrap().to_string();
    // This instance folds the user (the login loads it) and keeps the fold.
    assert_eq!(app.login("two.instances@example.org", PASSWORD).await.status, 200);
    assert_eq!(app.state.bus.load::<User>(&uuid).await.unwrap().status, UserStatus::Active);

    // Another instance deactivates the user behind this one's back.
    let other = other_instance(&app);
    let at = chrono::Utc::now();
    other.execute::<User>(&uuid, UserCommand::Deactivate { at }, &Metadata::system("test")).await.unwrap();

    assert_eq!(app.state.bus.load::<User>(&uuid).await.unwrap().status, UserStatus::Inactive);
    let login = app.login("two.instances@example.org", PASSWORD).await;
    assert_ne!(login.status, 200, "a deactivated user logged in through a stale cache: {}", login.body);

    // And this instance's next write lands after the other's, not over it.
    other.execute::<User>(&uuid, UserCommand::Activate { at }, &Metadata::system("test")).await.unwrap();
    assert_eq!(app.login("two.instances@example.org", PASSWORD).await.status, 200);
    assert_cache_matches_log(&app, &uuid, "writes by two instances").await;
}

on_both_backends!(
    cached_loads_equal_a_full_fold_through_changes_and_erasure,
    a_write_by_another_instance_counts_at_the_next_command
);
