//! Inline read models (issue 17): users, organisations and role requests
//! are applied in the transaction that appends their events, so a write is
//! one commit and its caller reads it back without waiting for a runner.
//! These tests hold that to the runner's guarantees: writers in parallel
//! (with conflicts), a rebuild while they write, a slow transaction
//! elsewhere, two instances, a refused event; each ends with the live read
//! model equal to one rebuilt from the log.

use std::sync::Arc;
use std::time::Duration;

use aggregates::{ProfileChanges, User, UserCommand};
use futures::future::join_all;
use reqwest::StatusCode;
use roster::bootstrap::DEFAULT_ORGANIZATION_ID;
use roster::commands::{CommandBus, Metadata};
use roster::projector::Projector;
use roster::storage::Db;
use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

async fn exec(db: &Db, sql: &str) {
    roster::on_pool!(db, pool => { sqlx::query(sql).execute(pool).await.unwrap(); });
}

async fn scalar(db: &Db, sql: &str) -> i64 {
    roster::on_pool!(db, pool => { sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await.unwrap() })
}

/// The derived tables the dump leaves out, where the backend has them:
/// the counters and listings that triggers keep (PostgreSQL).
async fn derived(db: &Db) -> Vec<Vec<Option<String>>> {
    use sqlx::Row;
    let Db::Postgres(pool) = db else { return Vec::new() };
    let mut all = Vec::new();
    for sql in [
        "SELECT CAST(role_id AS TEXT), CAST(sum(active) AS TEXT) FROM user_list_counts GROUP BY role_id \
         HAVING sum(active) <> 0 ORDER BY role_id",
        "SELECT CAST(role_id AS TEXT), user_uuid, name, CAST(id AS TEXT) FROM role_listing ORDER BY 1, 2",
        "SELECT CAST(role_id AS TEXT), prefix, name, CAST(id AS TEXT) FROM user_search_prefixes ORDER BY 1, 2, 4",
        "SELECT CAST(role_id AS TEXT), prefix, CAST(sum(active) AS TEXT), CAST(sum(named) AS TEXT) \
         FROM user_search_prefix_counts GROUP BY role_id, prefix HAVING sum(active) <> 0 ORDER BY 1, 2",
    ] {
        for row in sqlx::query(sql).fetch_all(pool).await.unwrap() {
            all.push((0..row.len()).map(|i| row.try_get::<Option<String>, _>(i).unwrap()).collect());
        }
    }
    all
}

/// The live read models equal a rebuild from the log, derived tables too.
async fn assert_live_equals_replay(app: &TestApp, step: &str) {
    // Writes during a rebuild were left to the runner: it applies them first.
    runner_reaches_the_end(app).await;
    let live = (dump(&app.state.db).await, derived(&app.state.db).await);
    app.state.projector.rebuild(|_, _| {}).await.unwrap();
    let rebuilt = (dump(&app.state.db).await, derived(&app.state.db).await);
    assert!(live == rebuilt, "{step}: the live read models differ from a replay of the log");
}

/// From now on every UPDATE of a `users` row leaves a row in `user_row_updates`.
async fn count_user_row_updates(db: &Db) {
    exec(db, "CREATE TABLE user_row_updates (user_uuid text)").await;
    match db {
        Db::Postgres(_) => {
            exec(
                db,
                "CREATE FUNCTION count_user_row_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 INSERT INTO user_row_updates VALUES (NEW.user_uuid); RETURN NEW; END $$",
            )
            .await;
            exec(
                db,
                "CREATE TRIGGER count_user_row_update AFTER UPDATE ON users FOR EACH ROW \
                 EXECUTE FUNCTION count_user_row_update()",
            )
            .await;
        }
        Db::Sqlite(_) => {
            exec(
                db,
                "CREATE TRIGGER count_user_row_update AFTER UPDATE ON users \
                 BEGIN INSERT INTO user_row_updates VALUES (NEW.user_uuid); END",
            )
            .await
        }
    }
}

