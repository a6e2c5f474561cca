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
    pub admin_secret_code: Option<Secret>,
    /// `ROSTER_BOOTSTRAP_ADMIN_*`: an admin created at start while none exists.
    pub bootstrap_admin: Option<BootstrapAdmin>,
    pub default_organisation_code: String,
    pub default_role: String,
    /// HS256 instead of Ed25519 when both are set.
    pub access_token_secret: Option<Secret>,
    pub refresh_token_secret: Option<Secret>,
    /// Secrets that signed earlier tokens, still accepted until those expire.
    pub access_token_previous_secret: Option<Secret>,
    pub refresh_token_previous_secret: Option<Secret>,
    /// Seals the Ed25519 signing keys at rest (`crate::auth::master_key`).
    pub master_key: MasterKeySource,
    /// How often an instance reads the signing keys again, to sign with a
    /// key `roster keys rotate` added (`SIGNING_KEYS_REFRESH_MS`).
    pub signing_keys_refresh_ms: u64,
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
    pub hardening: Hardening,
    pub rate_limits: RateLimits,
    pub otp: OtpSettings,
    pub notifications: NotificationSettings,
    pub files: FileSettings,
    pub bulk: BulkSettings,
    /// `KEYCLOAK_PUBLIC_KEYS_DIR` and `KEYCLOAK_ISSUER`: Sunbird's user
    /// tokens (RS256, from Keycloak) are accepted too; `None`: only Roster's.
    pub keycloak: Option<KeycloakSettings>,
}

/// The bulk invite worker (`crate::bulk_invites`).
#[derive(Clone, Debug)]
pub struct BulkSettings {
    /// `BULK_BATCH_SIZE` (default 1,000, at most 5,000): rows per commit.
    pub batch_size: usize,
    /// `BULK_BATCH_PAUSE_MS` (default 0): a pause after each batch, to leave
    /// the database to other writers while a large file is imported.
    pub batch_pause_ms: u64,
}

/// Where uploaded files live (`crate::files`): an S3-compatible bucket when
/// `FILES_S3_BUCKET` is set, else the local directory `FILES_DIR`.
#[derive(Clone, Debug)]
pub struct FileSettings {
    /// `FILES_DIR` (default `./data/files`).
    pub dir: std::path::PathBuf,
    pub s3: Option<S3Settings>,
    /// `FILES_LINK_SECONDS` (default 900): how long an upload or download link works.
    pub link_seconds: u64,
    /// `FILES_MAX_BYTES` (default 10 MiB): the largest upload through Roster's own links.
    pub max_bytes: usize,
    /// `PUBLIC_BASE_URL`: the scheme and host clients reach Roster at, for
    /// the links it serves itself; without it, the request's `Host`.
    pub public_base_url: Option<String>,
}

#[derive(Clone, Debug)]
pub struct S3Settings {
    /// `FILES_S3_BUCKET`
    pub bucket: String,
    /// `FILES_S3_ENDPOINT`: for an S3-compatible store other than AWS (path-style requests).
    pub endpoint: Option<String>,
    /// `FILES_S3_REGION` (default `us-east-1`).
    pub region: String,
    /// `FILES_S3_ACCESS_KEY_ID`, `FILES_S3_SECRET_ACCESS_KEY`.
    pub access_key_id: String,
    pub secret_access_key: Secret,
}

/// Where Keycloak's public keys are (one PEM file per `kid`, the file named
/// as the `kid`, as Sunbird's `accesstoken.publickey.basepath`) and the one
/// issuer (`iss`) its tokens must name, e.g. `https://sso.example/auth/realms/sunbird`.
#[derive(Clone, Debug)]
pub struct KeycloakSettings {
    pub public_keys_dir: std::path::PathBuf,
    pub issuer: String,
}

