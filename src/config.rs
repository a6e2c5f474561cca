//! Settings come from the environment (GUIDE §9); every one has a default
//! that serves the embedded SQLite setup.

use std::net::SocketAddr;

use anyhow::Context;

#[derive(Clone, Debug)]
pub struct Settings {
    pub addr: SocketAddr,
    pub database_url: String,
    pub database_max_connections: u32,
    pub kafka_brokers: Option<String>,
    pub admin_secret_code: Option<String>,
    pub default_organisation_code: String,
    pub default_role: String,
    pub access_token_secret: Option<String>,
    pub refresh_token_secret: Option<String>,
    pub access_token_ttl_seconds: i64,
    pub refresh_token_ttl_seconds: i64,
    pub login_max_failed_attempts: u32,
    pub login_lock_seconds: i64,
    pub read_your_writes_timeout_ms: u64,
    pub log_format_json: bool,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parsed<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    match var(name) {
        Some(v) => v.trim().parse().with_context(|| format!("{name} has an invalid value")),
        None => Ok(default),
    }
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Settings> {
        Ok(Settings {
            addr: parsed("ROSTER_ADDR", SocketAddr::from(([127, 0, 0, 1], 3000)))?,
            database_url: var("DATABASE_URL").unwrap_or_else(|| "sqlite://./data/roster.db".to_string()),
            database_max_connections: parsed("DATABASE_MAX_CONNECTIONS", 16)?,
            kafka_brokers: var("KAFKA_BROKERS"),
            admin_secret_code: var("ADMIN_SECRET_CODE"),
            default_organisation_code: var("DEFAULT_ORGANISATION_CODE").unwrap_or_else(|| "default".into()),
            default_role: var("DEFAULT_ROLE").unwrap_or_else(|| "mentee".into()),
            access_token_secret: var("ACCESS_TOKEN_SECRET"),
            refresh_token_secret: var("REFRESH_TOKEN_SECRET"),
            access_token_ttl_seconds: parsed("ACCESS_TOKEN_TTL_SECONDS", 86_400)?,
            refresh_token_ttl_seconds: parsed("REFRESH_TOKEN_TTL_SECONDS", 183 * 86_400)?,
            login_max_failed_attempts: parsed("LOGIN_MAX_FAILED_ATTEMPTS", 5)?,
            login_lock_seconds: parsed("LOGIN_LOCK_SECONDS", 900)?,
            read_your_writes_timeout_ms: parsed("READ_YOUR_WRITES_TIMEOUT_MS", 2_000)?,
            log_format_json: var("ROSTER_LOG_FORMAT").is_some_and(|v| v.eq_ignore_ascii_case("json")),
        })
    }
}
