use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

async fn health_metrics_jwks_and_correlation(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/health", "/user/health"] {
        let health = app.get(path, None).await;
        assert_eq!(health.status, StatusCode::OK);
        assert_eq!(health.body["id"], "service.health.api");
        assert_eq!(health.body["result"]["healthy"], true);
        assert_eq!(health.body["result"]["checks"][0]["name"], "database");
    }

    // The request id comes back as meta.correlation and in the header.
    let response = app
        .client
        .post(app.url("/user/v1/account/login"))
        .header("x-request-id", "trace-me-123")
        .json(&json!({"email": "x@example.com", "password": "Wr0ng!pass"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-123");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["meta"]["correlation"], "trace-me-123");

    // Events carry the correlation id, the dialect and the actor.
    let s = app.sign_up("Meta Data", "meta@example.com").await;
    app.client
        .patch(app.url("/user/v1/user/update"))
        .header("x-request-id", "update-42")
        .header("X-auth-token", format!("bearer {}", s.access_token))
        .json(&json!({"about": "x"}))
        .send()
        .await
        .unwrap();
    let metadata: String = roster::on_pool!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT CAST(metadata AS TEXT) FROM events WHERE event_type = 'ProfileUpdated'").fetch_one(pool).await.unwrap()
    });
    let metadata: serde_json::Value = serde_json::from_str(&metadata).unwrap();
    assert_eq!(metadata["correlation_id"], "update-42");
    assert_eq!(metadata["dialect"], "elevate");
    assert_eq!(metadata["actor_id"], s.user["uuid"]);
    // Every ELEVATE route names its dialect, not only those under `/user/v1/user/`.
    let sign_up: String = roster::on_pool!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT CAST(metadata AS TEXT) FROM events WHERE event_type = 'UserRegistered' ORDER BY position DESC LIMIT 1").fetch_one(pool).await.unwrap()
    });
    assert_eq!(serde_json::from_str::<serde_json::Value>(&sign_up).unwrap()["dialect"], "elevate", "{sign_up}");

    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("roster_http_requests_total"), "{metrics}");
    // The writes above waited for the read models: a true histogram (bucket
    // counts a benchmark can difference), not a rolling summary.
    assert!(metrics.contains("roster_read_your_writes_wait_seconds_bucket{le=\"0.005\"}"), "{metrics}");
    assert!(metrics.contains("roster_read_your_writes_wait_seconds_count"), "{metrics}");
    assert!(
        metrics.contains("roster_http_request_duration_seconds_bucket{"),
        "request duration is a histogram: {metrics}"
    );
    // Every read model reports its lag. The recorder is shared by the tests
    // of this process, so only the shape and range are certain here; exact
    // values are checked against a server of its own below.
    for projection in app.state.projector.names() {
        let lag = gauge(&metrics, &format!("roster_projection_lag_events{{projection=\"{projection}\"}}"));
        assert!(lag.is_some_and(|lag| lag >= 0.0 && lag.fract() == 0.0), "{projection}: {metrics}");
    }

    let jwks = app.get("/.well-known/jwks.json", None).await;
    let key = &jwks.body["keys"][0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    // The published key verifies our tokens.
    let decoding = jsonwebtoken::DecodingKey::from_ed_components(key["x"].as_str().unwrap()).unwrap();
    let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    let claims = jsonwebtoken::decode::<serde_json::Value>(&s.access_token, &decoding, &validation).unwrap().claims;
    assert_eq!(claims["data"]["name"], "Meta Data");
    assert_eq!(claims["data"]["roles"][0]["title"], "mentee");
    assert!(claims["data"]["session_id"].is_string());
    assert_eq!(claims["data"]["organization_id"], 1);
}

async fn hs256_secrets_make_elevate_compatible_tokens(backend: Backend) {
    let database = fresh_database(backend).await;
    let app = spawn_app_with(database, |s| {
        s.access_token_secret = Some("access-secret".into());
        s.refresh_token_secret = Some("refresh-secret".into());
    })
    .await;
    let s = app.sign_up("Hs User", "hs@example.com").await;
    let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    let access = jsonwebtoken::decode::<serde_json::Value>(
        &s.access_token,
        &jsonwebtoken::DecodingKey::from_secret(b"access-secret"),
        &validation,
    )
    .unwrap();
    assert_eq!(access.claims["data"]["id"], s.user["id"]);
    jsonwebtoken::decode::<serde_json::Value>(
        &s.refresh_token,
        &jsonwebtoken::DecodingKey::from_secret(b"refresh-secret"),
        &validation,
    )
    .unwrap();
    assert_eq!(app.get("/user/v1/user/read", Some(&s.access_token)).await.status, StatusCode::OK);
}

async fn bootstrap_is_idempotent_across_restarts(backend: Backend) {
    let database = fresh_database(backend).await;
    let first = spawn_stoppable(database, |_| {}).await;
    let url = first.app.database.url.clone();
    let before = first.app.state.db.count_events().await.unwrap();
    // On PostgreSQL a second instance may run beside the first; it bootstraps
    // again and writes no new events. (SQLite refuses a second process.)
    if backend == Backend::Postgres {
        let beside = roster::app::Application::build(test_settings(&url)).await.unwrap();
        assert_eq!(beside.state().db.count_events().await.unwrap(), before);
        beside.stop().await;
    }
    // A restart on the same database: no new events either.
    let _database = first.stop().await;
    let second = roster::app::Application::build(test_settings(&url)).await.unwrap();
    assert_eq!(second.state().db.count_events().await.unwrap(), before);
    let roles: i64 = roster::on_pool!(&second.state().db, pool => {
        sqlx::query_scalar("SELECT count(*) FROM roles").fetch_one(pool).await.unwrap()
    });
    assert_eq!(roles, 7);
}

