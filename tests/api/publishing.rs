//! The Kafka publisher against real Kafka-protocol brokers: librdkafka's
//! in-process mock cluster (hermetic, with broker outages) and a `tansu`
//! process (end to end, kill -9, fail-over). Every test reads the records
//! back with a real consumer and compares them with the log.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use rdkafka::mocking::MockCluster;
use roster::config::{ClientProperties, KafkaSettings};
use roster::event_id::event_id;
use roster::storage::Db;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::kafka_support::{read_all, Broker, Received};
use crate::on_both_backends;

const USER_EVENTS: &str = "elevate.user-events";

fn kafka(brokers: &str) -> KafkaSettings {
    KafkaSettings {
        brokers: brokers.to_string(),
        topic_prefix: "roster.".into(),
        topic_partitions: 3,
        replication: 1,
        user_events_topic: Some(USER_EVENTS.into()),
        organization_events_topic: None,
        delivery_timeout_ms: 2_000,
        client_properties: Default::default(),
    }
}

/// (aggregate type, aggregate id, sequence) of every event in the log.
async fn log_events(db: &Db) -> Vec<(String, String, i64)> {
    roster::on_pool!(db, pool => {
        sqlx::query_as("SELECT aggregate_type, aggregate_id, CAST(sequence AS BIGINT) FROM events ORDER BY position")
            .fetch_all(pool)
            .await
            .unwrap()
    })
}

fn all_topics() -> Vec<String> {
    roster::publisher::AGGREGATE_TYPES.iter().map(|t| format!("roster.{t}")).collect()
}

/// Reads the CloudEvents topics until every event of the log is there.
async fn published(brokers: &str, db: &Db) -> (Vec<(String, String, i64)>, Vec<Received>) {
    published_since(brokers, db, 0).await
}

