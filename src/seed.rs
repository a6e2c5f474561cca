//! `roster dev seed`: many realistic users through the real command path
//! (the claim and user aggregates decide, the events are sealed and appended
//! to the log, the projections build the read models), fast enough to reach
//! a million on a small machine. Two shortcuts: every seeded user shares a
//! password hash computed once, since hashing is deliberately slow, and the
//! events of a whole batch of users are appended in one transaction.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::accounts::SignUp;
use crate::auth::password;
use crate::commands::Metadata;
use crate::config::Settings;
use crate::services::Services;

/// Users per append: one transaction of about 2,000 events.
const BATCH: u64 = 1_000;

/// The password of every seeded user (benchmarks log in with it).
pub const SEED_PASSWORD: &str = "Bench!pass1";

/// The email of seeded user `i` (benchmarks derive logins from it).
pub fn seed_email(i: u64) -> String {
    format!("user{i}@bench.roster.example")
}

const FIRST_NAMES: &[&str] =
    &["Asha", "Bilal", "Chen", "Dara", "Elif", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kavya", "Luca"];
const LAST_NAMES: &[&str] =
    &["Rao", "Okafor", "Larsen", "Moreau", "Silva", "Tanaka", "Novak", "Haddad", "Kowalski", "Mensah"];

fn seed_name(i: u64) -> String {
    let first = FIRST_NAMES[(i % FIRST_NAMES.len() as u64) as usize];
    let last = LAST_NAMES[((i / FIRST_NAMES.len() as u64) % LAST_NAMES.len() as u64) as usize];
    format!("{first} {last} {i}")
}

/// The sign-up of seeded user `i`.
pub fn seed_sign_up(i: u64) -> SignUp {
    SignUp {
        name: seed_name(i),
        email: seed_email(i),
        password: SEED_PASSWORD.into(),
        phone: None,
        username: None,
        has_accepted_terms_and_conditions: true,
        // Every tenth user is a mentor, so role filters have something to find.
        roles: if i.is_multiple_of(10) { vec!["mentor".into()] } else { vec![] },
        preferred_language: None,
    }
}

/// The settings of the app `seed` runs on: it serves nothing and publishes nothing.
pub fn settings(mut settings: Settings) -> anyhow::Result<Settings> {
    settings.addr = "127.0.0.1:0".parse()?;
    settings.kafka = None;
    Ok(settings)
}

pub async fn seed(state: &Services, users: u64, start_at: u64, concurrency: usize) -> anyhow::Result<()> {
    let hash = password::hash(SEED_PASSWORD.to_string()).await?;
    let next = Arc::new(AtomicU64::new(start_at));
    let end = start_at + users;
    let bar = ProgressBar::new(users);
    bar.set_style(
        ProgressStyle::with_template("seeding [{bar:40}] {pos}/{len} users ({per_sec}, eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let failures = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (state, next, hash, bar, failures) =
                (state.clone(), next.clone(), hash.clone(), bar.clone(), failures.clone());
            tokio::spawn(async move {
                let meta = Metadata::system("seed");
                loop {
                    let first = next.fetch_add(BATCH, Ordering::Relaxed);
                    if first >= end {
                        return;
                    }
                    let batch: Vec<SignUp> = (first..(first + BATCH).min(end)).map(seed_sign_up).collect();
                    let size = batch.len() as u64;
                    match state.seed_users(batch, hash.clone(), &meta).await {
                        Ok(registered) => failures.fetch_add(size - registered, Ordering::Relaxed),
                        Err(error) => {
                            tracing::error!(%error, "a seeding batch failed");
                            failures.fetch_add(size, Ordering::Relaxed)
                        }
                    };
                    bar.inc(size);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await?;
    }
    bar.finish();
    let written = started.elapsed();
    eprintln!(
        "seeded {users} users in {written:.1?} ({:.0}/s), {} refused (already there?)",
        users as f64 / written.as_secs_f64(),
        failures.load(Ordering::Relaxed)
    );
    // The read models catch up in the background; wait so benchmarks start on a settled database.
    let last_write = state.db.last_committed_point().await?;
    let caught_up = state.projector.wait_for(last_write, Duration::from_secs(3600)).await;
    eprintln!("projections caught up: {caught_up} (after {:.1?} in all)", started.elapsed());
    state.db.refresh_statistics().await?;
    Ok(())
}
