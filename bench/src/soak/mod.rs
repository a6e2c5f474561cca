//! Soak under SIGKILL (issue 16): a mixed load against `roster serve` on a
//! fresh PostgreSQL database, publishing to a `tansu` broker; the server is
//! killed with SIGKILL at random moments and started again on the same
//! database and environment. Afterwards: every acknowledged command's effect
//! is in the log, the read models equal a fresh `roster replay`, every event
//! reached the broker (by `ce_id`), and no user exists twice.
//! `roster-bench soak` runs it in full; the API suite runs a short one.

mod checks;
mod load;
mod processes;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use base64::Engine;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

pub use load::Kind;
use load::{Ledger, Shared, PASSWORD};
use processes::{Broker, Server};

pub struct Config {
    /// The `roster` binary (release or debug).
    pub roster: PathBuf,
    pub tansu: PathBuf,
    /// A PostgreSQL server (no database): the soak creates its own database there.
    pub postgres: String,
    pub clients: usize,
    /// How long the load runs; the kills fall inside it.
    pub duration: Duration,
    pub kills: usize,
    /// The longest wait, after the load, for read models and the broker to catch up.
    pub settle: Duration,
    pub seed: u64,
    /// Where the server's and the broker's logs go.
    pub work_dir: PathBuf,
    /// Let the CI variant skip a check known to fail (with a TODO naming the bug).
    pub skip: Vec<Check>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Effects,
    Replay,
    Broker,
    Duplicates,
}

#[derive(Debug, Default)]
pub struct Report {
    pub database: String,
    pub seed: u64,
    pub acknowledged: BTreeMap<Kind, u64>,
    pub refused: BTreeMap<Kind, u64>,
    pub unknown: BTreeMap<Kind, u64>,
    pub server_errors: u64,
    pub not_sent: u64,
    pub confirmed_approvals: u64,
    pub kills: usize,
    /// Time from each restart's spawn to its first answer.
    pub restart_times: Vec<Duration>,
    pub load_time: Duration,
    pub events: usize,
    pub users: i64,
    /// Acknowledged effects missing.
    pub lost: u64,
    pub replay_differences: u64,
    pub unpublished: u64,
    pub duplicates: u64,
    /// Every failed check, as sentences; empty when the soak passed.
    pub violations: Vec<String>,
    /// Violations of skipped checks: printed, not failing.
    pub skipped: Vec<String>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    pub fn print(&self) {
        let by_kind = |counts: &BTreeMap<Kind, u64>| {
            let total: u64 = counts.values().sum();
            let parts: Vec<String> =
                counts.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{} {n}", k.name())).collect();
            format!("{total} ({})", parts.join(", "))
        };
        println!("soak: database {}, seed {}", self.database, self.seed);
        println!("load: {:.1?} with {} kills", self.load_time, self.kills);
        println!("commands acknowledged: {}", by_kind(&self.acknowledged));
        println!("unknown outcomes (connection cut by a kill, or 5xx): {}", by_kind(&self.unknown));
        println!("not sent (connection refused while the server restarted): {}", self.not_sent);
        println!("approvals confirmed by \"already decided\" after an unknown outcome: {}", self.confirmed_approvals);
        println!("refused (4xx): {}", by_kind(&self.refused));
        println!("server errors (5xx): {}", self.server_errors);
        if !self.restart_times.is_empty() {
            let max = self.restart_times.iter().max().copied().unwrap_or_default();
            let mean = self.restart_times.iter().sum::<Duration>() / self.restart_times.len() as u32;
            println!("restart to first answer: mean {mean:.1?}, max {max:.1?}");
        }
        println!("events in the log: {}; users: {}", self.events, self.users);
        println!(
            "lost acknowledged effects: {}; read-model rows ≠ replay: {}; events not on the broker: {}; duplicate users: {}",
            self.lost, self.replay_differences, self.unpublished, self.duplicates
        );
        for skipped in &self.skipped {
            println!("SKIPPED CHECK (known failure): {skipped}");
        }
        for violation in &self.violations {
            println!("VIOLATION: {violation}");
        }
        println!("{}", if self.passed() { "soak passed" } else { "soak FAILED" });
    }
}

async fn create_database(server: &str, seed: u64) -> anyhow::Result<String> {
    let name = format!("roster_soak_{seed:x}_{:x}", rand::random::<u32>());
    let admin = sqlx::PgPool::connect(&format!("{server}/postgres")).await.context("PostgreSQL must be running")?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await?;
    admin.close().await;
    Ok(format!("{server}/{name}"))
}

