//! Storage wiring: one `Db` handle over PostgreSQL (production) or SQLite
//! (embedded default), chosen by `DATABASE_URL`.

mod aggregate_events;
mod append;
pub mod audit_log;
pub mod claim_ids;
pub mod copy_rows;
pub mod failed_events;
pub mod file_lock;
pub mod inline;
mod listing;
pub mod log;
pub mod orphaned_claims;
mod parked_indexes;
pub mod query;
pub mod reader;
pub(crate) mod shadow_tables;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use projections::{SqlValue, Statement};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::ConnectOptions;

pub use aggregate_events::AggregateEvent;
pub use append::{Appended, NewEvent, SequenceGuard};
pub use reader::{Count, Reader};

#[derive(Clone, Debug)]
pub enum Db {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

/// Runs the same body against whichever pool `Db` holds; the body is compiled
/// once per backend, so it must only use SQL and types both understand.
#[macro_export]
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::storage::Db::Postgres($pool) => $body,
            $crate::storage::Db::Sqlite($pool) => $body,
        }
    };
}

/// Binds projection arguments. `Null` binds as text: every nullable column a
/// projection writes is text.
#[macro_export]
macro_rules! bind_values {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                projections::SqlValue::Null => query.bind(None::<String>),
                projections::SqlValue::Int(v) => query.bind(*v),
                projections::SqlValue::Text(v) | projections::SqlValue::Pattern(v) => query.bind(v.as_str()),
                projections::SqlValue::Bool(v) => query.bind(*v),
            };
        }
        query
    }};
}

/// Runs statements in order on one connection, stopping at the first
/// error; evaluates to that `Result<(), sqlx::Error>`.
#[macro_export]
macro_rules! execute_all {
    ($conn:expr, $statements:expr) => {{
        let mut result = Ok(());
        for statement in $statements.iter() {
            if let Err(error) = $crate::bind_values!(sqlx::query(&statement.sql), &statement.args).execute($conn).await
            {
                result = Err(error);
                break;
            }
        }
        result
    }};
}

/// Runs statements inside a savepoint of transaction `$tx`: kept if all
/// succeed, undone otherwise (the transaction stays usable either way).
/// Evaluates to the statements' result; a failing savepoint statement
/// itself returns from the caller (`?`).
#[macro_export]
macro_rules! in_savepoint {
    ($tx:ident, $statements:expr) => {{
        sqlx::query("SAVEPOINT step").execute(&mut *$tx).await?;
        let result = $crate::execute_all!(&mut *$tx, $statements);
        if result.is_err() {
            sqlx::query("ROLLBACK TO SAVEPOINT step").execute(&mut *$tx).await?;
        }
        sqlx::query("RELEASE SAVEPOINT step").execute(&mut *$tx).await?;
        result
    }};
}

/// A stable 64-bit PostgreSQL advisory-lock key for `name` (each
/// database has its own lock space).
pub(crate) fn advisory_lock_key(name: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("roster:{name}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// SQLite needs the write lock taken up front (`BEGIN IMMEDIATE`), or a
/// transaction that reads before it writes can fail with a busy snapshot.
pub(crate) async fn begin_write<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
) -> Result<sqlx::Transaction<'static, DB>, sqlx::Error> {
    if DB::NAME == "SQLite" {
        pool.begin_with("BEGIN IMMEDIATE").await
    } else {
        pool.begin().await
    }
}

/// PostgreSQL's `invalid_catalog_name`: the database in the URL does not exist.
const NO_SUCH_DATABASE: &str = "3D000";

/// A missing database says how to create it; other failures keep their cause.
fn missing_database(error: sqlx::Error, url: &str) -> anyhow::Error {
    let missing = error.as_database_error().and_then(|e| e.code()).is_some_and(|code| code == NO_SUCH_DATABASE);
    match PgConnectOptions::from_str(url).ok().and_then(|o| o.get_database().map(str::to_string)) {
        Some(name) if missing => anyhow::anyhow!(
            "DATABASE_URL names the PostgreSQL database \"{name}\", which does not exist: create it with \
             `roster migrate --create-database` (or `createdb {name}`)"
        ),
        _ => anyhow::Error::new(error).context("cannot connect to PostgreSQL"),
    }
}