/// Renames user `uuid` through `bus`, as a profile update would.
async fn rename(bus: &CommandBus, uuid: &str, name: &str) -> roster::commands::Committed {
    let changes = ProfileChanges { name: Some(name.into()), ..Default::default() };
    let at = chrono::Utc::now();
    bus.execute::<User>(uuid, UserCommand::UpdateProfile { changes, at }, &Metadata::system("inline-test"))
        .await
        .unwrap()
}

/// The name the users read model holds for `uuid`.
async fn listed_name(db: &Db, uuid: &str) -> String {
    roster::on_pool!(db, pool => {
        sqlx::query_scalar("SELECT name FROM users WHERE user_uuid = $1").bind(uuid).fetch_one(pool).await.unwrap()
    })
}

/// Waits until every projection runner has read to the end of the log.
async fn runner_reaches_the_end(app: &TestApp) {
    let end = app.state.db.last_committed_point().await.unwrap();
    assert!(app.state.projector.wait_for(end, Duration::from_secs(20)).await, "the runners reach the end of the log");
}

fn uuid_of(session: &Session) -> String {
    session.user["uuid"].as_str().unwrap().to_string()
}

/// One of a few commands, chosen by `i`, on `uuid`: the writes a busy
/// service sees on users (grants, revocations, renames, status changes).
fn command(i: usize) -> UserCommand {
    let at = chrono::Utc::now();
    let organization_id = DEFAULT_ORGANIZATION_ID;
    match i % 6 {
        0 => UserCommand::AssignRole { role_id: 2, organization_id, dropped_on_move: vec![], at },
        1 => UserCommand::UpdateProfile {
            changes: ProfileChanges { name: Some(format!("Renamed {i}")), ..Default::default() },
            at,
        },
        2 => UserCommand::RevokeRole { role_id: 2, at },
        3 => UserCommand::Deactivate { at },
        4 => UserCommand::Activate { at },
        _ => UserCommand::AssignRole { role_id: 3, organization_id, dropped_on_move: vec![], at },
    }
}

async fn run_commands(bus: &CommandBus, users: &[String], count: usize, offset: usize) {
    let writes = (0..count).map(|i| {
        let uuid = users[(i * 7 + offset) % users.len()].clone();
        async move {
            // A refusal (revoking a role not held, activating an active user) is fine; a failure is not.
            match bus.execute::<User>(&uuid, command(i + offset), &Metadata::system("inline-test")).await {
                Ok(_) | Err(roster::commands::CommandError::Domain(_)) => {}
                Err(other) => panic!("a write failed: {other}"),
            }
        }
    });
    join_all(writes).await;
}