impl KeycloakSettings {
    fn from_env() -> anyhow::Result<Option<KeycloakSettings>> {
        match (var("KEYCLOAK_PUBLIC_KEYS_DIR"), var("KEYCLOAK_ISSUER")) {
            (None, None) => Ok(None),
            (Some(dir), Some(issuer)) => {
                Ok(Some(KeycloakSettings { public_keys_dir: dir.into(), issuer: issuer.trim().to_string() }))
            }
            (Some(_), None) => anyhow::bail!("KEYCLOAK_ISSUER is not set: set it with KEYCLOAK_PUBLIC_KEYS_DIR"),
            (None, Some(_)) => anyhow::bail!("KEYCLOAK_PUBLIC_KEYS_DIR is not set: set it with KEYCLOAK_ISSUER"),
        }
    }
}

/// One-time passwords (`crate::otp`).
#[derive(Clone, Debug)]
pub struct OtpSettings {
    /// `OTP_EXPIRY_SECONDS` (default 300).
    pub expiry_seconds: i64,
    /// `OTP_MAX_WRONG_TRIES` (default 3): wrong codes before an OTP is void.
    pub max_wrong_tries: u32,
    /// `OTP_RESEND_LIMIT` OTPs per identity and purpose within
    /// `OTP_RESEND_WINDOW_SECONDS` (defaults 5 per 3600 s).
    pub resend_limit: u32,
    pub resend_window_seconds: i64,
    /// `ENABLE_EMAIL_OTP_VERIFICATION` (default false): `account/create`
    /// requires the OTP `account/registrationOtp` mailed.
    pub email_verification: bool,
}

/// Where the notification outbox delivers (`crate::notifications`): SMTP
/// when `SMTP_URL` is set, else Kafka when `NOTIFICATION_KAFKA_TOPIC` is,
/// else `.eml` files in `NOTIFICATION_OUTBOX_DIR`.
#[derive(Clone, Debug)]
pub struct NotificationSettings {
    /// `SMTP_URL`: `smtp://[user:password@]host:port` (or `smtps://`); it may hold a password.
    pub smtp_url: Option<Secret>,
    /// `SMTP_FROM` (default `Roster <no-reply@localhost>`).
    pub from: String,
    /// `NOTIFICATION_KAFKA_TOPIC`: ELEVATE-shaped `{type: "email", email: {...}}` records.
    pub kafka_topic: Option<String>,
    /// `NOTIFICATION_OUTBOX_DIR` (default `./data/outbox`).
    pub outbox_dir: std::path::PathBuf,
}

/// Requests per minute at each door (`crate::http::rate_limit`), per instance.
#[derive(Clone, Debug)]
pub struct RateLimits {
    /// `RATE_LIMIT_ENABLED` (default true; off for benchmarks).
    pub enabled: bool,
    pub login_per_address_per_minute: u32,
    pub login_per_identity_per_minute: u32,
    pub sign_up_per_address_per_minute: u32,
    pub sign_up_per_identity_per_minute: u32,
    pub refresh_per_address_per_minute: u32,
    /// OTP requests, resets and password changes.
    pub otp_per_address_per_minute: u32,
    pub otp_per_identity_per_minute: u32,
}

impl Hardening {
    /// Every origin a browser could send: `*`, or a scheme and a host.
    fn checked(self) -> anyhow::Result<Hardening> {
        for origin in &self.cors_allowed_origins {
            let valid = origin == "*"
                || ((origin.starts_with("https://") || origin.starts_with("http://"))
                    && origin.bytes().all(|b| b.is_ascii_graphic()));
            if !valid {
                anyhow::bail!("CORS_ALLOWED_ORIGINS has {origin:?}: give origins like https://app.example.org, or *");
            }
        }
        Ok(self)
    }
}

