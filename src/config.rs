//! Settings come from the environment (GUIDE §9); every one has a default
//! that serves the embedded SQLite setup.

use std::net::SocketAddr;

use anyhow::Context;

#[derive(Clone, Debug)]
pub struct Settings {
    pub addr: SocketAddr,
    pub database_url: String,
    pub database_max_connections: u32,
    /// `None` (no `KAFKA_BROKERS`): the publisher is off.
    pub kafka: Option<KafkaSettings>,
    pub admin_secret_code: Option<String>,
    /// `ROSTER_BOOTSTRAP_ADMIN_*`: an admin created at start while none exists.
    pub bootstrap_admin: Option<BootstrapAdmin>,
    pub default_organisation_code: String,
    pub default_role: String,
    pub access_token_secret: Option<String>,
    pub refresh_token_secret: Option<String>,
    pub access_token_ttl_seconds: i64,
    pub refresh_token_ttl_seconds: i64,
    pub login_max_failed_attempts: u32,
    pub login_lock_seconds: i64,
    pub read_your_writes_timeout_ms: u64,
    /// List and search counts are exact up to this many matches and an
    /// estimate, flagged as one, above it; 0: always exact.
    pub search_exact_count_limit: i64,
    /// The longest a list, search or audit statement may run (0: no limit).
    pub read_statement_timeout_ms: u64,
    /// Connections of the pool those reads use, apart from the main pool.
    pub read_max_connections: u32,
    pub log_format_json: bool,
    pub connections: ConnectionLimits,
}

/// Limits on client connections, so slow or idle clients cannot hold
/// sockets for ever (`crate::http::server`). A zero timeout turns it off.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// From a connection's start, or the first byte of a later request, until
    /// the request's headers are complete (`HTTP_HEADER_READ_TIMEOUT_MS`).
    pub header_read_timeout_ms: u64,
    /// Longest wait for the next piece of a request body (`HTTP_BODY_READ_TIMEOUT_MS`).
    pub body_read_timeout_ms: u64,
    /// How long a connection may sit idle between requests (`HTTP_KEEP_ALIVE_TIMEOUT_MS`).
    pub keep_alive_timeout_ms: u64,
    /// Connections served at once; more wait to be accepted (`HTTP_MAX_CONNECTIONS`).
    pub max_connections: usize,
}

#[derive(Clone)]
pub struct BootstrapAdmin {
    pub email: String,
    pub password: String,
    pub name: String,
}

/// The password stays out of logs and panics.
impl std::fmt::Debug for BootstrapAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BootstrapAdmin").field("email", &self.email).field("name", &self.name).finish_non_exhaustive()
    }
}

impl BootstrapAdmin {
    fn from_env() -> anyhow::Result<Option<BootstrapAdmin>> {
        match (var("ROSTER_BOOTSTRAP_ADMIN_EMAIL"), std::env::var("ROSTER_BOOTSTRAP_ADMIN_PASSWORD").ok()) {
            (None, None) => Ok(None),
            (Some(email), Some(password)) if !password.is_empty() => Ok(Some(BootstrapAdmin {
                email,
                password,
                name: var("ROSTER_BOOTSTRAP_ADMIN_NAME").unwrap_or_else(|| "Administrator".into()),
            })),
            (Some(_), _) => anyhow::bail!(
                "ROSTER_BOOTSTRAP_ADMIN_PASSWORD is not set: set it with ROSTER_BOOTSTRAP_ADMIN_EMAIL, or unset both"
            ),
            (None, Some(_)) => anyhow::bail!(
                "ROSTER_BOOTSTRAP_ADMIN_EMAIL is not set: set it with ROSTER_BOOTSTRAP_ADMIN_PASSWORD, or unset both"
            ),
        }
    }
}

#[derive(Clone, Debug)]
pub struct KafkaSettings {
    /// `KAFKA_BROKERS`: comma-separated `host:port` list.
    pub brokers: String,
    /// Topic of an aggregate type: `{topic_prefix}{aggregate_type}` (default `roster.`).
    pub topic_prefix: String,
    pub topic_partitions: i32,
    pub replication: i32,
    /// ELEVATE-shaped user events go here too when set (`EVENT_USER_KAFKA_TOPIC`).
    pub user_events_topic: Option<String>,
    pub organization_events_topic: Option<String>,
    /// How long the producer keeps retrying one record before the batch is retried.
    pub delivery_timeout_ms: u64,
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
            kafka: match var("KAFKA_BROKERS") {
                None => None,
                Some(brokers) => Some(KafkaSettings {
                    brokers,
                    topic_prefix: std::env::var("KAFKA_TOPIC_PREFIX").unwrap_or_else(|_| "roster.".into()),
                    topic_partitions: parsed("KAFKA_TOPIC_PARTITIONS", 3)?,
                    replication: parsed("KAFKA_REPLICATION_FACTOR", 1)?,
                    user_events_topic: var("EVENT_USER_KAFKA_TOPIC"),
                    organization_events_topic: var("EVENT_ORGANIZATION_KAFKA_TOPIC"),
                    delivery_timeout_ms: parsed("KAFKA_DELIVERY_TIMEOUT_MS", 30_000)?,
                }),
            },
            admin_secret_code: var("ADMIN_SECRET_CODE"),
            bootstrap_admin: BootstrapAdmin::from_env()?,
            default_organisation_code: var("DEFAULT_ORGANISATION_CODE").unwrap_or_else(|| "default".into()),
            default_role: var("DEFAULT_ROLE").unwrap_or_else(|| "mentee".into()),
            access_token_secret: var("ACCESS_TOKEN_SECRET"),
            refresh_token_secret: var("REFRESH_TOKEN_SECRET"),
            access_token_ttl_seconds: parsed("ACCESS_TOKEN_TTL_SECONDS", 86_400)?,
            refresh_token_ttl_seconds: parsed("REFRESH_TOKEN_TTL_SECONDS", 183 * 86_400)?,
            login_max_failed_attempts: parsed("LOGIN_MAX_FAILED_ATTEMPTS", 5)?,
            login_lock_seconds: parsed("LOGIN_LOCK_SECONDS", 900)?,
            read_your_writes_timeout_ms: parsed("READ_YOUR_WRITES_TIMEOUT_MS", 2_000)?,
            search_exact_count_limit: parsed::<u32>("SEARCH_EXACT_COUNT_LIMIT", 10_000)?.into(),
            read_statement_timeout_ms: parsed("READ_STATEMENT_TIMEOUT_MS", 3_000)?,
            read_max_connections: parsed("READ_MAX_CONNECTIONS", 4)?,
            log_format_json: var("ROSTER_LOG_FORMAT").is_some_and(|v| v.eq_ignore_ascii_case("json")),
            connections: ConnectionLimits {
                header_read_timeout_ms: parsed("HTTP_HEADER_READ_TIMEOUT_MS", 20_000)?,
                body_read_timeout_ms: parsed("HTTP_BODY_READ_TIMEOUT_MS", 30_000)?,
                keep_alive_timeout_ms: parsed("HTTP_KEEP_ALIVE_TIMEOUT_MS", 75_000)?,
                max_connections: match parsed("HTTP_MAX_CONNECTIONS", 1024)? {
                    0 => anyhow::bail!("HTTP_MAX_CONNECTIONS must be at least 1"),
                    n => n,
                },
            },
        })
    }
}
