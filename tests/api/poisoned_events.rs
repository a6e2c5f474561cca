//! One event that a read table refuses must not stop its read model, and a
//! replay that meets one must not empty what it rebuilds (issue 11).
//!
//! Poison is put into the log behind the API's back, the way an older
//! version or a hand-made import could have: an organisation whose numeric
//! id clashes with a row already in the read table (fixable: remove the
//! row), a payload that no version decodes (fixable only in the log), and a
//! NUL character, which PostgreSQL's text refuses and the runner strips.

use std::time::{Duration, Instant};

use aggregates::{Organization, OrganizationCommand};
use reqwest::StatusCode;
use roster::bootstrap::organization_uuid;
use roster::commands::{Committed, Metadata};
use roster::error::ServiceError;
use roster::projector::Projector;
use roster::storage::Db;
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_backends;

async fn exec(db: &Db, sql: &str) {
    roster::on_pool!(db, pool => { sqlx::query(sql).execute(pool).await.unwrap(); });
}

/// A read-table row no event wrote, in the way of organisation 999.
async fn squat_organization_999(db: &Db) {
    exec(
        db,
        "INSERT INTO organizations (id, org_uuid, name, code, description, status, created_at, updated_at) \
         VALUES (999, 'squatter', 'Squatter', 'squatter', '', 'ACTIVE', 't', 't')",
    )
    .await;
}

async fn create_organization(app: &TestApp, numeric_id: i64, code: &str, description: &str) -> Committed {
    let create = OrganizationCommand::Create {
        numeric_id,
        name: format!("Org {code}"),
        code: code.to_string(),
        description: description.to_string(),
        at: chrono::Utc::now(),
    };
    app.state
        .bus
        .execute::<Organization>(&organization_uuid(numeric_id), create, &Metadata::system("poison-test"))
        .await
        .unwrap()
}

/// An event no version of Roster can decode, appended with plain SQL.
async fn append_undecodable(db: &Db) {
    let sql =
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
               VALUES ('organization', 'undecodable', 1, 'OrganizationCreated', '1', \
               '{\"OrganizationCreated\": {\"numeric_id\": \"many\"}}', '{}')";
    exec(db, sql).await;
}

async fn read_org(app: &TestApp, token: &str, code: &str) -> Reply {
    app.get(&format!("/user/v1/organization/read?organisation_code={code}"), Some(token)).await
}

async fn wait_until_skipped(db: &Db, count: usize) -> Vec<roster::storage::failed_events::FailedEvent> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let failed = db.failed_events(Some("organizations")).await.unwrap();
        if failed.len() >= count {
            return failed;
        }
        assert!(Instant::now() < deadline, "the runner did not skip the poison: {failed:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_poison_event_is_skipped_reported_and_retried(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let token = admin.access_token.as_str();
    let db = &app.state.db;

    squat_organization_999(db).await;
    let clash = create_organization(&app, 999, "clash", "").await;
    // The write's own wait says what happened instead of a later "not found".
    match app.state.settle(clash).await {
        Err(ServiceError::NotProjected(projections)) => assert_eq!(projections, vec!["organizations".to_string()]),
        other => panic!("the writer must hear that its event was skipped: {other:?}"),
    }
    append_undecodable(db).await;
    let nul = create_organization(&app, 1001, "nulorg", "a\0b").await;
    app.state.settle(nul).await.expect("an event with NUL applies, the NUL stripped");

    // Later events of the same read model still apply, through the API too.
    let after = app
        .post("/user/v1/organization/create", Some(token), serde_json::json!({"name": "After", "code": "after"}))
        .await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.body);
    assert_eq!(read_org(&app, token, "after").await.status, StatusCode::OK);
    let nul_org = read_org(&app, token, "nulorg").await;
    assert_eq!(nul_org.status, StatusCode::OK, "{}", nul_org.body);
    assert_eq!(nul_org.result()["description"], "ab", "{}", nul_org.body);

    let failed = wait_until_skipped(db, 2).await;
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(failed[0].aggregate_id, organization_uuid(999));
    assert!(!failed[0].error.is_empty());
    assert_eq!(failed[1].aggregate_id, "undecodable");
    assert!(failed[1].error.contains("cannot decode OrganizationCreated"), "{}", failed[1].error);

    // Health shows the read model degraded, and still serves.
    let health = app.get("/health", None).await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.body);
    assert_eq!(health.body["result"]["degraded"], true, "{}", health.body);
    let checks = health.body["result"]["checks"].as_array().unwrap();
    assert!(checks.iter().any(|c| c["name"] == "projections" && c["err"] == "DEGRADED"), "{}", health.body);
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("roster_projection_failed_events_total"), "the failures are counted");

    // Nothing applies while the cause is still there.
    let report = app.state.projector.retry_failed(Some("organizations"), None).await.unwrap();
    assert_eq!((report.applied, report.still_failing), (0, 2));
    assert_eq!(db.failed_events(None).await.unwrap()[0].attempts, 2, "a retry counts as an attempt");

    // The fix: the squatting row goes, and the log's bad payload is corrected.
    exec(db, "DELETE FROM organizations WHERE org_uuid = 'squatter'").await;
    let report = app.state.projector.retry_failed(None, Some(failed[0].position)).await.unwrap();
    assert_eq!((report.applied, report.still_failing), (1, 0));
    assert_eq!(read_org(&app, token, "clash").await.status, StatusCode::OK, "the retried event applied");
    exec(
        db,
        "UPDATE events SET payload = '{\"OrganizationCreated\": {\"numeric_id\": 1002, \"name\": \"Mended\", \
         \"code\": \"mended\", \"description\": \"\", \"at\": \"2026-01-01T00:00:00Z\"}}' \
         WHERE aggregate_id = 'undecodable'",
    )
    .await;
    let report = app.state.projector.retry_failed(None, None).await.unwrap();
    assert_eq!((report.applied, report.still_failing), (1, 0));
    assert_eq!(read_org(&app, token, "mended").await.status, StatusCode::OK);
    assert!(db.failed_events(None).await.unwrap().is_empty());
    let health = app.get("/health", None).await;
    assert_eq!(health.body["result"]["degraded"], false, "{}", health.body);
}

