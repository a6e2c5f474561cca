//! `roster serve | migrate | replay | events export`.

use std::io::Write;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::app::{shutdown_signal, Application};
use crate::config::Settings;
use crate::projector::Projector;
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
    Migrate,
    /// Rebuild every read model from the start of the log.
    Replay,
    /// Work with the event log.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
}

#[derive(Subcommand)]
pub enum EventsCommand {
    /// Write the log as JSON lines to stdout, in commit order.
    Export {
        /// Only events after this position.
        #[arg(long, default_value_t = 0)]
        from_position: i64,
        /// Only events of this aggregate type (user, organization, role, unique_claim).
        #[arg(long)]
        aggregate_type: Option<String>,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    telemetry::init_logging(settings.log_format_json);
    telemetry::metrics();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => Application::build(settings).await?.run_until(shutdown_signal()).await,
        Command::Migrate => {
            let db = Db::connect(&settings.database_url, 2).await?;
            db.migrate().await?;
            eprintln!("migrations applied ({})", db.backend());
            Ok(())
        }
        Command::Replay => replay(&settings).await,
        Command::Events { command: EventsCommand::Export { from_position, aggregate_type } } => {
            export(&settings, from_position, aggregate_type).await
        }
    }
}

async fn replay(settings: &Settings) -> anyhow::Result<()> {
    let db = Db::connect(&settings.database_url, 4).await?;
    db.migrate().await?;
    let total = db.count_events().await? as u64;
    let projector = Projector::new(db.clone());
    let started = std::time::Instant::now();
    let bars: Vec<(&'static str, ProgressBar)> = projector
        .names()
        .into_iter()
        .map(|name| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template("{prefix:>14} [{bar:40}] {pos}/{len} events ({per_sec})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_prefix(name);
            (name, bar)
        })
        .collect();
    projector
        .rebuild(|name, n| {
            if let Some((_, bar)) = bars.iter().find(|(b, _)| *b == name) {
                bar.inc(n as u64);
            }
        })
        .await?;
    for (_, bar) in &bars {
        bar.finish();
    }
    eprintln!("replayed {total} events into {} projections in {:.1?}", bars.len(), started.elapsed());
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
            let line = serde_json::json!({
                "position": e.position,
                "aggregate_type": e.aggregate_type,
                "aggregate_id": e.aggregate_id,
                "sequence": e.sequence,
                "event_type": e.event_type,
                "event_version": e.event_version,
                "recorded_at": e.recorded_at,
                "metadata": e.metadata,
                "payload": e.payload,
            });
            writeln!(stdout, "{line}")?;
        }
    }
    stdout.flush()?;
    Ok(())
}
