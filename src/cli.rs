//! `roster serve | migrate | replay | admin create | events export | events tail | keys rotate | …`.

use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::app::{shutdown_signal, Application};
use crate::audit::render_event;
use crate::commands::Metadata;
use crate::config::Settings;
use crate::projector::Projector;
use crate::storage::file_lock::lock_database;
use crate::storage::log::CommitPoint;
use crate::storage::Db;
use crate::telemetry;

#[derive(Parser)]
#[command(name = "roster", version, about = "Event-sourced user, organisation and role service")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve the HTTP APIs (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate {
        /// Create the PostgreSQL database DATABASE_URL names first, if it does not exist.
        #[arg(long)]
        create_database: bool,
    },
    /// Manage system admins.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Client applications (entity v5's `X-APP-ID`).
    App {
        #[command(subcommand)]
        command: AppCommand,
    },
    /// Rebuild every read model from the start of the log, each in one
    /// transaction: a rebuild that fails leaves the read models as they were.
    Replay {
        /// Record and skip events a read model refuses (as the live runner
        /// does) instead of stopping at the first.
        #[arg(long)]
        skip_failed: bool,
    },
    /// Events the read models could not apply.
    Projections {
        #[command(subcommand)]
        command: ProjectionsCommand,
    },
    /// Development and benchmarking helpers.
    Dev {
        #[command(subcommand)]
        command: DevCommand,
    },
    /// Work with the event log.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// The Kafka publisher.
    Publisher {
        #[command(subcommand)]
        command: PublisherCommand,
    },
    /// API keys of client applications (Sunbird's `Authorization: Bearer`).
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// The Ed25519 keys tokens are signed with.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key. Running instances sign with it within
    /// SIGNING_KEYS_REFRESH_MS; the old key keeps verifying, and stays in the
    /// JWKS, until the last token it signed has expired.
    Rotate,
    /// The keys, as JSON lines (no secrets).
    List,
}

#[derive(Subcommand)]
pub enum ApiKeyCommand {
    /// Issue a key: the key goes to stdout, this once (only its hash is kept).
    Create {
        /// What the key is for.
        #[arg(long)]
        name: String,
    },
    /// Every key, as JSON lines (no secrets).
    List,
    /// Revoke a key at once.
    Revoke {
        /// The key's id, as listed.
        id: String,
    },
}

