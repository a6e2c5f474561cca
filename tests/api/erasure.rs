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
pub(crate) async fn events_table_text(db: &Db) -> String {
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
pub(crate) async fn export_text(db: &Db) -> String {
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
    assert_eq!(created.status, 200, "{}", created.body);
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
    assert_eq!(deleted.status, 202, "{}", deleted.body);

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
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(export_text(&db).await.contains(EMAIL));
    let login = app.login(EMAIL, PASSWORD).await;
    assert_eq!(login.status, 200, "{}", login.body);
}

/// What the log reader (exports, projections, the audit API) gives back:
/// every event's payload and metadata, opened.
async fn revealed_log(db: &Db) -> Vec<(String, serde_json::Value, serde_json::Value)> {
    let mut after = CommitPoint::default();
    let mut events = Vec::new();
    loop {
        let batch = db.events_after(after, 1000).await.unwrap();
        let Some(last) = batch.last() else { break };
        after = last.point;
        events.extend(batch.into_iter().map(|e| (e.event.event_type, e.event.payload, e.event.metadata)));
    }
    events
}

const FORM_SECRET: &str = "teaches-underwater-basket-weaving";

/// The caller's address in every event's metadata and a role request's
/// `form_data` are sealed like the other personal values: absent from a
/// byte search of the events table, readable through the log reader, and
/// gone with the user's key.
async fn client_addresses_and_role_request_forms_are_sealed(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = app.state.db.clone();
    let admin = app.admin_session().await;
    let asker = app.sign_up("Sealed Asker", "sealed.asker@example.com").await;
    let asked = app
        .post(
            "/user/v1/organization/requestOrgRole",
            Some(&asker.access_token),
            json!({"role": 2, "form_data": {"about": FORM_SECRET}}),
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let request_id = asked.result()["request_id"].as_i64().unwrap();

    let table = events_table_text(&db).await;
    assert!(!table.contains("127.0.0.1"), "a client address stored in plain text");
    assert!(!table.contains(FORM_SECRET), "form_data stored in plain text");
    assert!(table.contains("client_addr"), "the address is stored, sealed");

    // Opened on the way out: the metadata still says where a request came from.
    let log = revealed_log(&db).await;
    let requested = log.iter().find(|(t, ..)| t == "RoleRequested").expect("the request is logged");
    assert_eq!(requested.1["RoleRequested"]["details"]["form_data"]["about"], FORM_SECRET);
    assert_eq!(requested.2["client_addr"], "127.0.0.1", "{}", requested.2);
    let registered = log.iter().find(|(t, ..)| t == "UserRegistered").unwrap();
    assert_eq!(registered.2["client_addr"], "127.0.0.1", "{}", registered.2);
    let details =
        app.get(&format!("/user/v1/org-admin/getRequestDetails/{request_id}"), Some(&admin.access_token)).await;
    assert_eq!(details.status, 200, "{}", details.body);
    assert!(details.body.to_string().contains(FORM_SECRET), "{}", details.body);
    // The audit search shows an event once every older transaction ended
    // (its commit horizon): poll for it.
    let mut history = None;
    for _ in 0..50 {
        let found = app.get("/user/v1/audit/events?event_type=RoleRequested", Some(&admin.access_token)).await;
        assert_eq!(found.status, 200, "{}", found.body);
        if found.result()["events"].as_array().is_some_and(|e| !e.is_empty()) {
            history = Some(found);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let history = history.expect("the request reaches the audit search");
    assert!(history.body.to_string().contains("127.0.0.1"), "the audit API shows the address: {}", history.body);

    // The asker's erasure takes their addresses and their form with it.
    let id = asker.user["id"].as_i64().unwrap();
    let deleted =
        app.call(Method::DELETE, &format!("/user/v1/admin/deleteUser/{id}"), Some(&admin.access_token), None).await;
    assert_eq!(deleted.status, 202, "{}", deleted.body);
    let log = revealed_log(&db).await;
    let requested = log.iter().find(|(t, ..)| t == "RoleRequested").unwrap();
    assert_eq!(requested.1["RoleRequested"]["details"]["form_data"], json!({}), "the form reads as erased");
    assert!(requested.2.get("client_addr").is_none(), "the address reads as erased: {}", requested.2);
    let text = format!("{log:?}");
    assert!(!text.contains(FORM_SECRET));
    // ... and from the org admins' queue at once, not only after a replay.
    let details =
        app.get(&format!("/user/v1/org-admin/getRequestDetails/{request_id}"), Some(&admin.access_token)).await;
    assert!(!details.body.to_string().contains(FORM_SECRET), "{}", details.body);
    assert!(log.iter().any(|(t, ..)| t == "RoleRequestFormErased"), "the erasure is an event of the request");
    // The admin's own addresses (the deletion) are theirs, still readable.
    let deletion = log.iter().find(|(t, ..)| t == "UserDeleted").unwrap();
    assert_eq!(deletion.2["client_addr"], "127.0.0.1", "{}", deletion.2);
}

const CHANGED_EMAIL: &str = "xanthippe.changed@example.org";
const CHANGED_PHONE: &str = "+4917798765432";
const CHANGED_USERNAME: &str = "xanthippe_changed";

/// A contact change is sealed like the values it replaces: the new email,
/// phone and username are absent from the events table, readable through
/// the log reader, and gone with the user's key; both the old and the new
/// values are free afterwards.
async fn changed_contacts_leave_nothing_personal_after_erasure(backend: Backend) {
    let app = spawn_app(backend).await;
    let db = app.state.db.clone();
    let admin = app.admin_session().await;
    let user = app.sign_up(NAME, EMAIL).await;
    let changed = app
        .client
        .patch(app.url("/api/user/v1/update"))
        .header("Authorization", format!("Bearer {}", admin.access_token))
        .header("x-authenticated-user-token", &user.access_token)
        .json(&json!({"request": {"email": CHANGED_EMAIL, "phone": CHANGED_PHONE, "userName": CHANGED_USERNAME}}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200, "{}", changed.text().await.unwrap());
    let changed_values = [EMAIL, NAME, CHANGED_EMAIL, CHANGED_PHONE, CHANGED_USERNAME];
    let table = events_table_text(&db).await;
    let export = export_text(&db).await;
    assert!(export.contains("ContactChanged"), "the change is an event");
    for value in changed_values {
        assert!(!table.contains(value), "{value} stored in plain text");
        assert!(export.contains(value), "{value} not readable before erasure");
    }

    let id = user.user["id"].as_i64().unwrap();
    let deleted =
        app.call(Method::DELETE, &format!("/user/v1/admin/deleteUser/{id}"), Some(&admin.access_token), None).await;
    assert_eq!(deleted.status, 202, "{}", deleted.body);
    let table = events_table_text(&db).await;
    let export = export_text(&db).await;
    let history = app.get(&format!("/user/v1/audit/users/{id}/history"), Some(&admin.access_token)).await;
    assert_eq!(history.status, 200, "{}", history.body);
    Projector::new(db.clone()).rebuild(|_, _| {}).await.unwrap();
    let replayed = format!("{:?}", dump(&db).await);
    for value in changed_values {
        assert!(!table.contains(value), "{value} left in the events table");
        assert!(!export.contains(value), "{value} left in the export");
        assert!(!history.body.to_string().contains(value), "{value} in the audit history");
        assert!(!replayed.contains(value), "{value} back after replay");
    }
    // The deletion gave back the values the change claimed; the change gave back the first email.
    for email in [EMAIL, CHANGED_EMAIL] {
        let again = app
            .post("/user/v1/account/create", None, json!({"name": "New Owner", "email": email, "password": PASSWORD}))
            .await;
        assert_eq!(again.status, 200, "{email}: {}", again.body);
    }
    let again = app
        .post(
            "/user/v1/account/create",
            None,
            json!({"name": "Third", "email": "third@example.org", "password": PASSWORD,
                   "phone": CHANGED_PHONE, "username": CHANGED_USERNAME}),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
}

on_both_backends!(
    deleted_users_leave_nothing_personal_in_log_export_or_replay,
    client_addresses_and_role_request_forms_are_sealed,
    changed_contacts_leave_nothing_personal_after_erasure
);