/// Rounds of 16 commands on `users` until `stop` is set; yields how many ran.
fn write_until_stopped(
    bus: &CommandBus,
    users: &[String],
    stop: &Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<usize> {
    let (bus, users, stop) = (bus.clone(), users.to_vec(), stop.clone());
    tokio::spawn(async move {
        let mut round = 0;
        while !stop.load(std::sync::atomic::Ordering::Acquire) {
            run_commands(&bus, &users, 16, round).await;
            round += 1;
        }
        round
    })
}

async fn a_write_is_visible_when_it_returns_without_a_wait(backend: Backend) {
    let app = spawn_app(backend).await;
    let user = app.sign_up("Inline Reader", "inline.reader@example.org").await;
    let waits = || async { app.state.projector.waits_begun() };
    count_user_row_updates(&app.state.db).await;
    let before = waits().await;
    for i in 0..5 {
        let about = format!("about {i}");
        let updated = app
            .patch(
                "/user/v1/user/update",
                Some(&user.access_token),
                Some(json!({"name": format!("Inline {i}"), "about": about})),
            )
            .await;
        assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
        let read = app.get("/user/v1/user/read", Some(&user.access_token)).await;
        assert_eq!(read.result()["name"], format!("Inline {i}"), "{}", read.body);
        let listed = app.get(&format!("/user/v1/account/list?search=inline%20{i}"), Some(&user.access_token)).await;
        assert_eq!(listed.result()["count"], 1, "the listing shows the write at once: {}", listed.body);
    }
    assert_eq!(waits().await, before, "a write to inline read models waits for no runner");
    // Each change was applied once: the runner, once at the end of the log, passed over them.
    runner_reaches_the_end(&app).await;
    assert_eq!(scalar(&app.state.db, "SELECT count(*) FROM user_row_updates").await, 5, "applied once each");
    let failed = app.state.db.failed_events(None).await.unwrap();
    assert!(failed.is_empty(), "{failed:?}");
    // The log says which events were applied inline: every user event here.
    let db = &app.state.db;
    let applied = scalar(db, "SELECT count(*) FROM events WHERE aggregate_type = 'user' AND applied_inline").await;
    let all = scalar(db, "SELECT count(*) FROM events WHERE aggregate_type = 'user'").await;
    assert!(all >= 6 && applied == all, "{applied} of {all} user events applied inline");
    // A role, which is not inline, still waits for its runner, and shows.
    let admin = app.admin_session().await;
    let before = waits().await;
    let role = app.post("/user/v1/user-role/create", Some(&admin.access_token), json!({"title": "inline_probe"})).await;
    assert_eq!(role.status, StatusCode::CREATED, "{}", role.body);
    assert!(waits().await > before, "a role write still waits for its read model");
}

async fn parallel_writers_and_a_rebuild_leave_the_read_model_a_replay_of_the_log(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut users = Vec::new();
    for i in 0..8 {
        users.push(uuid_of(&app.sign_up(&format!("Parallel {i}"), &format!("parallel{i}@example.org")).await));
    }
    // Sixteen writers at a time on eight users: conflicts on the same user,
    // and counters (per role, per search prefix) shared by all of them.
    run_commands(&app.state.bus, &users, 96, 0).await;
    assert_live_equals_replay(&app, "after parallel writers").await;

    // A rebuild while writers run: those in flight finish before it, those
    // after it apply on top; none is lost or applied twice.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers = write_until_stopped(&app.state.bus, &users, &stop);
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(30)).await;
        app.state.projector.rebuild(|_, _| {}).await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Release);
    let rounds = writers.await.unwrap();
    assert!(rounds > 3, "the writers ran during the rebuilds ({rounds} rounds)");
    assert_live_equals_replay(&app, "after writers during a rebuild").await;

    // The runner passes over what was applied inline: nothing is applied twice.
    runner_reaches_the_end(&app).await;
    assert_live_equals_replay(&app, "after the runner has run").await;
    let failed = app.state.db.failed_events(None).await.unwrap();
    assert!(failed.is_empty(), "{failed:?}");
}

async fn two_instances_write_inline_side_by_side(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut users = Vec::new();
    for i in 0..6 {
        users.push(uuid_of(&app.sign_up(&format!("Twin {i}"), &format!("twin{i}@example.org")).await));
    }
    let other =
        CommandBus::new(app.state.db.clone(), Projector::new(app.state.db.clone()), app.state.bus.claim_ids().clone());
    let (first, second) = (Arc::new(app.state.bus.clone()), Arc::new(other));
    let a = {
        let (bus, users) = (first.clone(), users.clone());
        tokio::spawn(async move { run_commands(&bus, &users, 48, 0).await })
    };
    let b = {
        let (bus, users) = (second.clone(), users.clone());
        tokio::spawn(async move { run_commands(&bus, &users, 48, 3).await })
    };
    a.await.unwrap();
    b.await.unwrap();
    // A write on the other instance is in the shared read model at once.
    let committed = rename(&second, &users[0], "Written Elsewhere").await;
    assert!(committed.visible && committed.skipped.is_empty(), "{committed:?}");
    assert_eq!(listed_name(&app.state.db, &users[0]).await, "Written Elsewhere");
    assert_live_equals_replay(&app, "after two instances").await;
}

