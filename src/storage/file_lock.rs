//! One process per SQLite file: an OS lock on a sibling `<file>.lock`, held
//! for the life of the process (`serve`, `replay`, `migrate`). Without it a
//! second instance waits out SQLite's busy timeout and fails obscurely.
//! The OS drops the lock when the process dies, so a crash leaves nothing
//! to clean up.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Context;
use sqlx::sqlite::SqliteConnectOptions;

/// Held while the value lives; `None` for PostgreSQL and in-memory SQLite,
/// where several processes may share the database.
pub struct ProcessLock(#[allow(dead_code)] Option<File>);

pub fn lock_database(url: &str) -> anyhow::Result<ProcessLock> {
    if !url.starts_with("sqlite:") {
        return Ok(ProcessLock(None));
    }
    let options = SqliteConnectOptions::from_str(url).context("DATABASE_URL is not a valid SQLite URL")?;
    let file = options.get_filename();
    if file.as_os_str().is_empty() || file.as_os_str() == ":memory:" || url.contains("mode=memory") {
        return Ok(ProcessLock(None));
    }
    let mut lock_path = file.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = PathBuf::from(lock_path);
    if let Some(parent) = lock_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the database folder {}", parent.display()))?;
    }
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open the lock file {}", lock_path.display()))?;
    match lock.try_lock() {
        Ok(()) => Ok(ProcessLock(Some(lock))),
        Err(TryLockError::WouldBlock) => anyhow::bail!(
            "DATABASE_URL: another roster process is using the SQLite database {} (it holds {}): stop it first; \
             to run several instances, use PostgreSQL",
            file.display(),
            lock_path.display()
        ),
        Err(TryLockError::Error(error)) => Err(error).with_context(|| format!("cannot lock {}", lock_path.display())),
    }
}
