//! The short soak of issue 16 in CI: a few seconds of mixed load on
//! PostgreSQL with a tansu broker, two SIGKILLs of the debug binary, then the
//! four checks of `roster-bench soak` (docs/performance.md has the long run).

use std::time::Duration;

use roster_bench::soak::{run, Config};

use crate::helpers::pg_server_url;
use crate::kafka_support::tansu_binary;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sigkills_under_mixed_load_lose_nothing() {
    let work_dir = tempfile::tempdir().unwrap();
    let report = run(Config {
        roster: env!("CARGO_BIN_EXE_roster").into(),
        tansu: tansu_binary(),
        postgres: pg_server_url(),
        clients: 3,
        duration: Duration::from_secs(8),
        kills: 2,
        settle: Duration::from_secs(40),
        seed: rand::random(),
        work_dir: work_dir.path().to_path_buf(),
        skip: Vec::new(),
    })
    .await
    .unwrap();
    report.print();
    assert!(report.passed(), "the soak found violations (printed above; seed {})", report.seed);
    assert_eq!(report.kills, 2);
    let acknowledged: u64 = report.acknowledged.values().sum();
    assert!(acknowledged > 0 && report.events > 0, "the load ran: {acknowledged} commands, {} events", report.events);
}