/// The value of the sample named `series` (name and labels as printed).
fn gauge(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The lag gauges, on a server of its own (the recorder is per process):
/// the read models catch up to zero, while a publisher whose broker is away
/// shows every event of the log as unpublished, and more after a write.
async fn lag_gauges_show_what_is_not_yet_applied_or_published(backend: Backend) {
    let database = fresh_database(backend).await;
    // Nothing listens on a port just freed: the broker is unreachable.
    let broker = format!("127.0.0.1:{}", free_port());
    let server = start_server(&database.url, &[("KAFKA_BROKERS", broker.as_str())]).await;
    let client = reqwest::Client::new();
    let metrics =
        || async { client.get(format!("{}/metrics", server.base)).send().await.unwrap().text().await.unwrap() };
    let wait_for = |what: &'static str, holds: Box<dyn Fn(&str) -> bool>| {
        let metrics = &metrics;
        async move {
            let started = std::time::Instant::now();
            loop {
                let text = metrics().await;
                if holds(&text) {
                    return text;
                }
                assert!(started.elapsed() < std::time::Duration::from_secs(40), "{what}: {text}");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    };
    let text =
        wait_for("publisher lag reported", Box::new(|t| gauge(t, "roster_publisher_lag_events").is_some())).await;
    let before = gauge(&text, "roster_publisher_lag_events").unwrap();
    // The bootstrap wrote the default organisation, roles and permissions.
    assert!(before >= 20.0, "nothing is published: {text}");

    let reply = client
        .post(format!("{}/user/v1/account/create", server.base))
        .json(&json!({"name": "Lag Watcher", "email": "lag@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::OK);

    // A sign-up appends its claims and the registration: at least two more.
    let text = wait_for(
        "publisher lag grows",
        Box::new(move |t| gauge(t, "roster_publisher_lag_events").is_some_and(|lag| lag >= before + 2.0)),
    )
    .await;
    for projection in ["users", "organizations", "roles", "permissions", "role_requests"] {
        let series = format!("roster_projection_lag_events{{projection=\"{projection}\"}}");
        assert_eq!(gauge(&text, &series), Some(0.0), "{projection} caught up: {text}");
    }

    if backend == Backend::Postgres {
        // A transaction open elsewhere (in any database of the cluster) keeps
        // the commit-order readers below it: what is written meanwhile is
        // committed but not applied, and the gauge says so until it ends.
        // Events are written directly, so the stall (which every test on
        // this server shares) lasts only until the gauge has shown it.
        use sqlx::Connection;
        let mut holder = sqlx::PgConnection::connect(&database.url).await.unwrap();
        let mut writer = sqlx::PgConnection::connect(&database.url).await.unwrap();
        let mut open = holder.begin().await.unwrap();
        sqlx::query("SELECT pg_current_xact_id()").execute(&mut *open).await.unwrap();
        for sequence in 1..=3i64 {
            sqlx::query(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
                 VALUES ('probe', 'lag', $1, 'Probed', '1', '{}', '{}')",
            )
            .bind(sequence)
            .execute(&mut writer)
            .await
            .unwrap();
        }
        let users = "roster_projection_lag_events{projection=\"users\"}";
        let held = wait_for("lag while a transaction is open", Box::new(move |t| gauge(t, users) >= Some(3.0))).await;
        open.rollback().await.unwrap();
        wait_for("lag back to zero", Box::new(move |t| gauge(t, users) == Some(0.0))).await;
        assert!(gauge(&held, users) >= Some(3.0));
    }
}

on_both_backends!(
    health_metrics_jwks_and_correlation,
    lag_gauges_show_what_is_not_yet_applied_or_published,
    hs256_secrets_make_elevate_compatible_tokens,
    bootstrap_is_idempotent_across_restarts,
);

/// The image builds the workspace as it is: every member, the build script
/// and the embedded migrations are copied into the build context.
#[test]
fn the_dockerfile_copies_every_workspace_member() {
    let manifest = include_str!("../../Cargo.toml");
    let dockerfile = include_str!("../../Dockerfile");
    let members_line = manifest.lines().find(|l| l.trim_start().starts_with("members")).expect("a members list");
    let members: Vec<&str> = members_line.split('"').skip(1).step_by(2).filter(|m| *m != ".").collect();
    assert!(members.contains(&"bench"), "{members:?}");
    let copied = |path: &str| {
        dockerfile.lines().any(|line| {
            let mut words = line.split_whitespace();
            words.next() == Some("COPY") && words.any(|w| w.trim_end_matches('/') == path)
        })
    };
    for path in members.iter().copied().chain(["src", "migrations", "build.rs", "Cargo.toml", "Cargo.lock"]) {
        assert!(copied(path), "the Dockerfile must COPY {path} (a workspace member or build input)");
    }
}
