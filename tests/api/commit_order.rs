//! The log reader must never skip an event, even when a transaction that took
//! a lower position commits after higher ones (GUIDE §3).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use roster::storage::log::CommitPoint;
use roster::storage::Db;

use crate::helpers::*;
use crate::on_both_backends;

const INSERT: &str =
    "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
                      VALUES ('probe', $1, $2, 'Probed', '1', '{}', '{}')";

async fn insert(db: &Db, stream: &str, sequence: i64) {
    roster::on_pool!(db, pool => {
        sqlx::query(INSERT).bind(stream).bind(sequence).execute(pool).await.unwrap();
    });
}

async fn reader_never_skips_a_late_commit(backend: Backend) {
    let database = fresh_database(backend).await;
    let db = Db::connect(&database.url, 12).await.unwrap();
    db.migrate().await.unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let db = db.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut after = CommitPoint::default();
            let mut seen = Vec::new();
            loop {
                let finished = done.load(Ordering::SeqCst);
                let batch = db.events_after(after, 50).await.unwrap();
                for entry in &batch {
                    assert!(entry.point > after, "commit points must increase");
                    after = entry.point;
                    seen.push((entry.event.aggregate_id.clone(), entry.event.sequence));
                }
                if finished && batch.is_empty() {
                    return seen;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    // A slow transaction takes its position early and commits last.
    let slow = {
        let db = db.clone();
        tokio::spawn(async move {
            roster::on_pool!(&db, pool => {
                let mut tx = pool.begin().await.unwrap();
                sqlx::query(INSERT).bind("slow").bind(1i64).execute(&mut *tx).await.unwrap();
                tokio::time::sleep(Duration::from_millis(800)).await;
                tx.commit().await.unwrap();
            });
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let db = db.clone();
            tokio::spawn(async move {
                for i in 1..=40 {
                    insert(&db, &format!("writer-{w}"), i).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    slow.await.unwrap();
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.unwrap();

    let logged: Vec<(String, i64)> = roster::on_pool!(&db, pool => {
        sqlx::query_as("SELECT aggregate_id, sequence FROM events WHERE aggregate_type = 'probe'").fetch_all(pool).await.unwrap()
    });
    let seen_set: BTreeSet<_> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), seen_set.len(), "an event was read twice");
    assert_eq!(seen_set, logged.into_iter().collect::<BTreeSet<_>>(), "the reader missed events");
    assert_eq!(seen_set.len(), 161);
    assert!(seen_set.contains(&("slow".to_string(), 1)));
}

on_both_backends!(reader_never_skips_a_late_commit);

/// Transaction ids are cluster-wide, but a transaction in another database
/// cannot write this log: a long one there (a dump, an index build, another
/// deployment's replay) must not hold this database's readers back, while a
/// long one here still must.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_transaction_in_another_database_does_not_hold_readers_back() {
    let app = spawn_app(Backend::Postgres).await;
    let elsewhere = fresh_database(Backend::Postgres).await;
    let other = sqlx::PgPool::connect(&elsewhere.url).await.unwrap();
    let mut long = other.begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()").execute(&mut *long).await.unwrap();

    // Read-your-writes waits for the projection, which reads below the horizon.
    let user = app.sign_up("Not Held Back", "not-held-back@example.com").await;
    let profile = app.get("/user/v1/user/read", Some(&user.access_token)).await;
    assert_eq!(profile.status, reqwest::StatusCode::OK, "{}", profile.body);
    let end = app.state.db.end_of_log().await.unwrap();
    let last = app.state.db.last_committed_point().await.unwrap();
    assert_eq!(end, last, "the horizon passes the foreign transaction");

    // A transaction of this database that holds an id keeps the horizon below it.
    let mut here = match &app.state.db {
        Db::Postgres(pool) => pool.begin().await.unwrap(),
        Db::Sqlite(_) => unreachable!(),
    };
    sqlx::query("SELECT pg_current_xact_id()").execute(&mut *here).await.unwrap();
    insert(&app.state.db, "after-local-open", 1).await;
    let end = app.state.db.end_of_log().await.unwrap();
    let last = app.state.db.last_committed_point().await.unwrap();
    assert!(end < last, "an open local transaction must hold the horizon: {end:?} vs {last:?}");
    here.rollback().await.unwrap();
    long.rollback().await.unwrap();
    other.close().await;
}
