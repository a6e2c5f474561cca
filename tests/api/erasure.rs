//! Erasure in an append-only log: personal values are stored encrypted, and
//! deleting a user destroys the key, so the events table, an export and a
//! replay no longer hold anything personal — while the log keeps every event.

use reqwest::Method;
use roster::projector::Projector;
use roster::storage::log::CommitPoint;
use roster::storage::Db;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

const EMAIL: &str = "zebulon.quixote@example.org";
const NAME: &str = "Zebulon Quixote";
const PHONE: &str = "+4915112345678";
const ABOUT: &str = "collects-rare-marmalade";
const NEW_NAME: &str = "Zeb Quixotic";

/// Every byte of the events table, as text.
async fn events_table_text(db: &Db) -> String {
    let rows: Vec<String> = roster::on_pool!(db, pool => {
        sqlx::query_scalar(
            "SELECT aggregate_type || '|' || aggregate_id || '|' || event_type || '|' || CAST(payload AS TEXT) \
             || '|' || CAST(metadata AS TEXT) FROM events",
        )
        .fetch_all(pool)
        .await
        .unwrap()
    });
    rows.join("\n")
}

/// What `roster events export` prints: the whole log through the reader.
async fn export_text(db: &Db) -> String {
    let mut after = CommitPoint::default();
    let mut text = String::new();
    loop {
        let batch = db.events_after(after, 1000).await.unwrap();
        let Some(last) = batch.last() else { break };
        after = last.point;
        for entry in batch {
            text.push_str(&entry.event.payload.to_string());
            text.push('\n');
        }
    }
    text
}

async fn event_keys(db: &Db) -> Vec<(String, String, i64)> {
    roster::on_pool!(db, pool => {
        sqlx::query_as("SELECT aggregate_type, aggregate_id, CAST(sequence AS BIGINT) FROM events")
            .fetch_all(pool)
            .await
            .unwrap()
    })
}

fn personal_values() -> [&'static str; 5] {
    [EMAIL, NAME, PHONE, ABOUT, NEW_NAME]
}

async fn deleted_users_leave_nothing_personal_in_log_export_or_replay(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = app.state.db.clone();
    let admin = app.admin_session().await;
    let created = app
        .post(
            "/user/v1/account/create",
            None,
            json!({"name": NAME, "email": EMAIL, "password": PASSWORD, "phone": PHONE}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let user = session(&created);
    let updated = app
        .patch("/user/v1/user/update", Some(&user.access_token), Some(json!({"about": ABOUT, "name": NEW_NAME})))
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);

    // Encrypted at rest from the start, readable through the log reader.
    let table = events_table_text(&db).await;
    let export = export_text(&db).await;
    for value in personal_values() {
        assert!(!table.contains(value), "{value} stored in plain text");
        assert!(export.contains(value), "{value} not readable before erasure");
    }
    let events_before = event_keys(&db).await;

    let id = user.user["id"].as_i64().unwrap();
    let deleted =
        app.call(Method::DELETE, &format!("/user/v1/admin/deleteUser/{id}"), Some(&admin.access_token), None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);

    // The log keeps every event (and gains the deletion and released claims) ...
    let events_after = event_keys(&db).await;
    assert!(events_before.iter().all(|e| events_after.contains(e)), "no event was removed or rewritten away");
    assert!(events_after.len() > events_before.len());
    // ... but nothing personal is recoverable from it any more.
    let table = events_table_text(&db).await;
    let export = export_text(&db).await;
    let key_rows: Vec<Option<String>> = roster::on_pool!(&db, pool => {
        sqlx::query_scalar("SELECT secret FROM personal_data_keys WHERE subject = $1")
            .bind(user.user["uuid"].as_str().or(user.user["user_uuid"].as_str()).unwrap_or_default())
            .fetch_all(pool)
            .await
            .unwrap()
    });
    assert!(key_rows.iter().all(Option::is_none), "the key is destroyed");
    for value in personal_values() {
        assert!(!table.contains(value), "{value} left in the events table");
        assert!(!export.contains(value), "{value} left in the export");
    }

    // The audit trail still tells what happened, without who it was.
    let history = app.get(&format!("/user/v1/audit/users/{id}/history"), Some(&admin.access_token)).await;
    assert_eq!(history.status, 200, "{}", history.body);
    let events = history.result()["events"].as_array().cloned().unwrap_or_default();
    assert!(events.iter().any(|e| e["event_type"] == "UserRegistered"));
    assert!(events.iter().any(|e| e["event_type"] == "UserDeleted"));
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let state = app
        .get(&format!("/user/v1/audit/users/{id}/state?at={}", now.replace('+', "%2B")), Some(&admin.access_token))
        .await;
    assert_eq!(state.status, 200, "{}", state.body);
    for value in personal_values() {
        assert!(!history.body.to_string().contains(value), "{value} in the audit history");
        assert!(!state.body.to_string().contains(value), "{value} in the rebuilt state");
    }

    // A replay rebuilds read models from the erased log: nothing personal either.
    Projector::new(db.clone()).rebuild(|_, _| {}).await.unwrap();
    let replayed = format!("{:?}", dump(&db).await);
    for value in personal_values() {
        assert!(!replayed.contains(value), "{value} back after replay");
    }
    assert!(replayed.contains("DELETED"), "the erased user is still there as deleted");

    // The email is free again, and the new owner's data is unaffected.
    let again = app
        .post("/user/v1/account/create", None, json!({"name": "New Owner", "email": EMAIL, "password": PASSWORD}))
        .await;
    assert_eq!(again.status, 201, "{}", again.body);
    assert!(export_text(&db).await.contains(EMAIL));
    let login = app.login(EMAIL, PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.body);
}

on_both_backends!(deleted_users_leave_nothing_personal_in_log_export_or_replay);
