//! The audit API (`/user/v1/audit/...`) and `roster events tail`.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_backends;
use crate::organizations::cast;

fn events(reply: &Reply) -> Vec<Value> {
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    reply.result()["events"].as_array().unwrap_or_else(|| panic!("no events: {}", reply.body)).clone()
}

fn uuid_of(s: &Session) -> String {
    s.user["uuid"].as_str().unwrap().to_string()
}

fn id_of(s: &Session) -> i64 {
    s.user["id"].as_i64().unwrap()
}

/// The whole log through the API, in one page.
async fn whole_log(app: &TestApp, token: &str) -> Vec<Value> {
    let reply = app.get("/user/v1/audit/events?limit=1000", Some(token)).await;
    assert!(reply.result()["next_cursor"].is_null(), "the test log fits in one page: {}", reply.body);
    events(&reply)
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|e| e["event_id"].as_str().unwrap().to_string()).collect()
}

async fn search_filters_by_aggregate_event_type_and_actor(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let admin = c.admin.access_token.as_str();
    // One change with a correlation id of our choosing.
    let updated = app
        .client
        .patch(app.url("/user/v1/user/update"))
        .header("X-auth-token", format!("bearer {}", c.mentee.access_token))
        .header("x-request-id", "audit-corr-1")
        .json(&json!({"name": "Mina Renamed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status().as_u16(), 200);

    let all = whole_log(&app, admin).await;
    assert!(all.len() > 20, "expected the bootstrap and cast events, got {}", all.len());
    for item in &all {
        let expected = roster::event_id::event_id(
            item["aggregate_type"].as_str().unwrap(),
            item["aggregate_id"].as_str().unwrap(),
            item["sequence"].as_i64().unwrap(),
        );
        assert_eq!(item["event_id"], json!(expected), "{item}");
        assert!(item["recorded_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{item}");
        assert!(item["payload"].is_object() && item["correlation"].is_string(), "{item}");
    }
    let expect = |filter: &dyn Fn(&Value) -> bool| ids(&all.iter().filter(|e| filter(e)).cloned().collect::<Vec<_>>());

    let orgs = events(&app.get("/user/v1/audit/events?aggregate_type=organization&limit=1000", Some(admin)).await);
    assert_eq!(ids(&orgs), expect(&|e: &Value| e["aggregate_type"] == "organization"));
    assert_eq!(orgs.iter().filter(|e| e["event_type"] == "OrganizationCreated").count(), 2);

    let mentee = uuid_of(&c.mentee);
    let own = events(&app.get(&format!("/user/v1/audit/events?aggregate_id={mentee}"), Some(admin)).await);
    assert_eq!(ids(&own), expect(&|e: &Value| e["aggregate_id"] == mentee.as_str()));
    assert_eq!(own[0]["event_type"], "UserRegistered");
    assert_eq!(own[0]["sequence"], 1);
    assert_eq!(own[0]["payload"]["UserRegistered"]["registration"]["name"], "Mina Mentee");

    let sign_ups = events(&app.get("/user/v1/audit/events?event_type=UserRegistered", Some(admin)).await);
    assert_eq!(sign_ups.len(), 4, "root, olga, mina and oscar signed up");
    assert_eq!(ids(&sign_ups), expect(&|e: &Value| e["event_type"] == "UserRegistered"));

    let admin_uuid = uuid_of(&c.admin);
    let by_admin = events(&app.get(&format!("/user/v1/audit/events?actor_id={admin_uuid}"), Some(admin)).await);
    assert_eq!(ids(&by_admin), expect(&|e: &Value| e["actor"] == admin_uuid.as_str()));
    assert!(by_admin.iter().any(|e| e["event_type"] == "OrganizationCreated"));
    assert!(by_admin.iter().any(|e| e["event_type"] == "RoleAssigned"));
    // The numeric id finds the same events.
    let by_numeric =
        events(&app.get(&format!("/user/v1/audit/events?actor_id={}", id_of(&c.admin)), Some(admin)).await);
    assert_eq!(ids(&by_numeric), ids(&by_admin));

    let renamed = events(
        &app.get(&format!("/user/v1/audit/events?aggregate_id={mentee}&event_type=ProfileUpdated"), Some(admin)).await,
    );
    assert_eq!(renamed.len(), 1);
    assert_eq!(renamed[0]["correlation"], "audit-corr-1");
    assert_eq!(renamed[0]["actor"], mentee.as_str());
    assert_eq!(renamed[0]["payload"]["ProfileUpdated"]["changes"]["name"], "Mina Renamed");

    // Time bounds are inclusive and compare with `recorded_at`.
    let middle = all[all.len() / 2]["recorded_at"].as_str().unwrap().to_string();
    let from = events(&app.get(&format!("/user/v1/audit/events?from={middle}&limit=1000"), Some(admin)).await);
    assert_eq!(ids(&from), expect(&|e: &Value| e["recorded_at"].as_str().unwrap() >= middle.as_str()));
    let to = events(&app.get(&format!("/user/v1/audit/events?to={middle}&limit=1000"), Some(admin)).await);
    assert_eq!(ids(&to), expect(&|e: &Value| e["recorded_at"].as_str().unwrap() <= middle.as_str()));
    assert!(!from.is_empty() && !to.is_empty());
    let nothing = events(&app.get("/user/v1/audit/events?to=2000-01-01T00:00:00Z", Some(admin)).await);
    assert!(nothing.is_empty());
}

async fn paging_walks_every_event_exactly_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let admin = c.admin.access_token.as_str();
    for (filter, page_size) in [("", 7), ("aggregate_type=user&", 3)] {
        let unpaged = events(&app.get(&format!("/user/v1/audit/events?{filter}limit=1000"), Some(admin)).await);
        let mut paged = Vec::new();
        let mut pages = 0;
        let mut cursor: Option<i64> = None;
        loop {
            let after = cursor.map(|c| format!("&after_position={c}")).unwrap_or_default();
            let reply = app.get(&format!("/user/v1/audit/events?{filter}limit={page_size}{after}"), Some(admin)).await;
            let page = events(&reply);
            pages += 1;
            assert!(page.len() <= page_size, "{}", reply.body);
            paged.extend(page.iter().cloned());
            match reply.result()["next_cursor"].as_i64() {
                Some(next) => {
                    assert_eq!(page.len(), page_size, "only the last page is short");
                    assert_eq!(next, page.last().unwrap()["position"].as_i64().unwrap());
                    cursor = Some(next);
                }
                None => break,
            }
            assert!(pages < 100, "paging does not end");
        }
        assert!(pages > 2, "{filter}: expected several pages, got {pages}");
        assert_eq!(ids(&paged), ids(&unpaged), "{filter}: paging lost or repeated events");
        let positions: Vec<i64> = paged.iter().map(|e| e["position"].as_i64().unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "positions ascend: {positions:?}");
        assert_eq!(ids(&paged).into_iter().collect::<HashSet<_>>().len(), paged.len());
    }
}

async fn history_by_numeric_id_and_by_uuid(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let admin = c.admin.access_token.as_str();
    let renamed = app.patch("/user/v1/user/update", Some(&c.mentee.access_token), Some(json!({"name": "M2"}))).await;
    assert_eq!(renamed.status.as_u16(), 200);

    let by_id = events(&app.get(&format!("/user/v1/audit/users/{}/history", id_of(&c.mentee)), Some(admin)).await);
    let by_uuid = events(&app.get(&format!("/user/v1/audit/users/{}/history", uuid_of(&c.mentee)), Some(admin)).await);
    assert_eq!(ids(&by_id), ids(&by_uuid));
    let sequences: Vec<i64> = by_id.iter().map(|e| e["sequence"].as_i64().unwrap()).collect();
    assert_eq!(sequences, (1..=by_id.len() as i64).collect::<Vec<_>>());
    assert!(by_id.iter().all(|e| e["aggregate_id"] == uuid_of(&c.mentee).as_str()));
    assert_eq!(by_id[0]["event_type"], "UserRegistered");
    assert_eq!(by_id.last().unwrap()["payload"]["ProfileUpdated"]["changes"]["name"], "M2");

    // Paged by sequence.
    let first = app.get(&format!("/user/v1/audit/users/{}/history?limit=1", id_of(&c.mentee)), Some(admin)).await;
    assert_eq!(ids(&events(&first)), ids(&by_id[..1]));
    assert_eq!(first.result()["next_cursor"], 1);
    let rest = app
        .get(&format!("/user/v1/audit/users/{}/history?after_sequence=1&limit=1000", id_of(&c.mentee)), Some(admin))
        .await;
    assert_eq!(ids(&events(&rest)), ids(&by_id[1..]));
    assert!(rest.result()["next_cursor"].is_null());

    let org_by_id =
        events(&app.get(&format!("/user/v1/audit/organizations/{}/history", c.other_org_id), Some(admin)).await);
    let org_uuid = org_by_id[0]["aggregate_id"].as_str().unwrap().to_string();
    let org_by_uuid = events(&app.get(&format!("/user/v1/audit/organizations/{org_uuid}/history"), Some(admin)).await);
    assert_eq!(ids(&org_by_id), ids(&org_by_uuid));
    assert_eq!(org_by_id[0]["event_type"], "OrganizationCreated");
    assert_eq!(org_by_id[0]["aggregate_type"], "organization");
    assert_eq!(org_by_id[0]["payload"]["OrganizationCreated"]["name"], "Other Org");
    let default_org = events(&app.get("/user/v1/audit/organizations/1/history", Some(admin)).await);
    assert_ne!(default_org[0]["aggregate_id"], org_uuid.as_str());

    app.get("/user/v1/audit/users/999999/history", Some(admin)).await.assert_error_envelope(404);
    app.get(&format!("/user/v1/audit/users/{}/history", uuid::Uuid::new_v4()), Some(admin))
        .await
        .assert_error_envelope(404);
    app.get("/user/v1/audit/organizations/999999/history", Some(admin)).await.assert_error_envelope(404);
    app.get("/user/v1/audit/organizations/not-an-id/history", Some(admin)).await.assert_error_envelope(404);
}

fn instant(item: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(item["recorded_at"].as_str().unwrap()).unwrap().with_timezone(&Utc)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn state_at_an_instant_is_rebuilt_from_the_log(backend: Backend) {
    let app = spawn_app(backend).await;
    let ann = app.sign_up("Ann Old", "ann@example.com").await;
    let token = ann.access_token.as_str();
    tokio::time::sleep(Duration::from_millis(30)).await;
    let renamed = app.patch("/user/v1/user/update", Some(token), Some(json!({"name": "Ann New"}))).await;
    assert_eq!(renamed.status.as_u16(), 200);

    let history = events(&app.get(&format!("/user/v1/audit/users/{}/history", id_of(&ann)), Some(token)).await);
    let signed_up = history.iter().find(|e| e["event_type"] == "UserRegistered").unwrap();
    let updated = history.iter().find(|e| e["event_type"] == "ProfileUpdated").unwrap();
    let (t1, t2) = (instant(signed_up), instant(updated));
    assert!(t1 < t2, "{t1} < {t2}");
    let app = &app;
    let state = |at: String| {
        let path = format!("/user/v1/audit/users/{}/state?at={}", id_of(&ann), at.replace('+', "%2B"));
        async move { app.get(&path, Some(token)).await }
    };

    let middle = t1 + (t2 - t1) / 2;
    let between = state(rfc3339(middle)).await;
    assert_eq!(between.status.as_u16(), 200, "{}", between.body);
    let old = between.result();
    assert_eq!(old["name"], "Ann Old");
    assert_eq!(old["email"], "ann@example.com");
    assert_eq!(old["status"], "ACTIVE");
    assert_eq!(old["id"], id_of(&ann));
    assert_eq!(old["uuid"], uuid_of(&ann).as_str());
    assert_eq!(old["roles"], json!([3]), "signed up as mentee");
    assert_eq!(old["organization_id"], 1);
    // Sign-up also logs in: the last event applied is the latest one up to `middle`.
    let last_before = history.iter().rfind(|e| instant(e) <= middle).unwrap();
    assert_eq!(old["sequence"], last_before["sequence"]);
    assert_eq!(old["event_id"], last_before["event_id"]);
    assert!(old["last_logged_in_at"].is_string(), "{old}");
    assert!(!between.body.to_string().contains("argon2"), "no password hash: {}", between.body);

    // The bound is inclusive, and offsets other than Z mean the same instant.
    assert_eq!(state(rfc3339(t1)).await.result()["name"], "Ann Old");
    let in_paris = t2.with_timezone(&chrono::FixedOffset::east_opt(3600).unwrap()).to_rfc3339();
    assert_eq!(state(in_paris).await.result()["name"], "Ann New");
    let later = state(rfc3339(Utc::now())).await;
    assert_eq!(later.result()["name"], "Ann New");
    assert_eq!(later.result()["sequence"], updated["sequence"]);

    state(rfc3339(t1 - chrono::TimeDelta::milliseconds(1))).await.assert_error_envelope(404);
    state("2000-01-01T00:00:00Z".into()).await.assert_error_envelope(404);
}

async fn users_read_only_their_own_audit_trail(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let mentee = c.mentee.access_token.as_str();
    let other = &c.org_admin;
    let at = "2100-01-01T00:00:00Z";
    for path in [
        format!("/user/v1/audit/users/{}/history", id_of(&c.mentee)),
        format!("/user/v1/audit/users/{}/history", uuid_of(&c.mentee)),
        format!("/user/v1/audit/users/{}/state?at={at}", id_of(&c.mentee)),
    ] {
        let reply = app.get(&path, Some(mentee)).await;
        assert_eq!(reply.status.as_u16(), 200, "{path}: {}", reply.body);
        assert_eq!(reply.body["responseCode"], "OK");
    }
    for path in [
        format!("/user/v1/audit/users/{}/history", id_of(other)),
        format!("/user/v1/audit/users/{}/history", uuid_of(other)),
        format!("/user/v1/audit/users/{}/state?at={at}", id_of(other)),
        // Unknown users are refused the same way: no hint of which ids exist.
        "/user/v1/audit/users/999999/history".to_string(),
        "/user/v1/audit/events".to_string(),
        "/user/v1/audit/organizations/1/history".to_string(),
    ] {
        app.get(&path, Some(mentee)).await.assert_error_envelope(403);
    }
    // Org admins are no exception; admins read anyone's.
    app.get(&format!("/user/v1/audit/users/{}/history", id_of(&c.mentee)), Some(&other.access_token))
        .await
        .assert_error_envelope(403);
    let by_admin =
        app.get(&format!("/user/v1/audit/users/{}/history", id_of(&c.mentee)), Some(&c.admin.access_token)).await;
    assert_eq!(events(&by_admin)[0]["aggregate_id"], uuid_of(&c.mentee).as_str());
    app.get(&format!("/user/v1/audit/users/{}/history", id_of(&c.mentee)), None).await.assert_error_envelope(401);
}

async fn bad_parameters_are_400_in_the_envelope(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = cast(&app).await;
    let admin = c.admin.access_token.as_str();
    let own = format!("/user/v1/audit/users/{}", id_of(&c.mentee));
    let cases = [
        ("/user/v1/audit/events?limit=0".to_string(), "limit"),
        ("/user/v1/audit/events?limit=1001".to_string(), "limit"),
        ("/user/v1/audit/events?limit=ten".to_string(), "limit"),
        ("/user/v1/audit/events?after_position=-1".to_string(), "after_position"),
        ("/user/v1/audit/events?after_position=x".to_string(), "after_position"),
        ("/user/v1/audit/events?from=yesterday".to_string(), "from"),
        ("/user/v1/audit/events?to=2026-13-01T00:00:00Z".to_string(), "to"),
        ("/user/v1/audit/events?aggregate_type=bogus".to_string(), "aggregate_type"),
        (format!("{own}/history?limit=5000"), "limit"),
        (format!("{own}/history?after_sequence=first"), "after_sequence"),
        (format!("{own}/state"), "at"),
        (format!("{own}/state?at="), "at"),
        (format!("{own}/state?at=2026-01-01"), "at"),
        (format!("{own}/state?at=not-a-time"), "at"),
    ];
    for (path, param) in cases {
        for token in [admin, c.mentee.access_token.as_str()] {
            if path.contains("/audit/events") && token != admin {
                continue;
            }
            let reply = app.get(&path, Some(token)).await;
            reply.assert_error_envelope(400);
            assert_eq!(reply.body["responseCode"], "CLIENT_ERROR");
            assert_eq!(reply.body["error"][0]["param"], param, "{path}: {}", reply.body);
        }
    }
    // Every real aggregate type is accepted, and the refusal lists them all.
    for aggregate_type in aggregates::AGGREGATE_TYPES {
        let reply = app.get(&format!("/user/v1/audit/events?aggregate_type={aggregate_type}"), Some(admin)).await;
        assert_eq!(reply.status.as_u16(), 200, "{aggregate_type}: {}", reply.body);
    }
    let bogus = app.get("/user/v1/audit/events?aggregate_type=bogus", Some(admin)).await;
    let message = bogus.body["error"][0]["msg"].as_str().unwrap_or_default().to_string();
    assert!(aggregates::AGGREGATE_TYPES.iter().all(|t| message.contains(t)), "{message}");
}

/// Lines from a child's stdout, read on a thread so the test can wait with a deadline.
fn lines_of(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if send.send(line).is_err() {
                return;
            }
        }
    });
    receive
}

async fn events_tail_follows_the_log_from_a_position(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = app.sign_up("Before Tail", "before@example.com").await;
    let start: i64 = roster::on_pool!(&app.state.db, pool => {
        sqlx::query_scalar("SELECT max(position) FROM events").fetch_one(pool).await.unwrap()
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["events", "tail", "--from-position", &start.to_string()])
        .env("DATABASE_URL", &app.database.url)
        .env("RUST_LOG", "warn")
        .env_remove("KAFKA_BROKERS")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let lines = lines_of(child.stdout.take().unwrap());
    let one = app.sign_up("After One", "one@example.com").await;
    let two = app.sign_up("After Two", "two@example.com").await;
    let renamed = app.patch("/user/v1/user/update", Some(&two.access_token), Some(json!({"name": "Two"}))).await;
    assert_eq!(renamed.status.as_u16(), 200);

    // Everything the log has after `start` by now, as the export shows it.
    let export = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["events", "export", "--from-position", &start.to_string()])
        .env("DATABASE_URL", &app.database.url)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    let exported: Vec<Value> =
        String::from_utf8(export.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(exported
        .iter()
        .any(|e| e["event_type"] == "ProfileUpdated" && e["aggregate_id"] == uuid_of(&two).as_str()));

    let mut tailed: Vec<Value> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while tailed.len() < exported.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("tail printed {} of {} events: {tailed:?}", tailed.len(), exported.len()));
        tailed.push(serde_json::from_str(&line).unwrap_or_else(|_| panic!("not a JSON line: {line}")));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // Same events, same shape as the export and the audit API, event ids included.
    assert_eq!(tailed, exported);
    assert!(tailed.iter().all(|e| e["position"].as_i64().unwrap() > start));
    assert!(!tailed.iter().any(|e| e["aggregate_id"] == uuid_of(&before).as_str()));
    let history =
        events(&app.get(&format!("/user/v1/audit/users/{}/history", id_of(&one)), Some(&one.access_token)).await);
    let tailed_one: Vec<Value> =
        tailed.iter().filter(|e| e["aggregate_id"] == uuid_of(&one).as_str()).cloned().collect();
    assert_eq!(tailed_one, history);
    assert_eq!(tailed_one[0]["event_type"], "UserRegistered");
}

on_both_backends!(
    search_filters_by_aggregate_event_type_and_actor,
    paging_walks_every_event_exactly_once,
    history_by_numeric_id_and_by_uuid,
    state_at_an_instant_is_rebuilt_from_the_log,
    users_read_only_their_own_audit_trail,
    bad_parameters_are_400_in_the_envelope,
    events_tail_follows_the_log_from_a_position,
);