/// `roster migrate --create-database`: creates the PostgreSQL database the
/// URL names, through the server's `postgres` database, unless it exists.
/// Returns whether it created it. SQLite files are created on connect.
pub async fn create_database(url: &str) -> anyhow::Result<bool> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Ok(false);
    }
    let options = PgConnectOptions::from_str(url).context("DATABASE_URL is not a valid PostgreSQL URL")?;
    let name = options.get_database().context("DATABASE_URL names no database")?.to_string();
    let server = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.database("postgres"))
        .await
        .context("cannot connect to PostgreSQL's `postgres` database to create the database")?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(&name)
        .fetch_one(&server)
        .await?;
    if !exists {
        // Identifiers cannot be bound; quoted, with quotes doubled.
        let created = sqlx::query(&format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""))).execute(&server).await;
        // Another process may have created it in between.
        if let Err(error) = created {
            if error.as_database_error().and_then(|e| e.code()).as_deref() != Some("42P04") {
                return Err(error).with_context(|| format!("cannot create the database {name}"));
            }
        }
    }
    server.close().await;
    Ok(!exists)
}

impl Db {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Db> {
        Db::connect_limited(url, max_connections, None).await
    }

    /// A pool whose every statement is stopped after `statement_limit`
    /// (`reader.rs` says how on each backend).
    pub(crate) async fn connect_limited(
        url: &str,
        max_connections: u32,
        statement_limit: Option<Duration>,
    ) -> anyhow::Result<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut options = PgConnectOptions::from_str(url)
                .context("DATABASE_URL is not a valid PostgreSQL URL")?
                .log_statements(tracing::log::LevelFilter::Trace)
                .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
            if let Some(limit) = statement_limit {
                options = reader::limit_postgres(options, limit);
            }
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                // A ping before every checkout doubles the round trips of
                // short queries; a dead connection fails its query instead,
                // and every caller retries or reports that.
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .map_err(|e| missing_database(e, url))?;
            Ok(Db::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .context("DATABASE_URL is not a valid SQLite URL")?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(30))
                .log_statements(tracing::log::LevelFilter::Trace);
            if let Some(parent) = Path::new(options.get_filename()).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("cannot create the database folder {}", parent.display()))?;
                }
            }
            let mut pool = SqlitePoolOptions::new()
                .max_connections(max_connections.min(8))
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(30));
            if reader::in_memory(url) {
                // The database lives as long as one of its connections: the
                // pool must never close the last one (by default it closes
                // connections idle for 10 minutes or older than 30).
                pool = pool.min_connections(1).idle_timeout(None).max_lifetime(None);
            }
            if let Some(limit) = statement_limit {
                pool = reader::limit_sqlite(pool, limit);
            }
            let pool = pool.connect_with(options).await.context("cannot open the SQLite database")?;
            Ok(Db::Sqlite(pool))
        } else {
            anyhow::bail!("DATABASE_URL must start with postgres:// or sqlite:")
        }
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Db::Postgres(pool) => {
                sqlx::migrate!("./migrations/postgres").run(pool).await?;
                listing::vacuum_new_search_prefixes(pool).await?;
            }
            Db::Sqlite(pool) => {
                sqlx::migrate!("./migrations/sqlite").run(pool).await?;
                // SQLite keeps no statistics unless asked; this analyses the
                // tables whose statistics are missing or stale, as SQLite
                // advises on opening a database.
                sqlx::raw_sql("PRAGMA optimize = 0x10002").execute(pool).await?;
            }
        }
        // Part of migrating: a log from before claim ids were keyed is renamed.
        claim_ids::ClaimIds::load(self).await?;
        Ok(())
    }

    /// Fresh planner statistics after a bulk change (seeding, replay).
    /// Without them SQLite's planner guessed that `status = 'ACTIVE'` is
    /// selective and walked all of `users` to count a role's holders: 340 ms
    /// against 26 ms at 100k users. PostgreSQL's autovacuum would catch up by
    /// itself; the VACUUM also sets the visibility map that index-only scans
    /// read.
    pub async fn refresh_statistics(&self) -> Result<(), sqlx::Error> {
        match self {
            Db::Postgres(pool) => sqlx::raw_sql("VACUUM (ANALYZE)").execute(pool).await.map(|_| ()),
            Db::Sqlite(pool) => sqlx::raw_sql("ANALYZE").execute(pool).await.map(|_| ()),
        }
    }

    /// The database this handle reaches (a file, or a server's database):
    /// what every handle on one database in this process may share.
    pub fn identity(&self) -> String {
        match self {
            Db::Postgres(pool) => {
                let options = pool.connect_options();
                let database = options.get_database().unwrap_or_default();
                format!("postgres://{}:{}/{database}", options.get_host(), options.get_port())
            }
            Db::Sqlite(pool) => format!("sqlite://{}", pool.connect_options().get_filename().display()),
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Db::Postgres(_) => "postgres",
            Db::Sqlite(_) => "sqlite",
        }
    }

    /// A migrated SQLite database in memory, for unit tests of what runs on the log.
    #[cfg(test)]
    pub(crate) async fn in_memory() -> Db {
        let db = Db::connect("sqlite::memory:", 1).await.expect("an in-memory SQLite database");
        db.migrate().await.expect("migrations");
        db
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }

    /// Reserves `count` consecutive numeric ids of a kind ("user",
    /// "organization", "role"); returns the first.
    pub async fn reserve_numeric_ids(&self, kind: &str, count: i64) -> Result<i64, sqlx::Error> {
        let last = on_pool!(self, pool => {
            sqlx::query_scalar::<_, i64>("UPDATE id_counters SET last_id = last_id + $2 WHERE kind = $1 RETURNING last_id")
                .bind(kind)
                .bind(count)
                .fetch_one(pool)
                .await
        })?;
        Ok(last - count + 1)
    }

    /// Allocates the next numeric id of a kind.
    pub async fn next_numeric_id(&self, kind: &str) -> Result<i64, sqlx::Error> {
        self.reserve_numeric_ids(kind, 1).await
    }

    /// Executes one statement outside any transaction.
    pub async fn execute(&self, statement: &Statement) -> Result<u64, sqlx::Error> {
        on_pool!(self, pool => {
            bind_values!(sqlx::query(&statement.sql), &statement.args)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
    }
}

/// `($1, $2), ($3, $4), ...`: the VALUES list of a multi-row INSERT of
/// `rows` rows with `width` parameters each (SQLite has no arrays to unnest).
pub(crate) fn values_placeholders(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|row| {
            let marks: Vec<String> = (1..=width).map(|column| format!("${}", row * width + column)).collect();
            format!("({})", marks.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `SqlValue` shorthand for callers building ad-hoc statements.
pub fn text(value: impl Into<String>) -> SqlValue {
    SqlValue::Text(value.into())
}

impl Db {
    /// Whether `statement` is kept prepared for the next call. PostgreSQL
    /// may switch a prepared statement to a generic plan, chosen without its
    /// arguments, after five calls; for a search pattern that plan walks the
    /// name index and filters every user (seconds at a million users, where
    /// the trigram index answers a rare term in milliseconds). A statement
    /// with a pattern is therefore sent unprepared, and planned for its own
    /// arguments; every other keeps its cached plan (planning each call
    /// halves the rate of the cheap lists). SQLite has no generic plans.
    fn kept_prepared(&self, statement: &Statement) -> bool {
        matches!(self, Db::Sqlite(_)) || !statement.args.iter().any(|a| matches!(a, SqlValue::Pattern(_)))
    }

    /// Runs a dynamically built query and maps each row with `FromRow`.
    pub async fn fetch_all<T>(&self, statement: &Statement) -> Result<Vec<T>, sqlx::Error>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + Send
            + Unpin,
    {
        let kept = self.kept_prepared(statement);
        on_pool!(self, pool => bind_values!(sqlx::query_as::<_, T>(&statement.sql).persistent(kept), &statement.args).fetch_all(pool).await)
    }

    pub async fn fetch_optional<T>(&self, statement: &Statement) -> Result<Option<T>, sqlx::Error>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + Send
            + Unpin,
    {
        let kept = self.kept_prepared(statement);
        on_pool!(self, pool => bind_values!(sqlx::query_as::<_, T>(&statement.sql).persistent(kept), &statement.args).fetch_optional(pool).await)
    }

    pub async fn fetch_count(&self, statement: &Statement) -> Result<i64, sqlx::Error> {
        let kept = self.kept_prepared(statement);
        on_pool!(self, pool => bind_values!(sqlx::query_scalar::<_, i64>(&statement.sql).persistent(kept), &statement.args).fetch_one(pool).await)
    }
}