/// Likewise for the events of the log after its first `skip`.
async fn published_since(brokers: &str, db: &Db, skip: usize) -> (Vec<(String, String, i64)>, Vec<Received>) {
    let expected: Vec<_> = log_events(db).await.into_iter().skip(skip).collect();
    let topics = all_topics();
    let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Re-published duplicates count as records: read further each round.
    let mut wanted = expected.len();
    loop {
        let records = read_all(brokers, &topics, wanted, Duration::from_secs(10)).await;
        let ids: HashSet<&str> = records.iter().map(|r| r.header("ce_id")).collect();
        let missing =
            expected.iter().filter(|(t, a, s)| !ids.contains(event_id(t, a, *s).to_string().as_str())).count();
        if missing == 0 || Instant::now() > deadline {
            assert_eq!(missing, 0, "{missing} of {} events never reached the broker", expected.len());
            return (expected, records);
        }
        wanted = wanted.max(records.len() + missing);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every record is a well-formed binary-mode CloudEvent, and within one key
/// (one aggregate) sequences arrive in order (repeats allowed, never backwards
/// past a first delivery).
fn assert_cloudevents(records: &[Received]) {
    let mut last_by_key: HashMap<(&str, &str), i64> = HashMap::new();
    for record in records {
        assert_eq!(record.header("ce_specversion"), "1.0");
        assert_eq!(record.header("content-type"), "application/json");
        assert_eq!(record.header("ce_source"), "/roster");
        assert_eq!(record.header("ce_subject"), record.key, "subject is the aggregate id and the key");
        let aggregate_type = record.topic.trim_start_matches("roster.");
        let sequence: i64 = record.header("ce_sequence").parse().unwrap();
        assert_eq!(record.header("ce_id"), event_id(aggregate_type, &record.key, sequence).to_string());
        let ce_type = record.header("ce_type");
        assert!(ce_type.starts_with(&format!("roster.{aggregate_type}.")) && ce_type.ends_with(".v1"), "{ce_type}");
        let event_type = ce_type.split('.').nth(2).unwrap();
        assert!(record.payload.get(event_type).is_some(), "value is the event's JSON: {}", record.payload);
        assert!(chrono::DateTime::parse_from_rfc3339(record.header("ce_time")).is_ok(), "{}", record.header("ce_time"));
        assert!(!record.header("ce_correlationid").is_empty());
        let last = last_by_key.entry((record.topic.as_str(), record.key.as_str())).or_insert(0);
        assert!(sequence == *last + 1 || sequence <= *last, "sequence {sequence} after {last} for {}", record.key);
        *last = (*last).max(sequence);
    }
}

async fn sign_up_and_change_some_users(app: &TestApp, count: usize) -> Vec<Session> {
    let mut sessions = Vec::new();
    for i in 0..count {
        let user = app.sign_up(&format!("Kafka User {i}"), &format!("kafka{i}@example.com")).await;
        let reply = app
            .patch("/user/v1/user/update", Some(&user.access_token), Some(json!({"about": format!("about {i}")})))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        sessions.push(user);
    }
    sessions
}

async fn every_event_reaches_a_real_broker_as_a_cloudevent(backend: Backend) {
    let broker = Broker::start().await;
    let database = fresh_database(backend).await;
    let app = spawn_app_with(database, |s| s.kafka = Some(kafka(&broker.address()))).await;
    let users = sign_up_and_change_some_users(&app, 3).await;
    let renamed =
        app.patch("/user/v1/user/update", Some(&users[0].access_token), Some(json!({"name": "Renamed User"}))).await;
    assert_eq!(renamed.status, 200);
    // A password reset puts an OTP's hash, its mail (with the code) and a
    // new password hash in the log: none of them may leave it.
    let asked = app.post("/user/v1/account/generateOtp", None, json!({"email": "kafka1@example.com"})).await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let otp = otp_in(&wait_for_mail(&app, "kafka1@example.com", 1).await).expect("the OTP mail");
    let reset = app
        .post(
            "/user/v1/account/resetPassword",
            None,
            json!({"email": "kafka1@example.com", "password": "N3w!password", "otp": otp}),
        )
        .await;
    assert_eq!(reset.status, 200, "{}", reset.body);

    let (expected, records) = published(&broker.address(), &app.state.db).await;
    assert!(records.len() >= expected.len());
    assert_cloudevents(&records);

    // The ELEVATE-shaped stream: a create per user, updates with old and new values.
    let elevate = read_all(&broker.address(), &[USER_EVENTS], 7, Duration::from_secs(20)).await;
    let first_id = users[0].user["id"].clone();
    let of_first: Vec<&Value> =
        elevate.iter().filter(|r| r.payload["entityId"] == first_id).map(|r| &r.payload).collect();
    assert_eq!(of_first[0]["eventType"], "create", "{of_first:?}");
    assert_eq!(of_first[0]["entity"], "user");
    assert_eq!(of_first[0]["email"], "kafka0@example.com");
    assert!(of_first[0]["organizations"][0]["roles"].as_array().is_some_and(|r| !r.is_empty()));
    let rename = of_first.iter().find(|m| m["newValues"]["name"] == "Renamed User").expect("the rename is published");
    assert_eq!(rename["eventType"], "update");
    assert_eq!(rename["oldValues"]["name"], "Kafka User 0");
    assert_eq!(elevate.iter().filter(|r| r.payload["eventType"] == "create").count(), 3);

    // No credential material leaves the service: not on Kafka (either
    // stream), not in the audit API, not in an export.
    for record in records.iter().chain(&elevate) {
        assert_no_credentials(&format!("Kafka record on {}", record.topic), &record.payload.to_string());
    }
    let admin = app.admin_session().await;
    let audit = app.get("/user/v1/audit/events?limit=1000", Some(&admin.access_token)).await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    assert!(audit.result()["events"].as_array().is_some_and(|e| e.len() >= expected.len()));
    assert_no_credentials("the audit API", &audit.body.to_string());
    let history = format!("/user/v1/audit/users/{}/history", users[0].user["id"]);
    assert_no_credentials("a user's history", &app.get(&history, Some(&admin.access_token)).await.body.to_string());
    let export = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["events", "export"])
        .env("DATABASE_URL", &app.database.url)
        .env("RUST_LOG", "error")
        .env_remove("KAFKA_BROKERS")
        .output()
        .unwrap();
    assert!(export.status.success());
    let exported = String::from_utf8_lossy(&export.stdout);
    assert!(exported.contains("UserRegistered"), "the export holds the registrations");
    assert_no_credentials("an export", &exported);
}

/// Password hashes (and any other credential) must not appear in `text`.
/// OTP hashes and the outbox's mail bodies (which carry the OTP) count as credentials.
fn assert_no_credentials(what: &str, text: &str) {
    for needle in ["password_hash", "$argon2", "otp_hash", "mail_body", "do not share"] {
        assert!(!text.contains(needle), "{what} carries {needle}: {}", &text[..text.len().min(500)]);
    }
}

/// Hermetic: librdkafka's mock cluster, taken down and brought back.
async fn commands_succeed_while_the_broker_is_down_and_everything_follows_later(backend: Backend) {
    let cluster = MockCluster::new(1).unwrap();
    // The mock cluster has no CreateTopics; the publisher sees them exist and leaves them.
    for topic in all_topics().iter().map(String::as_str).chain([USER_EVENTS]) {
        cluster.create_topic(topic, 3, 1).unwrap();
    }
    let brokers = cluster.bootstrap_servers();
    let database = fresh_database(backend).await;
    let app = spawn_app_with(database, |s| s.kafka = Some(kafka(&brokers))).await;
    sign_up_and_change_some_users(&app, 1).await;
    published(&brokers, &app.state.db).await;

    cluster.broker_down(1).unwrap();
    // Commands do not wait for Kafka.
    let started = Instant::now();
    let during: Vec<Session> = {
        let mut made = Vec::new();
        for i in 0..3 {
            made.push(app.sign_up(&format!("Outage {i}"), &format!("outage{i}@example.com")).await);
        }
        made
    };
    assert_eq!(during.len(), 3);
    assert!(started.elapsed() < Duration::from_secs(10), "commands waited for the broker");
    // Health reports Kafka down meanwhile.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let health = app.client.get(app.url("/health")).send().await.unwrap();
        let status = health.status();
        let body: Value = health.json().await.unwrap();
        let kafka = body["result"]["checks"].as_array().unwrap().iter().find(|c| c["name"] == "Kafka").cloned();
        if status == 503 && kafka.is_some_and(|k| k["healthy"] == false) {
            break;
        }
        assert!(Instant::now() < deadline, "health never reported Kafka down: {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    cluster.broker_up(1).unwrap();
    let (_, records) = published(&brokers, &app.state.db).await;
    assert_cloudevents(&records);
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.client.get(app.url("/health")).send().await.unwrap().status() != 200 {
        assert!(Instant::now() < deadline, "health did not recover");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// kill -9 mid-stream, restart: every committed event is on the broker.
async fn kill_nine_mid_stream_loses_nothing_on_the_broker(backend: Backend) {
    let broker = Broker::start().await;
    let database = fresh_database(backend).await;
    let env = [("KAFKA_BROKERS", broker.address()), ("EVENT_USER_KAFKA_TOPIC", USER_EVENTS.to_string())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut server = start_server(&database.url, &env).await;
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let writer = tokio::spawn(async move {
        for i in 0.. {
            let response = client
                .post(format!("{base}/user/v1/account/create"))
                .json(&json!({"name": format!("Stream {i}"), "email": format!("stream{i}@example.com"), "password": PASSWORD}))
                .send()
                .await;
            if response.is_err() {
                return i;
            }
        }
        unreachable!()
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill_nine();
    let written = writer.await.unwrap();
    assert!(written > 0, "the writer got some sign-ups in before the kill");

    let _restarted = start_server(&database.url, &env).await;
    let db = Db::connect(&database.url, 2).await.unwrap();
    let (expected, records) = published(&broker.address(), &db).await;
    assert!(expected.len() > written);
    assert_cloudevents(&records);
}

/// The broker is replaced by an empty one on the same address (in-memory
/// tansu: no topics, no producer ids): the idempotent producer that knew the
/// old one is stuck for good, so the publisher must build a new one and
/// re-create the topics, without a restart. Events acknowledged by the lost
/// broker are not re-sent by themselves (the checkpoint is past them);
/// `roster publisher republish` sends the history again.
async fn a_broker_that_lost_its_state_gets_every_later_event_without_a_restart(backend: Backend) {
    let mut broker = Broker::start().await;
    let port = broker.port;
    let database = fresh_database(backend).await;
    let app = spawn_app_with(database, |s| s.kafka = Some(kafka(&broker.address()))).await;
    sign_up_and_change_some_users(&app, 2).await;
    let (before, _) = published(&broker.address(), &app.state.db).await;

    broker.stop();
    let broker = Broker::start_on(port).await;
    for i in 0..3 {
        app.sign_up(&format!("After {i}"), &format!("after{i}@example.com")).await;
    }
    let started = Instant::now();
    let (after, records) = published_since(&broker.address(), &app.state.db, before.len()).await;
    assert!(after.len() >= 3, "the sign-ups after the restart are in the log: {after:?}");
    assert_cloudevents(&records);
    let ids: HashSet<&str> = records.iter().map(|r| r.header("ce_id")).collect();
    let (t, a, s) = &before[0];
    assert!(!ids.contains(event_id(t, a, *s).to_string().as_str()), "history is not re-sent by itself");
    // Health follows within a bound, and the publisher keeps going.
    while app.client.get(app.url("/health")).send().await.unwrap().status() != 200 {
        assert!(started.elapsed() < Duration::from_secs(30), "health did not recover after the broker came back");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    app.sign_up("Later", "later@example.com").await;
    published_since(&broker.address(), &app.state.db, before.len()).await;

    // The operator re-publishes the lost history while the service runs.
    let republish = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["publisher", "republish"])
        .env("DATABASE_URL", &app.database.url)
        .env("RUST_LOG", "error")
        .env_remove("KAFKA_BROKERS")
        .output()
        .unwrap();
    assert!(republish.status.success(), "{}", String::from_utf8_lossy(&republish.stderr));
    let (all, records) = published(&broker.address(), &app.state.db).await;
    assert!(all.len() > before.len() + after.len());
    assert_cloudevents(&records);
}

on_both_backends!(
    a_broker_that_lost_its_state_gets_every_later_event_without_a_restart,
    every_event_reaches_a_real_broker_as_a_cloudevent,
    commands_succeed_while_the_broker_is_down_and_everything_follows_later,
    kill_nine_mid_stream_loses_nothing_on_the_broker,
);

/// Two instances on one PostgreSQL: one publishes; kill it and the other
/// takes over within the fail-over bound, with no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_instance_takes_over_publishing_when_the_active_one_dies() {
    let broker = Broker::start().await;
    let database = fresh_database(Backend::Postgres).await;
    let env = [("KAFKA_BROKERS", broker.address())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut first = start_server(&database.url, &env).await;
    let second = start_server(&database.url, &env).await;
    let db = Db::connect(&database.url, 2).await.unwrap();
    let client = reqwest::Client::new();
    let sign_up = |base: String, i: usize| {
        let client = client.clone();
        async move {
            let reply = client
                .post(format!("{base}/user/v1/account/create"))
                .json(&json!({"name": format!("Node {i}"), "email": format!("node{i}@example.com"), "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 200);
            let body: Value = reply.json().await.unwrap();
            body["result"]["access_token"].as_str().unwrap().to_string()
        }
    };
    for i in 0..3 {
        sign_up(first.base.clone(), i).await;
    }
    published(&broker.address(), &db).await;
    let active = |base: String| async move {
        let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
        metrics.lines().any(|l| l.starts_with("roster_publisher_active") && l.trim_end().ends_with(" 1"))
    };
    assert!(active(first.base.clone()).await, "the first instance leads");
    assert!(!active(second.base.clone()).await, "the second one stands by");

    // The first instance started first, so it holds the lock; kill it.
    first.kill_nine();
    let killed_at = Instant::now();
    let mut token = String::new();
    for i in 3..6 {
        token = sign_up(second.base.clone(), i).await;
    }
    while !active(second.base.clone()).await {
        assert!(killed_at.elapsed() < Duration::from_secs(10), "no take-over within 10 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (expected, records) = published(&broker.address(), &db).await;
    assert_cloudevents(&records);
    assert!(expected.len() > 6);
    // The projections moved over too: the standby's read models show its own writes.
    loop {
        let listed = second.get_as(&client, "/user/v1/account/list?search=node%205", &token).await;
        if listed["result"]["count"] == 1 {
            break;
        }
        assert!(killed_at.elapsed() < Duration::from_secs(20), "read models did not move over: {listed}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Operator properties reach every client: TLS asked of a plaintext broker
/// makes publishing fail (the admin client does not create the topics
/// either) and health says so; a property Roster owns or librdkafka does not
/// know stops the start, naming it and never showing a secret value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_client_properties_reach_every_client_and_bad_ones_stop_the_start() {
    let broker = Broker::start().await;
    let database = fresh_database(Backend::Sqlite).await;
    let app = spawn_app_with(database, |s| {
        let mut settings = kafka(&broker.address());
        settings.client_properties = ClientProperties(vec![("security.protocol".into(), "ssl".into())]);
        s.kafka = Some(settings);
    })
    .await;
    app.sign_up("Tls User", "tls@example.com").await;
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let health = app.client.get(app.url("/health")).send().await.unwrap();
        let status = health.status();
        let body: Value = health.json().await.unwrap();
        let kafka = body["result"]["checks"].as_array().unwrap().iter().find(|c| c["name"] == "Kafka").cloned();
        if status == 503 && kafka.is_some_and(|k| k["errMsg"].as_str().is_some_and(|m| m.contains("publishing fails")))
        {
            break;
        }
        assert!(Instant::now() < deadline, "health never reported the failing publisher: {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(read_all(&broker.address(), &["roster.user"], 1, Duration::from_secs(3)).await.is_empty());

    for (name, value, named) in [
        ("KAFKA_PROPERTY_ENABLE_IDEMPOTENCE", "false", "KAFKA_PROPERTY_ENABLE_IDEMPOTENCE"),
        ("KAFKA_PROPERTY_NO_SUCH_PROPERTY", "1", "no.such.property"),
        ("KAFKA_PROPERTY_SASL_PASSWORD_TYPO", "hunter2-secret", "sasl.password.typo"),
    ] {
        let database = fresh_database(Backend::Sqlite).await;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
            .arg("serve")
            .env("DATABASE_URL", &database.url)
            .env("ROSTER_ADDR", "127.0.0.1:0")
            .env("KAFKA_BROKERS", broker.address())
            .env(name, value)
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{name}={value} did not stop the start");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(!status.success());
        assert!(stderr.contains(named) && !stderr.contains("hunter2"), "{name}={value}: {stderr}");
    }
}