/// PostgreSQL: a transaction left open elsewhere holds the runners'
/// commit horizon back, not an inline read model.
async fn a_slow_transaction_does_not_hold_inline_writes_back() {
    let app = spawn_app(Backend::Postgres).await;
    let user = app.sign_up("Not Held", "not.held@example.org").await;
    let Db::Postgres(pool) = &app.state.db else { unreachable!() };
    let mut slow = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         VALUES ('slow_probe', 'slow', 1, 'Noted', '1', '{}', '{}')",
    )
    .execute(&mut *slow)
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let updated =
        app.patch("/user/v1/user/update", Some(&user.access_token), Some(json!({"name": "Seen At Once"}))).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    let listed = app.get("/user/v1/account/list?search=seen%20at%20once", Some(&user.access_token)).await;
    assert_eq!(listed.result()["count"], 1, "{}", listed.body);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the write waited out the read-your-writes timeout: {:?}",
        started.elapsed()
    );
    slow.rollback().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_slow_transaction_does_not_hold_inline_writes_back() {
    a_slow_transaction_does_not_hold_inline_writes_back().await
}

/// PostgreSQL: a user event written without the read model (plain SQL,
/// as an older version would) that the runner cannot apply yet (a
/// transaction older than it is still open) holds that read model's inline
/// writes back: they go to the runner too, so the user's events apply in
/// order, and inline resumes once the runner has caught up.
async fn older_events_for_the_runner_go_first() {
    let app = spawn_app(Backend::Postgres).await;
    let user = app.sign_up("Older First", "older.first@example.org").await;
    let uuid = uuid_of(&user);
    let Db::Postgres(pool) = &app.state.db else { unreachable!() };
    let mut slow = pool.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()").execute(&mut *slow).await.unwrap();
    let sequence =
        scalar(&app.state.db, &format!("SELECT max(sequence) FROM events WHERE aggregate_id = '{uuid}'")).await;
    exec(
        &app.state.db,
        &format!(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
             VALUES ('user', '{uuid}', {}, 'ProfileUpdated', '1', \
             '{{\"ProfileUpdated\": {{\"changes\": {{\"name\": \"Written By Hand\"}}, \"at\": \"2026-01-01T00:00:00Z\"}}}}', '{{}}')",
            sequence + 1
        ),
    )
    .await;
    let committed = rename(&app.state.bus, &uuid, "Written After").await;
    assert!(!committed.visible, "the write was left to the runner: {committed:?}");
    let inline = scalar(
        &app.state.db,
        &format!(
            "SELECT count(*) FROM events WHERE aggregate_id = '{uuid}' AND sequence > {sequence} AND applied_inline"
        ),
    )
    .await;
    assert_eq!(inline, 0, "neither event went inline while the older one waits");
    slow.rollback().await.unwrap();
    runner_reaches_the_end(&app).await;
    assert_eq!(listed_name(&app.state.db, &uuid).await, "Written After", "the user's events applied in order");
    // Caught up: the next write is inline again.
    let committed = rename(&app.state.bus, &uuid, "Inline Again").await;
    assert!(committed.visible, "{committed:?}");
    assert_eq!(listed_name(&app.state.db, &uuid).await, "Inline Again");
    assert_live_equals_replay(&app, "after the runner went first").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_older_events_for_the_runner_go_first() {
    older_events_for_the_runner_go_first().await
}

/// PostgreSQL: `roster replay` in a process of its own (its rebuild gate is
/// not this process's) while this one writes. The advisory lock alone keeps
/// the rebuild and the inline writers apart.
async fn a_replay_in_another_process_loses_no_inline_write() {
    let app = spawn_app(Backend::Postgres).await;
    let mut users = Vec::new();
    for i in 0..8 {
        users.push(uuid_of(&app.sign_up(&format!("Replayed {i}"), &format!("replayed{i}@example.org")).await));
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers = write_until_stopped(&app.state.bus, &users, &stop);
    let url = app.database.url.clone();
    for _ in 0..2 {
        let replay = tokio::task::spawn_blocking({
            let url = url.clone();
            move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_roster"))
                    .arg("replay")
                    .env("DATABASE_URL", &url)
                    .env("ROSTER_MASTER_KEY", MASTER_KEY)
                    .env("RUST_LOG", "warn")
                    .output()
                    .unwrap()
            }
        })
        .await
        .unwrap();
        assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    }
    stop.store(true, std::sync::atomic::Ordering::Release);
    let rounds = writers.await.unwrap();
    assert!(rounds > 2, "the writers ran during the replays ({rounds} rounds)");
    assert_live_equals_replay(&app, "after replays in another process").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_replay_in_another_process_loses_no_inline_write() {
    a_replay_in_another_process_loses_no_inline_write().await
}

/// A trigger that refuses one name: the read table's own refusal, as a
/// constraint added later would be.
async fn refuse_name(db: &Db, name: &str) {
    match db {
        Db::Postgres(_) => {
            exec(
                db,
                &format!(
                    "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                     IF NEW.name = '{name}' THEN RAISE EXCEPTION 'poisoned name'; END IF; RETURN NEW; END $$"
                ),
            )
            .await;
            exec(
                db,
                "CREATE TRIGGER refuse_poison BEFORE UPDATE ON users FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
            )
            .await;
        }
        Db::Sqlite(_) => {
            exec(
                db,
                &format!(
                    "CREATE TRIGGER refuse_poison BEFORE UPDATE ON users WHEN NEW.name = '{name}' \
                     BEGIN SELECT RAISE(ABORT, 'poisoned name'); END"
                ),
            )
            .await
        }
    }
}

async fn an_event_the_inline_read_model_refuses_is_recorded_and_the_write_lands(backend: Backend) {
    let app = spawn_app(backend).await;
    let poisoned = app.sign_up("Before Poison", "before.poison@example.org").await;
    let bystander = app.sign_up("Bystander", "bystander@example.org").await;
    refuse_name(&app.state.db, "Poison Name").await;

    let refused = app
        .patch("/user/v1/user/update", Some(&poisoned.access_token), Some(json!({"name": "Poison Name", "about": "x"})))
        .await;
    assert!(refused.status.is_server_error(), "the writer hears that its event was not applied: {}", refused.body);
    let failed = app.state.db.failed_events(Some("users")).await.unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].aggregate_id, uuid_of(&poisoned));
    assert_eq!(failed[0].event_type, "ProfileUpdated");
    assert!(failed[0].error.contains("poisoned name"), "{}", failed[0].error);
    // The write itself landed: the event is in the log, and the user's state has it.
    let landed = scalar(&app.state.db, "SELECT count(*) FROM events WHERE event_type = 'ProfileUpdated'").await;
    assert_eq!(landed, 1);

    // Other writes still apply inline, the refused user's later ones too.
    let other =
        app.patch("/user/v1/user/update", Some(&bystander.access_token), Some(json!({"name": "Still Fine"}))).await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.body);
    let later = app.patch("/user/v1/user/update", Some(&poisoned.access_token), Some(json!({"about": "later"}))).await;
    assert_eq!(later.status, StatusCode::OK, "{}", later.body);
    let read = app.get("/user/v1/user/read", Some(&bystander.access_token)).await;
    assert_eq!(read.result()["name"], "Still Fine");

    // Once the cause is gone, a retry applies the event; the runner never did.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.state.db.failed_events(Some("users")).await.unwrap().len(), 1, "the runner left it recorded");
    let drop = match app.state.db {
        Db::Postgres(_) => "DROP TRIGGER refuse_poison ON users",
        Db::Sqlite(_) => "DROP TRIGGER refuse_poison",
    };
    exec(&app.state.db, drop).await;
    let report = app.state.projector.retry_failed(Some("users"), None).await.unwrap();
    assert_eq!((report.applied, report.still_failing), (1, 0));
    assert_eq!(listed_name(&app.state.db, &uuid_of(&poisoned)).await, "Poison Name", "the retried event applied");
}

on_both_backends!(
    a_write_is_visible_when_it_returns_without_a_wait,
    parallel_writers_and_a_rebuild_leave_the_read_model_a_replay_of_the_log,
    two_instances_write_inline_side_by_side,
    an_event_the_inline_read_model_refuses_is_recorded_and_the_write_lands,
);