async fn a_failed_replay_leaves_the_read_models_and_the_service_as_they_were(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.admin_session().await;
    let token = admin.access_token.as_str();
    app.sign_up("Replayed", "replayed@example.com").await;
    append_undecodable(&app.state.db).await;
    wait_until_skipped(&app.state.db, 1).await;
    let live = dump(&app.state.db).await;

    // A second process on the same database, as `roster replay` is.
    let db = Db::connect(&app.database.url, 12).await.unwrap();
    let error = Projector::new(db.clone()).rebuild(|_, _| {}).await.unwrap_err().to_string();
    assert!(error.contains("organizations") && error.contains("OrganizationCreated"), "{error}");
    assert!(error.contains("unchanged"), "{error}");
    assert_eq!(dump(&app.state.db).await, live, "a failed replay leaves every read model as it was");

    // The service still answers, reads and writes.
    let login = app.login("replayed@example.com", PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let list = app.get("/user/v1/organization/list", Some(token)).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    app.sign_up("After Replay", "after.replay@example.com").await;

    // With --skip-failed the replay records the event and rebuilds the rest.
    Projector::new(db.clone()).rebuild_with(true, |_, _| {}).await.unwrap();
    let failed = db.failed_events(None).await.unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].aggregate_id, "undecodable");
    assert_eq!(app.login("after.replay@example.com", PASSWORD).await.status, StatusCode::OK);
    let rebuilt = dump(&app.state.db).await;
    Projector::new(db.clone()).rebuild_with(true, |_, _| {}).await.unwrap();
    assert_eq!(dump(&app.state.db).await, rebuilt, "a second replay gives the same tables");
}

/// The CLI around the same tools: `replay` exits non-zero naming the event,
/// `projections failed` lists it as JSON lines, `projections retry` fails
/// while it still fails.
async fn the_cli_reports_and_retries_failed_events(backend: Backend) {
    let app = spawn_stoppable(fresh_database(backend).await, |_| {}).await;
    append_undecodable(&app.app.state.db).await;
    wait_until_skipped(&app.app.state.db, 1).await;
    // `replay` takes the SQLite file's process lock: the service stops first.
    let database = app.stop().await;
    let roster = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(args)
            .env("DATABASE_URL", &database.url)
            .env("RUST_LOG", "error")
            .env_remove("KAFKA_BROKERS")
            .output()
            .unwrap()
    };
    let replay = roster(&["replay"]);
    let stderr = String::from_utf8_lossy(&replay.stderr);
    assert!(!replay.status.success(), "{stderr}");
    assert!(stderr.contains("position") && stderr.contains("undecodable"), "{stderr}");

    let listed = roster(&["projections", "failed"]);
    assert!(listed.status.success());
    let lines: Vec<Value> =
        String::from_utf8_lossy(&listed.stdout).lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["projection"], "organizations");
    assert_eq!(lines[0]["aggregate_id"], "undecodable");

    let retry = roster(&["projections", "retry"]);
    assert!(!retry.status.success(), "a retry that still fails says so");
    assert!(String::from_utf8_lossy(&retry.stderr).contains("0 event(s) applied, 1 still failing"));
    let unknown = roster(&["projections", "failed", "--projection", "nope"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown projection nope"));
}

on_both_backends!(
    a_poison_event_is_skipped_reported_and_retried,
    a_failed_replay_leaves_the_read_models_and_the_service_as_they_were,
    the_cli_reports_and_retries_failed_events,
);