/// Response headers and request bounds (`crate::http::hardening`).
#[derive(Clone, Debug, Default)]
pub struct Hardening {
    /// `CORS_ALLOWED_ORIGINS`: comma-separated origins, `*` for any; empty: no CORS.
    pub cors_allowed_origins: Vec<String>,
    /// `HSTS_MAX_AGE_SECONDS`: sends `Strict-Transport-Security` (behind TLS only).
    pub hsts_max_age_seconds: Option<u64>,
    /// `HTTP_REQUEST_TIMEOUT_MS`: a whole request's limit (0: none).
    pub request_timeout_ms: u64,
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

/// A secret from the environment: never printed, not even by `Debug`.
#[derive(Clone, PartialEq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Secret {
        Secret(value.to_string())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Where the master key comes from: `ROSTER_MASTER_KEY`, `ROSTER_MASTER_KEY_FILE`, or neither.
#[derive(Clone, Debug)]
pub enum MasterKeySource {
    Value(Secret),
    File(std::path::PathBuf),
    Unset,
}

impl MasterKeySource {
    fn from_env() -> anyhow::Result<MasterKeySource> {
        match (var("ROSTER_MASTER_KEY"), var("ROSTER_MASTER_KEY_FILE")) {
            (Some(_), Some(_)) => {
                anyhow::bail!("ROSTER_MASTER_KEY and ROSTER_MASTER_KEY_FILE are both set: set only one")
            }
            (Some(value), None) => Ok(MasterKeySource::Value(Secret(value))),
            (None, Some(path)) => Ok(MasterKeySource::File(path.into())),
            (None, None) => Ok(MasterKeySource::Unset),
        }
    }
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
    /// librdkafka properties for every client Roster builds (security, tuning).
    pub client_properties: ClientProperties,
}

/// librdkafka properties from `KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`,
/// `KAFKA_SSL_CA_LOCATION` and `KAFKA_PROPERTY_<name>`; `Debug` hides
/// secrets, so settings can be logged.
#[derive(Clone, Default, PartialEq)]
pub struct ClientProperties(pub Vec<(String, String)>);

/// Named variables and the librdkafka property each sets.
const KAFKA_NAMED_PROPERTIES: &[(&str, &str)] = &[
    ("KAFKA_SECURITY_PROTOCOL", "security.protocol"),
    ("KAFKA_SASL_MECHANISM", "sasl.mechanism"),
    ("KAFKA_SASL_USERNAME", "sasl.username"),
    ("KAFKA_SASL_PASSWORD", "sasl.password"),
    ("KAFKA_SSL_CA_LOCATION", "ssl.ca.location"),
];
const KAFKA_PROPERTY_PREFIX: &str = "KAFKA_PROPERTY_";
/// Properties Roster owns: its guarantees (idempotence, acks) and settings
/// that have their own variable.
const KAFKA_RESERVED_PROPERTIES: &[(&str, &str)] = &[
    ("bootstrap.servers", "set KAFKA_BROKERS instead"),
    ("enable.idempotence", "the publisher's no-gap guarantee needs it on"),
    ("acks", "the publisher's no-gap guarantee needs acks=all"),
    ("message.timeout.ms", "set KAFKA_DELIVERY_TIMEOUT_MS instead"),
];

impl ClientProperties {
    /// Reads the properties out of environment variables (`vars`, any order);
    /// a property given twice, or one Roster owns, is refused.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> anyhow::Result<ClientProperties> {
        let mut properties: Vec<(String, String, String)> = Vec::new();
        for (name, value) in vars {
            if value.trim().is_empty() {
                continue;
            }
            let property = if let Some((_, property)) = KAFKA_NAMED_PROPERTIES.iter().find(|(n, _)| *n == name) {
                property.to_string()
            } else if let Some(rest) = name.strip_prefix(KAFKA_PROPERTY_PREFIX) {
                if rest.is_empty() {
                    anyhow::bail!("{name} names no librdkafka property (KAFKA_PROPERTY_SASL_OAUTHBEARER_METHOD sets sasl.oauthbearer.method)");
                }
                rest.to_ascii_lowercase().replace('_', ".")
            } else {
                continue;
            };
            if let Some((_, why)) = KAFKA_RESERVED_PROPERTIES.iter().find(|(p, _)| *p == property) {
                anyhow::bail!("{name} sets the librdkafka property {property}, which Roster owns: {why}");
            }
            if let Some((other, _, _)) = properties.iter().find(|(_, p, _)| *p == property) {
                anyhow::bail!("{name} and {other} both set the librdkafka property {property}; keep one");
            }
            properties.push((name, property, value.trim().to_string()));
        }
        properties.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(ClientProperties(properties.into_iter().map(|(_, property, value)| (property, value)).collect()))
    }
}

