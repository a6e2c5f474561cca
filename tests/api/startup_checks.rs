//! Configuration refused at start with a one-line error that names the
//! variable and the fix, rather than accepted and failing later.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use roster::app::Application;
use roster::config::Settings;

use crate::helpers::*;
use crate::on_both_backends;

async fn refused(settings: Settings) -> String {
    match Application::build(settings).await {
        Ok(_) => panic!("the app must refuse to start"),
        Err(error) => format!("{error:#}"),
    }
}

fn roster(database_url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "error")
        .env_remove("KAFKA_BROKERS")
        .output()
        .unwrap()
}

async fn an_unknown_or_admin_default_role_is_refused(backend: Backend) {
    let database = fresh_database(backend).await;
    let mut settings = test_settings(&database.url);
    settings.default_role = "nope".into();
    let error = refused(settings).await;
    assert!(error.contains("DEFAULT_ROLE=nope") && error.contains("mentee") && error.contains("mentor"), "{error}");
    assert!(!error.contains('\n'), "{error}");
    let mut settings = test_settings(&database.url);
    settings.default_role = "admin".into();
    assert!(refused(settings).await.contains("DEFAULT_ROLE=admin would make every sign-up a system admin"));
    // A real one starts, and its sign-ups get it.
    let app = spawn_app_with(database, |s| s.default_role = "mentor".into()).await;
    let user = app.sign_up("Mentor By Default", "mentor@example.com").await;
    assert_eq!(user.user["user_roles"][0]["title"], "mentor", "{}", user.user);
}

async fn a_changed_default_organisation_code_is_refused(backend: Backend) {
    let first = spawn_stoppable(fresh_database(backend).await, |_| {}).await;
    let database = first.stop().await;
    let mut settings = test_settings(&database.url);
    settings.default_organisation_code = "renamed".into();
    let error = refused(settings).await;
    assert!(
        error.contains("DEFAULT_ORGANISATION_CODE=renamed") && error.contains("DEFAULT_ORGANISATION_CODE=default"),
        "{error}"
    );
    // The refusal claimed nothing: the original code still starts, and no claim names the new one.
    let app = spawn_app_with(database, |_| {}).await;
    let claim = app.state.bus.claim_id(aggregates::ClaimKind::OrganizationCode, "renamed");
    let claims: i64 = roster::on_pool!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT count(*) FROM events WHERE aggregate_id = $1").bind(&claim).fetch_one(pool).await.unwrap()
    });
    assert_eq!(claims, 0);
}

on_both_backends!(an_unknown_or_admin_default_role_is_refused, a_changed_default_organisation_code_is_refused);

/// A second process on one SQLite file is refused at once, by the service,
/// `replay` and `migrate` alike; once the first stops, the file is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_one_sqlite_file_is_refused_at_once() {
    let first = spawn_stoppable(fresh_database(Backend::Sqlite).await, |_| {}).await;
    let url = first.app.database.url.clone();
    let started = Instant::now();
    let error = refused(test_settings(&url)).await;
    assert!(started.elapsed() < Duration::from_secs(5), "refused after {:?}", started.elapsed());
    assert!(error.contains("DATABASE_URL") && error.contains("another roster process"), "{error}");
    for args in [&["replay"][..], &["migrate"][..]] {
        let output = roster(&url, args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}: {stderr}");
        assert!(stderr.contains("another roster process"), "{args:?}: {stderr}");
    }
    let database = first.stop().await;
    let migrate = roster(&database.url, &["migrate"]);
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    spawn_app_with(database, |_| {}).await;
}

/// A PostgreSQL database that does not exist: the message says how to
/// create it, and `migrate --create-database` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_postgres_database_is_named_and_can_be_created() {
    let name = format!("roster_missing_{}", uuid::Uuid::new_v4().simple());
    let url = format!("{}/{name}", pg_server_url());
    let error = refused(test_settings(&url)).await;
    assert!(error.contains(&name) && error.contains("does not exist"), "{error}");
    assert!(error.contains("roster migrate --create-database"), "{error}");
    let migrate = roster(&url, &["migrate"]);
    assert!(!migrate.status.success());
    assert!(String::from_utf8_lossy(&migrate.stderr).contains("--create-database"));

    for _ in 0..2 {
        // The second run finds it created and only migrates.
        let created = roster(&url, &["migrate", "--create-database"]);
        assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    }
    let app = Application::build(test_settings(&url)).await.expect("starts on the created database");
    app.run_until(async {}).await.unwrap();
    let server = sqlx::PgPool::connect(&format!("{}/postgres", pg_server_url())).await.unwrap();
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&server).await.unwrap();
}

/// `events export --aggregate-type` takes the real types only, and says which.
#[test]
fn export_filters_name_every_real_aggregate_type() {
    let bad = roster("sqlite://unused.db", &["events", "export", "--aggregate-type", "nope"]);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success(), "{stderr}");
    assert!(stderr.contains("nope"), "{stderr}");
    let help = roster("sqlite://unused.db", &["events", "export", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    for aggregate_type in aggregates::AGGREGATE_TYPES {
        assert!(stderr.contains(aggregate_type), "{aggregate_type} missing from: {stderr}");
        assert!(help.contains(aggregate_type), "{aggregate_type} missing from: {help}");
    }
}
