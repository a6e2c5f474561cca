//! Reads whose work is bounded: every list, search and audit read runs on a
//! pool of its own whose statements are stopped after
//! `READ_STATEMENT_TIMEOUT_MS`, and counts are exact only up to
//! `SEARCH_EXACT_COUNT_LIMIT` matches (README, "Search").
//!
//! The statement limit is the backstop for whatever the indexes do not
//! bound (a deep page, a rare filter over the log): PostgreSQL's
//! `statement_timeout`, set on every connection of the pool; on SQLite a
//! progress handler that interrupts a statement once its time is up (the
//! deadline starts when the connection is taken from the pool, and every
//! `Db` query takes one for a single statement). Either way the query fails
//! with a cancellation, reported as `ServiceError::ReadTimeout`. Its own pool also
//! means searches can hold at most `READ_MAX_CONNECTIONS` connections,
//! whatever they cost, and leave the rest to everything else.

use std::time::{Duration, Instant};

use projections::{SqlValue, Statement};
use sqlx::pool::PoolOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{Sqlite, SqliteConnection};

use super::Db;
use crate::config::Settings;

/// SQLite virtual-machine steps between two looks at the clock.
const PROGRESS_STEPS: i32 = 1_000;

/// The pool for list, search and audit reads, and the count bound.
#[derive(Clone, Debug)]
pub struct Reader {
    db: Db,
    exact_count_limit: i64,
}

/// How many rows a list matches. `estimate` is set when there are more than
/// the exact-count limit; `value` is then at least the limit plus one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count {
    pub value: i64,
    pub estimate: bool,
}

impl Count {
    pub fn exact(value: i64) -> Count {
        Count { value, estimate: false }
    }
}

pub(super) fn limit_postgres(options: PgConnectOptions, limit: Duration) -> PgConnectOptions {
    options.options([("statement_timeout", format!("{}ms", limit.as_millis()))])
}

/// Arms the deadline on a fresh connection and again at every checkout.
pub(super) fn limit_sqlite(pool: PoolOptions<Sqlite>, limit: Duration) -> PoolOptions<Sqlite> {
    pool.after_connect(move |conn, _| Box::pin(async move { arm(conn, limit).await }))
        .before_acquire(move |conn, _| Box::pin(async move { arm(conn, limit).await.map(|()| true) }))
}

async fn arm(conn: &mut SqliteConnection, limit: Duration) -> Result<(), sqlx::Error> {
    let deadline = Instant::now() + limit;
    conn.lock_handle().await?.set_progress_handler(PROGRESS_STEPS, move || Instant::now() < deadline);
    Ok(())
}

/// A SQLite database in memory exists once per pool: a second pool would
/// open another, empty one.
pub(super) fn in_memory(url: &str) -> bool {
    url.starts_with("sqlite:") && (url.contains(":memory:") || url.contains("mode=memory"))
}

impl Reader {
    /// Opens the read pool beside `main` (which has run the migrations). An
    /// in-memory SQLite database is read through `main`, without a limit.
    pub async fn connect(settings: &Settings, main: &Db) -> anyhow::Result<Reader> {
        let limit =
            (settings.read_statement_timeout_ms > 0).then(|| Duration::from_millis(settings.read_statement_timeout_ms));
        let db = if in_memory(&settings.database_url) {
            main.clone()
        } else {
            Db::connect_limited(&settings.database_url, settings.read_max_connections.max(1), limit).await?
        };
        Ok(Reader { db, exact_count_limit: settings.search_exact_count_limit })
    }

    /// `SEARCH_EXACT_COUNT_LIMIT`: up to how many rows `count` counts
    /// exactly (0 or less: every count is exact).
    pub fn exact_count_limit(&self) -> i64 {
        self.exact_count_limit
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub async fn close(&self) {
        self.db.close().await
    }

    /// The rows of `SELECT ... FROM {from_where}` (a FROM list and its
    /// WHERE clause), counted up to the limit plus one; past the limit an
    /// estimate: PostgreSQL's planner's, never below what was counted, and
    /// on SQLite (no planner estimate to ask) the limit plus one itself.
    pub async fn count(&self, from_where: &str, args: Vec<SqlValue>) -> Result<Count, sqlx::Error> {
        if self.exact_count_limit <= 0 {
            return Ok(Count::exact(
                self.db.fetch_count(&Statement::new(format!("SELECT count(*) FROM {from_where}"), args)).await?,
            ));
        }
        // The bound is written in, not bound: see `read_models::window`.
        let bound = self.exact_count_limit + 1;
        let sql = format!("SELECT count(*) FROM (SELECT 1 FROM {from_where} LIMIT {bound}) bounded");
        let counted = self.db.fetch_count(&Statement::new(sql, args.clone())).await?;
        if counted <= self.exact_count_limit {
            return Ok(Count::exact(counted));
        }
        let planned = match &self.db {
            Db::Postgres(_) => self.planned_rows(from_where, args).await?,
            Db::Sqlite(_) => None,
        };
        Ok(Count { value: planned.unwrap_or(0).max(counted), estimate: true })
    }

    /// The planner's row estimate for `SELECT 1 FROM {from_where}`: the
    /// first line of its plan ends `(cost=... rows=N width=...)`.
    async fn planned_rows(&self, from_where: &str, args: Vec<SqlValue>) -> Result<Option<i64>, sqlx::Error> {
        let plan: Vec<(String,)> =
            self.db.fetch_all(&Statement::new(format!("EXPLAIN SELECT 1 FROM {from_where}"), args)).await?;
        Ok(plan.first().and_then(|(line,)| plan_rows(line)))
    }
}

fn plan_rows(line: &str) -> Option<i64> {
    let after = line.rsplit_once(" rows=")?.1;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_rows_reads_the_top_node() {
        assert_eq!(plan_rows("Index Only Scan using o on p  (cost=0.56..2345.67 rows=83012 width=4)"), Some(83012));
        assert_eq!(plan_rows("Seq Scan on users u  (cost=0.00..1.01 rows=1 width=4)"), Some(1));
        assert_eq!(plan_rows("Result"), None);
    }

    #[test]
    fn only_in_memory_sqlite_shares_the_main_pool() {
        assert!(in_memory("sqlite::memory:"));
        assert!(in_memory("sqlite://file.db?mode=memory"));
        assert!(!in_memory("sqlite://./data/roster.db"));
        assert!(!in_memory("postgres://h/db?application_name=memory"));
    }
}