/// The `KAFKA_*` environment (`std::env::vars` would panic on any variable
/// that is not UTF-8, even one Roster does not read).
fn kafka_vars() -> anyhow::Result<Vec<(String, String)>> {
    let mut vars = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str().filter(|n| n.starts_with("KAFKA_")) else { continue };
        let Some(value) = value.to_str() else { anyhow::bail!("{name} is not valid UTF-8") };
        vars.push((name.to_string(), value.to_string()));
    }
    Ok(vars)
}

/// A property whose value must never reach a log.
pub(crate) fn is_secret(property: &str) -> bool {
    ["password", "secret", "key.pem", "sasl.jaas.config", "sasl.oauthbearer.config"]
        .iter()
        .any(|word| property.contains(word))
}

impl std::fmt::Debug for ClientProperties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, if is_secret(k) { "<redacted>" } else { v.as_str() })))
            .finish()
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn positive(name: &str, default: u32) -> anyhow::Result<u32> {
    match parsed(name, default)? {
        0 => anyhow::bail!("{name} must be at least 1 (RATE_LIMIT_ENABLED=false turns rate limits off)"),
        n => Ok(n),
    }
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
                    client_properties: ClientProperties::from_vars(kafka_vars()?)?,
                }),
            },
            admin_secret_code: var("ADMIN_SECRET_CODE").map(Secret),
            bootstrap_admin: BootstrapAdmin::from_env()?,
            default_organisation_code: var("DEFAULT_ORGANISATION_CODE").unwrap_or_else(|| "default".into()),
            default_role: var("DEFAULT_ROLE").unwrap_or_else(|| "mentee".into()),
            access_token_secret: var("ACCESS_TOKEN_SECRET").map(Secret),
            refresh_token_secret: var("REFRESH_TOKEN_SECRET").map(Secret),
            access_token_previous_secret: var("ACCESS_TOKEN_PREVIOUS_SECRET").map(Secret),
            refresh_token_previous_secret: var("REFRESH_TOKEN_PREVIOUS_SECRET").map(Secret),
            master_key: MasterKeySource::from_env()?,
            signing_keys_refresh_ms: parsed("SIGNING_KEYS_REFRESH_MS", 30_000)?,
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
            hardening: Hardening {
                cors_allowed_origins: var("CORS_ALLOWED_ORIGINS")
                    .map(|list| {
                        list.split(',')
                            .map(|o| o.trim().trim_end_matches('/').to_string())
                            .filter(|o| !o.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
                hsts_max_age_seconds: var("HSTS_MAX_AGE_SECONDS")
                    .map(|v| v.trim().parse())
                    .transpose()
                    .context("HSTS_MAX_AGE_SECONDS has an invalid value")?,
                request_timeout_ms: parsed("HTTP_REQUEST_TIMEOUT_MS", 30_000)?,
            }
            .checked()?,
            rate_limits: RateLimits {
                enabled: parsed("RATE_LIMIT_ENABLED", true)?,
                login_per_address_per_minute: positive("RATE_LIMIT_LOGIN_PER_ADDRESS_PER_MINUTE", 120)?,
                login_per_identity_per_minute: positive("RATE_LIMIT_LOGIN_PER_IDENTITY_PER_MINUTE", 10)?,
                sign_up_per_address_per_minute: positive("RATE_LIMIT_SIGN_UP_PER_ADDRESS_PER_MINUTE", 30)?,
                sign_up_per_identity_per_minute: positive("RATE_LIMIT_SIGN_UP_PER_IDENTITY_PER_MINUTE", 5)?,
                refresh_per_address_per_minute: positive("RATE_LIMIT_REFRESH_PER_ADDRESS_PER_MINUTE", 600)?,
                otp_per_address_per_minute: positive("RATE_LIMIT_OTP_PER_ADDRESS_PER_MINUTE", 30)?,
                otp_per_identity_per_minute: positive("RATE_LIMIT_OTP_PER_IDENTITY_PER_MINUTE", 5)?,
            },
            otp: OtpSettings {
                expiry_seconds: match parsed("OTP_EXPIRY_SECONDS", 300)? {
                    n if n >= 1 => n,
                    _ => anyhow::bail!("OTP_EXPIRY_SECONDS must be at least 1"),
                },
                max_wrong_tries: match parsed("OTP_MAX_WRONG_TRIES", 3)? {
                    0 => anyhow::bail!("OTP_MAX_WRONG_TRIES must be at least 1"),
                    n => n,
                },
                resend_limit: match parsed("OTP_RESEND_LIMIT", 5)? {
                    0 => anyhow::bail!("OTP_RESEND_LIMIT must be at least 1"),
                    n => n,
                },
                resend_window_seconds: parsed("OTP_RESEND_WINDOW_SECONDS", 3600)?,
                email_verification: parsed("ENABLE_EMAIL_OTP_VERIFICATION", false)?,
            },
            notifications: NotificationSettings {
                smtp_url: var("SMTP_URL").map(Secret),
                from: var("SMTP_FROM").unwrap_or_else(|| "Roster <no-reply@localhost>".into()),
                kafka_topic: match var("NOTIFICATION_KAFKA_TOPIC") {
                    Some(_) if var("KAFKA_BROKERS").is_none() => anyhow::bail!(
                        "NOTIFICATION_KAFKA_TOPIC is set without KAFKA_BROKERS: set the brokers, or unset the topic"
                    ),
                    topic => topic,
                },
                outbox_dir: var("NOTIFICATION_OUTBOX_DIR").unwrap_or_else(|| "./data/outbox".into()).into(),
            },
            files: FileSettings {
                dir: var("FILES_DIR").unwrap_or_else(|| "./data/files".into()).into(),
                s3: match var("FILES_S3_BUCKET") {
                    None => None,
                    Some(bucket) => Some(S3Settings {
                        bucket,
                        endpoint: var("FILES_S3_ENDPOINT"),
                        region: var("FILES_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
                        access_key_id: var("FILES_S3_ACCESS_KEY_ID")
                            .context("FILES_S3_BUCKET is set without FILES_S3_ACCESS_KEY_ID")?,
                        secret_access_key: var("FILES_S3_SECRET_ACCESS_KEY")
                            .map(Secret)
                            .context("FILES_S3_BUCKET is set without FILES_S3_SECRET_ACCESS_KEY")?,
                    }),
                },
                link_seconds: match parsed("FILES_LINK_SECONDS", 900)? {
                    0 => anyhow::bail!("FILES_LINK_SECONDS must be at least 1"),
                    n => n,
                },
                max_bytes: match parsed("FILES_MAX_BYTES", 10 * 1024 * 1024)? {
                    0 => anyhow::bail!("FILES_MAX_BYTES must be at least 1"),
                    n => n,
                },
                public_base_url: var("PUBLIC_BASE_URL").map(|u| u.trim().trim_end_matches('/').to_string()),
            },
            bulk: BulkSettings {
                batch_size: match parsed("BULK_BATCH_SIZE", 1_000)? {
                    n @ 1..=5_000 => n,
                    _ => anyhow::bail!("BULK_BATCH_SIZE must be from 1 to 5000"),
                },
                batch_pause_ms: parsed("BULK_BATCH_PAUSE_MS", 0)?,
            },
            keycloak: KeycloakSettings::from_env()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn properties(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        ClientProperties::from_vars(vars(pairs)).unwrap().0
    }

    #[test]
    fn named_variables_map_to_their_librdkafka_properties() {
        let got = properties(&[
            ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
            ("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
            ("KAFKA_SASL_USERNAME", "roster"),
            ("KAFKA_SASL_PASSWORD", "s3cret"),
            ("KAFKA_SSL_CA_LOCATION", "/etc/ssl/kafka-ca.pem"),
            ("KAFKA_BROKERS", "kafka:9092"),
            ("PATH", "/usr/bin"),
        ]);
        assert_eq!(
            got,
            vars(&[
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.password", "s3cret"),
                ("sasl.username", "roster"),
                ("security.protocol", "SASL_SSL"),
                ("ssl.ca.location", "/etc/ssl/kafka-ca.pem"),
            ])
        );
    }

    #[test]
    fn any_property_passes_through_lower_cased_with_dots() {
        let got = properties(&[
            ("KAFKA_PROPERTY_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM", "none"),
            ("KAFKA_PROPERTY_linger_MS", "20"),
            ("KAFKA_PROPERTY_CLIENT_RACK", " eu-1a "),
            ("KAFKA_PROPERTY_SOCKET_KEEPALIVE_ENABLE", ""),
        ]);
        assert_eq!(
            got,
            vars(&[("client.rack", "eu-1a"), ("linger.ms", "20"), ("ssl.endpoint.identification.algorithm", "none")])
        );
    }

    #[test]
    fn a_property_set_twice_or_owned_by_roster_is_refused_by_name() {
        let twice =
            ClientProperties::from_vars(vars(&[("KAFKA_SASL_USERNAME", "a"), ("KAFKA_PROPERTY_SASL_USERNAME", "b")]))
                .unwrap_err()
                .to_string();
        assert!(twice.contains("KAFKA_SASL_USERNAME") && twice.contains("KAFKA_PROPERTY_SASL_USERNAME"), "{twice}");
        for (name, hint) in [
            ("KAFKA_PROPERTY_ENABLE_IDEMPOTENCE", "no-gap"),
            ("KAFKA_PROPERTY_BOOTSTRAP_SERVERS", "KAFKA_BROKERS"),
            ("KAFKA_PROPERTY_MESSAGE_TIMEOUT_MS", "KAFKA_DELIVERY_TIMEOUT_MS"),
        ] {
            let error = ClientProperties::from_vars(vars(&[(name, "x")])).unwrap_err().to_string();
            assert!(error.contains(name) && error.contains(hint), "{error}");
        }
        assert!(ClientProperties::from_vars(vars(&[("KAFKA_PROPERTY_", "x")])).is_err());
    }

    /// Settings may be logged whole: no secret they hold shows.
    #[test]
    fn settings_debug_output_shows_no_secret() {
        let mut settings = Settings::from_env().unwrap();
        settings.admin_secret_code = Some("admin-SECRET-1".into());
        settings.access_token_secret = Some("hs-SECRET-2".into());
        settings.refresh_token_previous_secret = Some("hs-SECRET-3".into());
        settings.master_key = MasterKeySource::Value("master-SECRET-4".into());
        let shown = format!("{settings:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("admin_secret_code: Some(Secret(…))"), "{shown}");
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let secrets = ClientProperties::from_vars(vars(&[
            ("KAFKA_SASL_PASSWORD", "pw-one"),
            ("KAFKA_PROPERTY_SSL_KEY_PASSWORD", "pw-two"),
            ("KAFKA_PROPERTY_SASL_OAUTHBEARER_CLIENT_SECRET", "pw-three"),
            ("KAFKA_SASL_USERNAME", "roster"),
        ]))
        .unwrap();
        let shown = format!("{secrets:?}");
        for secret in ["pw-one", "pw-two", "pw-three"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("roster") && shown.contains("sasl.password"), "{shown}");
    }
}