/// The server's environment, the same at every start.
fn server_env(database_url: &str, brokers: &str, admin_email: &str) -> Vec<(String, String)> {
    let master_key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
    [
        ("DATABASE_URL", database_url),
        ("KAFKA_BROKERS", brokers),
        ("ROSTER_MASTER_KEY", &master_key),
        ("ROSTER_BOOTSTRAP_ADMIN_EMAIL", admin_email),
        ("ROSTER_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD),
        ("RUST_LOG", "warn"),
        // Every client is on 127.0.0.1, far above one real client's rate.
        ("RATE_LIMIT_ENABLED", "false"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

async fn admin_token(base: &str, email: &str) -> anyhow::Result<String> {
    let client = crate::http::client();
    let body = crate::http::expect_ok(
        client
            .post(format!("{base}/user/v1/admin/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await,
    )
    .await
    .map_err(|e| anyhow::anyhow!("the bootstrap admin cannot log in: {e}"))?;
    Ok(body["result"]["access_token"].as_str().unwrap_or_default().to_string())
}

pub async fn run(config: Config) -> anyhow::Result<Report> {
    std::fs::create_dir_all(&config.work_dir)?;
    let mut report = Report { seed: config.seed, ..Report::default() };
    let database_url = create_database(&config.postgres, config.seed).await?;
    report.database = database_url.clone();
    let mut broker = Broker::start(&config.tansu, &config.work_dir.join("tansu.log")).await?;
    let admin_email = "soak-admin@soak.example";
    let env = server_env(&database_url, &broker.address, admin_email);
    let mut server = Server::new(config.roster.clone(), env, config.work_dir.join("roster.log"))?;
    server.start().await?;
    let shared = Arc::new(Shared {
        http: crate::http::client(),
        base: server.base.clone(),
        admin_token: admin_token(&server.base, admin_email).await?,
        run_tag: format!("{:x}", config.seed),
    });

    // The load, and the kills at random moments inside it.
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let clients: Vec<_> = (0..config.clients)
        .map(|i| tokio::spawn(load::client_task(shared.clone(), i, config.seed.wrapping_add(i as u64), stop.clone())))
        .collect();
    let mut rng = StdRng::seed_from_u64(config.seed);
    // Gaps averaging duration / (kills + 1), so the last restart has load after it too.
    let gap = config.duration.as_secs_f64() / (config.kills + 1) as f64;
    for _ in 0..config.kills {
        tokio::time::sleep(Duration::from_secs_f64(gap * rng.gen_range(0.5..1.5))).await;
        server.kill_nine();
        report.kills += 1;
        report.restart_times.push(server.start().await?);
    }
    if let Some(left) = config.duration.checked_sub(started.elapsed()) {
        tokio::time::sleep(left).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut ledger = Ledger::default();
    for client in clients {
        ledger.merge(client.await?);
    }
    report.load_time = started.elapsed();
    report.acknowledged = ledger.acknowledged.clone();
    report.refused = ledger.refused.clone();
    report.unknown = ledger.unknown.clone();
    report.server_errors = ledger.server_errors;
    report.not_sent = ledger.not_sent;
    report.confirmed_approvals = ledger.confirmed_approvals;

    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(2).connect(&database_url).await?;
    let verdict = |check: Check, violations: Vec<String>, report: &mut Report| {
        if config.skip.contains(&check) {
            report.skipped.extend(violations);
        } else {
            report.violations.extend(violations);
        }
    };
    let settle_deadline = Instant::now() + config.settle;

    // Settled: the read models stop changing once the log does.
    let mut live = checks::dump_read_models(&pool).await?;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let again = checks::dump_read_models(&pool).await?;
        if again == live {
            break;
        }
        live = again;
        if Instant::now() > settle_deadline {
            bail!("the read models were still changing {:?} after the load", config.settle);
        }
    }

    eprintln!("soak: read models settled {:.1?} after the load", started.elapsed() - report.load_time);
    // 1. Acknowledged effects (the read models may lag a little more: retry until settled).
    let (violations, lost) = loop {
        let (violations, lost) = checks::acknowledged_effects(&pool, &ledger).await?;
        if lost == 0 || Instant::now() > settle_deadline {
            break (violations, lost);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    report.lost = lost;
    verdict(Check::Effects, violations, &mut report);
    verdict(Check::Effects, checks::failed_projection_events(&pool).await?, &mut report);
    if !ledger.server_error_samples.is_empty() {
        report
            .violations
            .push(format!("{} server errors, e.g. {:?}", ledger.server_errors, ledger.server_error_samples));
    }
    if !ledger.unexpected_refusal_samples.is_empty() {
        report.violations.push(format!("refusals this load never asks for: {:?}", ledger.unexpected_refusal_samples));
    }

    // 3. Every event of the log on the broker.
    let ids = checks::logged_event_ids(&pool).await?;
    report.events = ids.len();
    let within = settle_deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(20));
    let missing = checks::unpublished(&broker.address, ids, within).await?;
    report.unpublished = missing.len() as u64;
    if !missing.is_empty() {
        let examples: Vec<&String> = missing.iter().take(5).collect();
        verdict(
            Check::Broker,
            vec![format!("{} events never reached the broker, e.g. ce_id {examples:?}", missing.len())],
            &mut report,
        );
    }

    // 4. No duplicate users.
    let (violations, duplicates) = checks::duplicate_users(&pool).await?;
    report.duplicates = duplicates;
    verdict(Check::Duplicates, violations, &mut report);
    report.users = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(&pool).await?;

    // 2. The read models equal a fresh replay (the server stopped, so nothing moves).
    server.stop()?;
    let live = checks::dump_read_models(&pool).await?;
    let replay = server.run(&["replay"])?;
    if !replay.status.success() {
        bail!("roster replay failed: {}", String::from_utf8_lossy(&replay.stderr));
    }
    let replayed = checks::dump_read_models(&pool).await?;
    let (violations, differing) = checks::compare_dumps(&live, &replayed);
    report.replay_differences = differing;
    verdict(Check::Replay, violations, &mut report);

    pool.close().await;
    broker.stop();
    Ok(report)
}