#[derive(Subcommand)]
pub enum PublisherCommand {
    /// Publish the whole log again from its start (e.g. to a broker that lost
    /// its data); consumers deduplicate on `ce_id`. A running publisher picks
    /// it up at its next batch.
    Republish,
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create a system admin. The password is read from stdin (a prompt on a
    /// terminal), never from the command line.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
pub enum AppCommand {
    /// Register an app, as `POST /user/v1/admin/registerApp` does.
    Register {
        /// 1 to 64 letters, digits, `.`, `_` or `-`.
        app_id: String,
        /// What the app is (default: its id).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum DevCommand {
    /// Create many realistic users through the real command path (one shared password hash).
    Seed {
        /// How many users.
        #[arg(long)]
        users: u64,
        /// Index of the first user (user{i}@bench.roster.example), to add to an earlier seed.
        #[arg(long, default_value_t = 0)]
        start_at: u64,
        /// Batches appended in parallel.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
}

#[derive(Subcommand)]
pub enum ProjectionsCommand {
    /// List the events each read model skipped, as JSON lines.
    Failed {
        /// Only this projection's (users, organizations, roles, permissions, role_requests).
        #[arg(long)]
        projection: Option<String>,
    },
    /// Apply skipped events again (after a fix); those that apply are forgotten.
    Retry {
        /// Only this projection's.
        #[arg(long)]
        projection: Option<String>,
        /// Only the event at this position.
        #[arg(long)]
        position: Option<i64>,
    },
}

#[derive(Subcommand)]
pub enum EventsCommand {
    /// Write the log as JSON lines to stdout, in commit order.
    Export {
        /// Only events after this position.
        #[arg(long, default_value_t = 0)]
        from_position: i64,
        /// Only events of this aggregate type.
        #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(aggregates::AGGREGATE_TYPES))]
        aggregate_type: Option<String>,
    },
    /// Follow the log as it grows: JSON lines to stdout, in commit order, until interrupted.
    Tail {
        /// Only events after this position (default: the current end of the log).
        #[arg(long)]
        from_position: Option<i64>,
    },
}

/// How often `events tail` looks for new events when it has caught up.
const TAIL_POLL: Duration = Duration::from_millis(200);

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    if matches!(
        cli.command,
        Some(Command::Events { .. } | Command::Admin { .. } | Command::Keys { .. } | Command::ApiKey { .. })
    ) {
        // Their stdout is the data, or the terminal a prompt is on.
        telemetry::init_logging_to_stderr(settings.log_format_json);
    } else {
        telemetry::init_logging(settings.log_format_json);
    }
    telemetry::metrics();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => Application::build(settings).await?.run_until(shutdown_signal()).await,
        Command::Migrate { create_database } => {
            let _lock = lock_database(&settings.database_url)?;
            if create_database && crate::storage::create_database(&settings.database_url).await? {
                eprintln!("database created");
            }
            let db = Db::connect(&settings.database_url, 2).await?;
            db.migrate().await?;
            eprintln!("migrations applied ({})", db.backend());
            Ok(())
        }
        Command::Replay { skip_failed } => {
            let _lock = lock_database(&settings.database_url)?;
            replay(&settings, skip_failed).await
        }
        Command::Admin { command: AdminCommand::Create { email, name } } => admin_create(settings, email, name).await,
        Command::App { command: AppCommand::Register { app_id, name } } => app_register(settings, app_id, name).await,
        Command::Projections { command } => projections(&settings, command).await,
        Command::Dev { command: DevCommand::Seed { users, start_at, concurrency } } => {
            let app = Application::build(crate::seed::settings(settings)?).await?;
            let seeded = crate::seed::seed(&app.state(), users, start_at, concurrency).await;
            app.stop().await;
            seeded
        }
        Command::Events { command: EventsCommand::Export { from_position, aggregate_type } } => {
            export(&settings, from_position, aggregate_type).await
        }
        Command::Events { command: EventsCommand::Tail { from_position } } => tail(&settings, from_position).await,
        Command::Keys { command } => keys(&settings, command).await,
        Command::ApiKey { command } => api_key(settings, command).await,
        Command::Publisher { command: PublisherCommand::Republish } => {
            let db = Db::connect(&settings.database_url, 2).await?;
            db.migrate().await?;
            db.reset_checkpoint(crate::publisher::CHECKPOINT).await?;
            eprintln!("the Kafka publisher will send all {} events again, from the start", db.count_events().await?);
            Ok(())
        }
    }
}

/// `keys rotate | list`.
/// `roster admin create`: the same use case as `admin/create`, on an app
/// that serves nothing and stops once the admin is written. On SQLite it
/// takes the file's lock, so it runs while the service is stopped.
async fn admin_create(mut settings: Settings, email: String, name: String) -> anyhow::Result<()> {
    // Refused before the prompt rather than after the password is typed;
    // `Application::build` takes the lock for real.
    drop(crate::storage::file_lock::lock_database(&settings.database_url)?);
    let password = read_password()?;
    settings.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    settings.kafka = None;
    settings.bootstrap_admin = None;
    let app = Application::build(settings).await?;
    let created = app.state().create_admin(name, email, password, &Metadata::system("cli-admin-create")).await;
    app.stop().await;
    match created {
        Ok(profile) => {
            eprintln!("admin created: id {} ({})", profile.user.id, profile.user.email.unwrap_or_default());
            Ok(())
        }
        Err(error) => anyhow::bail!("{}", error),
    }
}

/// `roster api-key create | list | revoke`: the admin API's use cases, on
/// an app that serves nothing (as `admin create`; on SQLite it takes the
/// file's lock, so it runs while the service is stopped).
async fn api_key(mut settings: Settings, command: ApiKeyCommand) -> anyhow::Result<()> {
    settings.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    settings.kafka = None;
    settings.bootstrap_admin = None;
    let app = Application::build(settings).await?;
    let state = app.state();
    let meta = Metadata::system("cli-api-key");
    let done = match command {
        ApiKeyCommand::Create { name } => state.issue_api_key(&name, &meta).await.map(|issued| {
            eprintln!(
                "API key {} issued ({}); keep the key now, it is not shown again",
                issued.row.id, issued.row.name
            );
            println!("{}", issued.key);
        }),
        ApiKeyCommand::List => state.api_keys().await.map(|keys| {
            for key in keys {
                let line = serde_json::json!({
                    "id": key.id, "name": key.name, "issued_by": key.issued_by, "issued_at": key.issued_at,
                    "revoked_at": key.revoked_at, "revoked_by": key.revoked_by,
                });
                println!("{line}");
            }
        }),
        ApiKeyCommand::Revoke { id } => {
            state.revoke_api_key(&id, &meta).await.map(|key| eprintln!("API key {} ({}) revoked", key.id, key.name))
        }
    };
    app.stop().await;
    done.map_err(|error| anyhow::anyhow!("{error}"))
}

/// `roster app register`: the same use case as `admin/registerApp`, on an
/// app that serves nothing and stops once the registration is written.
async fn app_register(mut settings: Settings, app_id: String, name: Option<String>) -> anyhow::Result<()> {
    settings.addr = SocketAddr::from(([127, 0, 0, 1], 0));
    settings.kafka = None;
    settings.bootstrap_admin = None;
    let app = Application::build(settings).await?;
    let meta = Metadata::system("cli-app-register");
    let registered = app.state().register_client_app_by(0, &app_id, name.as_deref(), &meta).await;
    app.stop().await;
    match registered {
        Ok(id) => {
            eprintln!("app registered: {id}");
            Ok(())
        }
        Err(error) => anyhow::bail!("{}", error),
    }
}

/// A prompt without echo on a terminal; otherwise the first line of stdin.
fn read_password() -> anyhow::Result<String> {
    let line = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("Password for the new admin: ")?
    } else {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line
    };
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        anyhow::bail!("no password given: type it at the prompt or pipe it on stdin");
    }
    Ok(password)
}

