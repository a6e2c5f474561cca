//! `roster-bench`: drives a running Roster over HTTP (keep-alive clients,
//! closed loop at max or open loop at a fixed rate) and prints throughput and
//! latency percentiles; also measures the machine's own limits (argon2id
//! hash rate, raw PostgreSQL INSERT rate) in the same run, so figures can be
//! given as ratios. See docs/performance.md for the scenarios.

mod bulk;
mod driver;
mod pgbench;
mod scenarios;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "roster-bench", about = "Load generator for Roster")]
struct Cli {
    /// Base URL of a running Roster.
    #[arg(long, global = true, default_value = "http://127.0.0.1:3000")]
    base: String,
    /// Parallel connections (closed loop).
    #[arg(long, global = true, default_value_t = 16)]
    concurrency: usize,
    /// Seconds of measurement per figure.
    #[arg(long, global = true, default_value_t = 10)]
    duration: u64,
    /// Requests per second (open loop); unset: as fast as the server answers.
    #[arg(long, global = true)]
    rate: Option<f64>,
    /// How many seeded users exist (`roster dev seed --users N`).
    #[arg(long, global = true, default_value_t = 10_000)]
    users: u64,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// P1: password logins, and this machine's argon2id hash rate with the same parameters.
    Login,
    /// P2: token refreshes (each client rotates its own refresh token); with
    /// a database URL, also `pgbench` running the refresh's statement alone.
    Refresh {
        /// The server's PostgreSQL, for the pgbench run (needs `pgbench` on PATH).
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
    },
    /// P3: role assignments and profile updates (no hashing), and the raw INSERT rate of same-size event rows.
    Update {
        /// The server's ADMIN_SECRET_CODE (role assignment needs an admin).
        #[arg(long, env = "ADMIN_SECRET_CODE")]
        admin_secret: String,
        /// PostgreSQL to measure the raw INSERT rate on (a scratch table is created and dropped).
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
    },
    /// P4: name substring search, role filter and a deep page.
    Search,
    /// Issue 15: a bulk invite of `--rows` new users; rows/min and each batch's time.
    Bulk {
        #[arg(long, env = "ADMIN_SECRET_CODE")]
        admin_secret: String,
        #[arg(long, default_value_t = 10_000)]
        rows: usize,
        /// The server's PostgreSQL, where the batch times are read from the job's events.
        #[arg(long, env = "DATABASE_URL")]
        database_url: String,
    },
    /// Sunbird search (issue 14): an exact filter, a query, a range and a facet, p50/p99.
    SunbirdSearch {
        /// The server's ADMIN_SECRET_CODE (the searches run as an admin).
        #[arg(long, env = "ADMIN_SECRET_CODE")]
        admin_secret: String,
    },
    /// Short-term type-ahead on the mentee list (issue 11), with a profile-read probe alone and beside it.
    Typeahead {
        /// Profile reads per second of the probe.
        #[arg(long, default_value_t = 50.0)]
        probe_rate: f64,
    },
    /// P5: a write, then at once a search for what it wrote: is it visible, and how long did it take.
    Visible,
    /// P7: publisher throughput: follows `roster_published_events_total` until it stops growing.
    Publish,
    /// The ceiling for any request that touches the database on this machine:
    /// `GET /health` (one HTTP exchange, one SQL round trip, no commit).
    Floor,
    /// P10: resident memory of a process (idle, or while another scenario runs).
    Memory {
        #[arg(long)]
        pid: u32,
    },
    /// Issue 16: mixed load against a `roster serve` it starts (PostgreSQL,
    /// tansu), SIGKILLed and restarted `--kills` times; then checks nothing
    /// acknowledged was lost. `--concurrency` is the number of clients.
    Soak {
        /// The roster binary to serve with.
        #[arg(long, env = "ROSTER_BIN", default_value = "target/release/roster")]
        roster: std::path::PathBuf,
        #[arg(long, env = "TANSU_BIN", default_value = "tansu")]
        tansu: std::path::PathBuf,
        /// A PostgreSQL server; the soak creates a fresh database on it.
        #[arg(long, env = "ROSTER_SOAK_PG_URL", default_value = "postgres://postgres@127.0.0.1:5432")]
        postgres: String,
        #[arg(long, default_value_t = 10)]
        kills: usize,
        /// Seconds of load (the kills fall inside it).
        #[arg(long, default_value_t = 180)]
        load_seconds: u64,
        /// Longest wait for read models and broker to catch up afterwards.
        #[arg(long, default_value_t = 120)]
        settle_seconds: u64,
        /// Seeds the kill times and each client's choices (default: random).
        #[arg(long)]
        seed: Option<u64>,
        /// Where the server's and broker's logs go.
        #[arg(long, default_value = "target/soak")]
        work_dir: std::path::PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let load = driver::Load {
        concurrency: cli.concurrency,
        duration: std::time::Duration::from_secs(cli.duration),
        rate: cli.rate,
    };
    let target = scenarios::Target { base: cli.base.trim_end_matches('/').to_string(), users: cli.users };
    match cli.scenario {
        Scenario::Login => scenarios::login(&target, &load).await,
        Scenario::Refresh { database_url } => scenarios::refresh(&target, &load, database_url.as_deref()).await,
        Scenario::Update { admin_secret, database_url } => {
            scenarios::update(&target, &load, &admin_secret, database_url.as_deref()).await
        }
        Scenario::Search => scenarios::search(&target, &load).await,
        Scenario::Bulk { admin_secret, rows, database_url } => {
            bulk::bulk(&target, &admin_secret, rows, &database_url).await
        }
        Scenario::SunbirdSearch { admin_secret } => scenarios::sunbird_search(&target, &load, &admin_secret).await,
        Scenario::Typeahead { probe_rate } => scenarios::typeahead(&target, &load, probe_rate).await,
        Scenario::Visible => scenarios::visible(&target, &load).await,
        Scenario::Publish => scenarios::publish(&target).await,
        Scenario::Floor => scenarios::floor(&target, &load).await,
        Scenario::Memory { pid } => scenarios::memory(pid),
        Scenario::Soak { roster, tansu, postgres, kills, load_seconds, settle_seconds, seed, work_dir } => {
            let config = roster_bench::soak::Config {
                roster,
                tansu,
                postgres,
                clients: cli.concurrency,
                duration: std::time::Duration::from_secs(load_seconds),
                kills,
                settle: std::time::Duration::from_secs(settle_seconds),
                seed: seed.unwrap_or_else(rand::random),
                work_dir,
                skip: Vec::new(),
            };
            let report = roster_bench::soak::run(config).await?;
            report.print();
            if !report.passed() {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
