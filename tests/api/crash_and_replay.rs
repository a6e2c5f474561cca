//! Kill -9 the real binary mid-stream, restart it, and check the read models
//! caught up from their checkpoints; then `roster replay` must rebuild read
//! tables identical to the live ones.

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use roster::storage::Db;

use serde_json::json;

use crate::helpers::*;
use crate::on_both_backends;

/// The last `about` the log recorded, read through the log reader (the
/// events table holds it encrypted).
async fn last_logged_about(db: &Db) -> Option<String> {
    let mut after = roster::storage::log::CommitPoint::default();
    let mut about = None;
    loop {
        let batch = db.events_after(after, 1000).await.unwrap();
        let Some(last) = batch.last() else { return about };
        after = last.point;
        for entry in batch.iter().filter(|e| e.event.event_type == "ProfileUpdated") {
            about = entry.event.payload["ProfileUpdated"]["changes"]["about"].as_str().map(str::to_string);
        }
    }
}

async fn kill_nine_then_restart_catches_up_and_replay_matches(backend: Backend) {
    let database = fresh_database(backend).await;
    let db = Db::connect(&database.url, 4).await.unwrap();
    let client = reqwest::Client::new();

    let mut server = start_server(&database.url, &[]).await;
    let signed_up: serde_json::Value = client
        .post(format!("{}/user/v1/account/create", server.base))
        .json(&json!({"name": "Crash Test", "email": "crash@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signed_up["result"]["access_token"].as_str().unwrap().to_string();

    // Three writers hammer profile updates; kill -9 once enough have landed.
    let landed = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (client, base, token, landed, stop) =
                (client.clone(), server.base.clone(), token.clone(), landed.clone(), stop.clone());
            tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let sent = client
                        .patch(format!("{base}/user/v1/user/update"))
                        .header("X-auth-token", format!("bearer {token}"))
                        .json(&json!({"about": format!("w{w}-{i}")}))
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status().is_success() => {
                            landed.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(r) => assert!(
                            !r.status().is_server_error() || stop.load(Ordering::SeqCst),
                            "5xx before the crash"
                        ),
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while landed.load(Ordering::SeqCst) < 60 {
        assert!(Instant::now() < deadline, "updates did not land");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        let _ = writer.await;
    }

    // Restart: the projection resumes from its checkpoint and reaches the log's end.
    let mut server = start_server(&database.url, &[]).await;
    let expected = last_logged_about(&db).await.expect("updates were logged");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let read = server.get_as(&client, "/user/v1/user/read", &token).await;
        if read["result"]["about"] == json!(expected) {
            break;
        }
        assert!(Instant::now() < deadline, "read model did not catch up: {read}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Graceful stop on SIGTERM.
    let status = Command::new("kill").arg("-TERM").arg(server.child.id().to_string()).status().unwrap();
    assert!(status.success());
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "server did not exit cleanly on SIGTERM: {exit:?}");

    let live = dump(&db).await;
    let rows = |table: &str| live.iter().find(|(t, _)| t == table).map_or(0, |(_, rows)| rows.len());
    assert!(rows("users") == 1 && rows("roles") == 7, "unexpected live tables: {live:?}");
    let replay =
        Command::new(env!("CARGO_BIN_EXE_roster")).arg("replay").env("DATABASE_URL", &database.url).output().unwrap();
    assert!(replay.status.success(), "replay failed: {}", String::from_utf8_lossy(&replay.stderr));
    let rebuilt = dump(&db).await;
    assert_eq!(live, rebuilt, "replay must rebuild the read tables exactly");

    // Export writes every event as one JSON line.
    let export = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["events", "export"])
        .env("DATABASE_URL", &database.url)
        .output()
        .unwrap();
    assert!(export.status.success());
    let lines = String::from_utf8(export.stdout).unwrap().lines().count() as i64;
    assert_eq!(lines, db.count_events().await.unwrap());
}

on_both_backends!(kill_nine_then_restart_catches_up_and_replay_matches);