async fn keys(settings: &Settings, command: KeysCommand) -> anyhow::Result<()> {
    use crate::auth::{master_key::MasterKey, signing_keys, tokens::LEEWAY_SECONDS};
    let db = Db::connect(&settings.database_url, 2).await?;
    db.migrate().await?;
    match command {
        KeysCommand::List => {
            for key in signing_keys::list(&db).await? {
                println!("{}", serde_json::to_string(&key)?);
            }
        }
        KeysCommand::Rotate => {
            if settings.access_token_secret.is_some() || settings.refresh_token_secret.is_some() {
                anyhow::bail!(
                    "tokens are signed with ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET (HS256): change those \
                     instead, keeping the old ones in ACCESS_TOKEN_PREVIOUS_SECRET and REFRESH_TOKEN_PREVIOUS_SECRET"
                );
            }
            let master = MasterKey::resolve(&settings.master_key, &settings.database_url)?;
            signing_keys::prepare(&db, &master).await?;
            // The old key's last token: signed just before an instance read
            // the new key, living the longest token lifetime, plus the leeway.
            let longest = settings.access_token_ttl_seconds.max(settings.refresh_token_ttl_seconds);
            let refresh = (settings.signing_keys_refresh_ms / 1000 + 1) as i64;
            let retire_after = chrono::Duration::seconds(longest + refresh + LEEWAY_SECONDS);
            let kid = signing_keys::rotate(&db, &master, retire_after).await?;
            eprintln!("new signing key {kid}; the previous one verifies until {}", chrono::Utc::now() + retire_after);
            println!("{kid}");
        }
    }
    db.close().await;
    Ok(())
}

