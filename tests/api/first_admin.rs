//! The first admin without `ADMIN_SECRET_CODE`: the one-time bootstrap from
//! `ROSTER_BOOTSTRAP_ADMIN_*` and `roster admin create`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use reqwest::StatusCode;
use roster::config::BootstrapAdmin;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

fn bootstrap(email: &str) -> Option<BootstrapAdmin> {
    Some(BootstrapAdmin { email: email.into(), password: PASSWORD.into(), name: "Boot Admin".into() })
}

async fn admin_login(app: &TestApp, email: &str) -> Reply {
    app.post("/user/v1/admin/login", None, json!({"email": email, "password": PASSWORD})).await
}

async fn admin_count(app: &TestApp) -> i64 {
    roster::on_pool!(&app.state.db, pool => {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM user_roles WHERE role_id = 4").fetch_one(pool).await.unwrap()
    })
}

async fn bootstrap_admin_is_created_once(backend: Backend) {
    let database = fresh_database(backend).await;
    let first = spawn_stoppable(database, |s| {
        s.admin_secret_code = None;
        s.bootstrap_admin = bootstrap("boot@example.com");
    })
    .await;
    let login = admin_login(&first.app, "boot@example.com").await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert_eq!(login.result()["user"]["name"], "Boot Admin");
    assert_eq!(admin_count(&first.app).await, 1);
    let database = first.stop().await;

    // Same email again, then another one: an admin exists, so nobody is created.
    let again = spawn_stoppable(database, |s| s.bootstrap_admin = bootstrap("boot@example.com")).await;
    assert_eq!(admin_count(&again.app).await, 1);
    let database = again.stop().await;
    let other = spawn_stoppable(database, |s| s.bootstrap_admin = bootstrap("other@example.com")).await;
    assert_eq!(admin_count(&other.app).await, 1);
    assert!(roster::read_models::user_by_email(&other.app.state.db, "other@example.com").await.unwrap().is_none());
    assert_ne!(admin_login(&other.app, "other@example.com").await.status, StatusCode::OK);
    assert_eq!(admin_login(&other.app, "boot@example.com").await.status, StatusCode::OK);
}

/// A weak bootstrap password stops the start with the variable named.
async fn a_weak_bootstrap_password_is_refused(backend: Backend) {
    let database = fresh_database(backend).await;
    let mut settings = test_settings(&database.url);
    settings.bootstrap_admin =
        Some(BootstrapAdmin { email: "weak@example.com".into(), password: "abc".into(), name: "Weak".into() });
    let error = match roster::app::Application::build(settings).await {
        Ok(_) => panic!("a weak bootstrap password must stop the start"),
        Err(error) => format!("{error:#}"),
    };
    assert!(error.contains("ROSTER_BOOTSTRAP_ADMIN") && error.contains("password"), "{error}");
}

fn admin_create(database_url: &str, email: &str, password: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["admin", "create", "--email", email, "--name", "Cli Admin"])
        .env("DATABASE_URL", database_url)
        .env("ROSTER_MASTER_KEY", MASTER_KEY)
        .env("RUST_LOG", "error")
        .env_remove("KAFKA_BROKERS")
        .env_remove("ADMIN_SECRET_CODE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

async fn the_cli_creates_an_admin_from_stdin(backend: Backend) {
    let database = fresh_database(backend).await;
    let created = admin_create(&database.url, "cli@example.com", PASSWORD);
    let stderr = String::from_utf8_lossy(&created.stderr);
    assert!(created.status.success(), "{stderr}");
    assert!(stderr.contains("admin created"), "{stderr}");

    let weak = admin_create(&database.url, "weak@example.com", "abc");
    let stderr = String::from_utf8_lossy(&weak.stderr);
    assert!(!weak.status.success(), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("roster: ") && stderr.contains("password"), "{stderr}");

    let taken = admin_create(&database.url, "cli@example.com", PASSWORD);
    assert!(!taken.status.success());
    assert!(String::from_utf8_lossy(&taken.stderr).contains("already exists"));

    let app = spawn_app_with(database, |s| s.admin_secret_code = None).await;
    let login = admin_login(&app, "cli@example.com").await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert!(roster::read_models::user_by_email(&app.state.db, "weak@example.com").await.unwrap().is_none());
    assert_eq!(admin_count(&app).await, 1);
}

on_both_backends!(
    bootstrap_admin_is_created_once,
    a_weak_bootstrap_password_is_refused,
    the_cli_creates_an_admin_from_stdin,
);

/// Two instances starting at once on one PostgreSQL with the same bootstrap
/// email: the email claim lets one create the admin, and the other starts
/// normally, having found it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_starting_at_once_create_one_bootstrap_admin() {
    let database = fresh_database(Backend::Postgres).await;
    let build = || {
        let mut settings = test_settings(&database.url);
        settings.bootstrap_admin = bootstrap("boot@example.com");
        roster::app::Application::build(settings)
    };
    let (first, second) = tokio::join!(build(), build());
    let (first, second) = match (first, second) {
        (Ok(first), Ok(second)) => (first, second),
        (first, second) => panic!("both start: {:?} / {:?}", first.err(), second.err()),
    };
    let count: i64 = roster::on_pool!(&first.state().db, pool => {
        sqlx::query_scalar("SELECT count(*) FROM user_roles WHERE role_id = 4").fetch_one(pool).await.unwrap()
    });
    assert_eq!(count, 1);
    first.stop().await;
    second.stop().await;
}
