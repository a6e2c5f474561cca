//! P2's ceiling: PostgreSQL alone running the refresh's own statement
//! (`roster::read_models::rotation_sql`, the session compare-and-set with the
//! profile read) under `pgbench`, one session per client, as many clients
//! as the HTTP run had. The ratio says how much of the database's rate the
//! service keeps once HTTP, token checks and signing are added.

use std::process::Command;

use anyhow::Context;

/// Each client rotates its own session; its refresh ids count up from
/// `(client + 1) * STRIDE`, so afterwards every session's id says how many
/// rotations succeeded in a row (a refused one would break the chain).
const STRIDE: i64 = 1_000_000_000;

/// The pgbench script: the first transaction of each client picks one of
/// the newest `clients` sessions (which the caller just logged in).
fn script() -> String {
    let statement = roster::read_models::rotation_sql()
        .replace("$1", ":sid")
        .replace("$2", ":jti")
        .replace("$3", ":next")
        .replace("$4", ":now")
        .replace("$5", ":uid");
    format!(
        "\\if :started = 0\n\
         SELECT id AS sid, refresh_jti AS jti, user_uuid AS uid FROM sessions WHERE revoked_at IS NULL \
         ORDER BY created_at DESC, id OFFSET :client_id LIMIT 1 \\gset\n\
         \\set next (:client_id + 1) * {STRIDE}\n\
         \\set started 1\n\
         \\endif\n\
         \\set next :next + 1\n\
         {statement};\n\
         \\set jti :next\n"
    )
}

pub struct PgbenchFigure {
    pub transactions_per_second: f64,
    pub transactions: i64,
}

/// Runs the script for `seconds` with `clients` clients (prepared
/// statements, as sqlx sends them) and checks that every transaction
/// rotated its session.
pub async fn refresh_statement_rate(url: &str, clients: usize, seconds: u64) -> anyhow::Result<PgbenchFigure> {
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(1).connect(url).await?;
    // The sessions the clients will pick, as the script picks them.
    let picked: Vec<String> =
        sqlx::query_scalar("SELECT id FROM sessions WHERE revoked_at IS NULL ORDER BY created_at DESC, id LIMIT $1")
            .bind(clients as i64)
            .fetch_all(&pool)
            .await?;
    let path = std::env::temp_dir().join(format!("roster-pgbench-refresh-{}.sql", std::process::id()));
    std::fs::write(&path, script())?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(clients);
    let output = Command::new("pgbench")
        .args(["--no-vacuum", "--protocol=prepared", "--client", &clients.to_string()])
        .args(["--jobs", &threads.to_string(), "--time", &seconds.to_string()])
        .args(["--define", &format!("now={now}"), "--define", "started=0", "--file"])
        .arg(&path)
        .arg(url)
        .output()
        .context("cannot run pgbench (PostgreSQL's client tools)")?;
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(output.status.success(), "pgbench failed: {stdout}{}", String::from_utf8_lossy(&output.stderr));
    let number_after = |label: &str| {
        stdout
            .lines()
            .find_map(|line| line.trim().strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
            .with_context(|| format!("pgbench printed no `{label}`: {stdout}"))
    };
    let transactions = number_after("number of transactions actually processed:")? as i64;
    let transactions_per_second = number_after("tps =")?;
    let ids: Vec<String> = sqlx::query_scalar("SELECT refresh_jti FROM sessions WHERE id = ANY($1)")
        .bind(&picked)
        .fetch_all(&pool)
        .await?;
    // Each client's id counts up from its base once per rotation; a refused
    // rotation would have stopped its chain.
    let rotated: i64 = ids.iter().filter_map(|id| id.parse::<i64>().ok()).map(|id| id % STRIDE).sum();
    anyhow::ensure!(
        rotated == transactions,
        "pgbench ran {transactions} transactions but the sessions moved {rotated} times: some did not rotate"
    );
    Ok(PgbenchFigure { transactions_per_second, transactions })
}