/// `projections failed | retry`.
async fn projections(settings: &Settings, command: ProjectionsCommand) -> anyhow::Result<()> {
    let db = Db::connect(&settings.database_url, 2).await?;
    db.migrate().await?;
    let projector = Projector::new(db.clone());
    let known = |name: &Option<String>| -> anyhow::Result<()> {
        match name {
            Some(name) if !projector.names().contains(&name.as_str()) => {
                anyhow::bail!("unknown projection {name}; known: {}", projector.names().join(", "))
            }
            _ => Ok(()),
        }
    };
    match command {
        ProjectionsCommand::Failed { projection } => {
            known(&projection)?;
            let mut stdout = std::io::stdout().lock();
            let failed = db.failed_events(projection.as_deref()).await?;
            for event in &failed {
                writeln!(stdout, "{}", serde_json::to_string(event)?)?;
            }
            eprintln!("{} failed event(s)", failed.len());
        }
        ProjectionsCommand::Retry { projection, position } => {
            known(&projection)?;
            let report = projector.retry_failed(projection.as_deref(), position).await?;
            eprintln!("{} event(s) applied, {} still failing", report.applied, report.still_failing);
            if report.still_failing > 0 {
                anyhow::bail!("some events still fail: see `roster projections failed`");
            }
        }
    }
    Ok(())
}

async fn replay(settings: &Settings, skip_failed: bool) -> anyhow::Result<()> {
    // Each read model rebuilds in a transaction of its own while a reader
    // fetches its next batches: two connections per projection.
    let db = Db::connect(&settings.database_url, 12).await?;
    db.migrate().await?;
    let total = db.count_events().await? as u64;
    let projector = Projector::new(db.clone());
    let started = std::time::Instant::now();
    let bars: Vec<(&'static str, ProgressBar)> = projector
        .names()
        .into_iter()
        .map(|name| {
            // Each projection reads only its own aggregate types, so its count is its own.
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{prefix:>14} {spinner} {pos} events applied ({per_sec})")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(name);
            (name, bar)
        })
        .collect();
    projector
        .rebuild_with(skip_failed, |name, n| {
            if let Some((_, bar)) = bars.iter().find(|(b, _)| *b == name) {
                bar.inc(n as u64);
            }
        })
        .await?;
    for (_, bar) in &bars {
        bar.finish();
    }
    let elapsed = started.elapsed();
    eprintln!(
        "replayed {total} events into {} projections in {elapsed:.1?} ({:.0} events/s)",
        bars.len(),
        total as f64 / elapsed.as_secs_f64()
    );
    let analysing = std::time::Instant::now();
    db.refresh_statistics().await?;
    eprintln!("planner statistics refreshed in {:.1?}", analysing.elapsed());
    Ok(())
}

async fn export(settings: &Settings, from_position: i64, aggregate_type: Option<String>) -> anyhow::Result<()> {
    let db = Db::connect(&settings.database_url, 2).await?;
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    let mut after = CommitPoint::default();
    loop {
        let batch = db.events_after(after, 1000).await?;
        let Some(last) = batch.last() else { break };
        after = last.point;
        for entry in batch {
            let e = entry.event;
            if e.position <= from_position || aggregate_type.as_deref().is_some_and(|t| t != e.aggregate_type) {
                continue;
            }
            writeln!(stdout, "{}", render_event(&e))?;
        }
    }
    stdout.flush()?;
    Ok(())
}

async fn tail(settings: &Settings, from_position: Option<i64>) -> anyhow::Result<()> {
    let db = Db::connect(&settings.database_url, 2).await?;
    let mut after = match from_position {
        Some(position) => db.commit_point_before(position).await?,
        None => db.end_of_log().await?,
    };
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        let batch = tokio::select! {
            _ = &mut stop => return Ok(()),
            batch = db.events_after(after, 1000) => batch?,
        };
        if batch.is_empty() {
            tokio::select! {
                _ = &mut stop => return Ok(()),
                _ = tokio::time::sleep(TAIL_POLL) => continue,
            }
        }
        let mut stdout = std::io::stdout().lock();
        for entry in batch {
            after = entry.point;
            // Commit order can bring a lower position than asked for.
            if from_position.is_some_and(|p| entry.event.position <= p) {
                continue;
            }
            if let Err(error) = writeln!(stdout, "{}", render_event(&entry.event)) {
                return quiet_on_closed_pipe(error);
            }
        }
        // Readers piping the output see each batch at once.
        if let Err(error) = stdout.flush() {
            return quiet_on_closed_pipe(error);
        }
    }
}

/// `roster events tail | head` ends the tail when `head` has had enough.
fn quiet_on_closed_pipe(error: std::io::Error) -> anyhow::Result<()> {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(error.into())
    }
}
