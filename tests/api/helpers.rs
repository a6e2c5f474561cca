use std::net::SocketAddr;

use reqwest::{Client, Method, Response, StatusCode};
use roster::app::{AppState, Application};
use roster::config::Settings;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one `#[tokio::test]` per backend for each named scenario.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )+
        }
    };
}

pub const PASSWORD: &str = "Str0ng!pass";
pub const ADMIN_SECRET: &str = "let-me-in";
/// Seals the signing keys of every test database (32 bytes, base64); child
/// processes get it as ROSTER_MASTER_KEY.
pub const MASTER_KEY: &str = "dGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzLWxvbmchISE=";

pub fn pg_server_url() -> String {
    std::env::var("ROSTER_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A fresh, empty database for one test; the SQLite temp dir lives as long as the guard.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

pub async fn fresh_database(backend: Backend) -> TestDatabase {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("roster.db").display());
            TestDatabase { url, _dir: Some(dir) }
        }
        Backend::Postgres => {
            let name = format!("roster_test_{}", uuid::Uuid::new_v4().simple());
            let admin = sqlx::PgPool::connect(&format!("{}/postgres", pg_server_url()))
                .await
                .expect("PostgreSQL must be running");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.unwrap();
            admin.close().await;
            TestDatabase { url: format!("{}/{name}", pg_server_url()), _dir: None }
        }
    }
}

pub fn test_settings(database_url: &str) -> Settings {
    let mut settings = Settings::from_env().unwrap();
    settings.addr = "127.0.0.1:0".parse().unwrap();
    settings.database_url = database_url.to_string();
    settings.database_max_connections = 10;
    settings.kafka = None;
    settings.admin_secret_code = Some(ADMIN_SECRET.into());
    settings.access_token_secret = None;
    settings.refresh_token_secret = None;
    settings.master_key = roster::config::MasterKeySource::Value(MASTER_KEY.into());
    // Tests sign up and log in from one address far faster than any user;
    // tests/api/rate_limits.rs turns the limits on.
    settings.rate_limits.enabled = false;
    settings.login_max_failed_attempts = 3;
    settings.login_lock_seconds = 600;
    // Each app's mail (the .eml outbox, the default transport) goes to a
    // folder of its own, never the working tree's ./data/outbox.
    settings.notifications.smtp_url = None;
    settings.notifications.kafka_topic = None;
    settings.notifications.outbox_dir =
        std::env::temp_dir().join(format!("roster-test-outbox-{}", uuid::Uuid::new_v4().simple()));
    // Uploads likewise.
    settings.files.s3 = None;
    settings.files.public_base_url = None;
    settings.files.dir = std::env::temp_dir().join(format!("roster-test-files-{}", uuid::Uuid::new_v4().simple()));
    settings
}

/// The mail the outbox wrote (`.eml` files) to `to`, decoded, oldest first.
pub fn outbox_mails(dir: &std::path::Path, to: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return vec![] };
    let mut mails: Vec<(std::time::SystemTime, String)> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path()).ok()?;
            let modified = e.metadata().ok()?.modified().ok()?;
            Some((modified, decode_mail(&text)))
        })
        .filter(|(_, text)| text.lines().any(|l| l.to_ascii_lowercase().starts_with("to:") && l.contains(to)))
        .collect();
    mails.sort_by_key(|(t, _)| *t);
    mails.into_iter().map(|(_, text)| text).collect()
}

/// A mail as sent, with quoted-printable soft breaks and escapes undone.
pub fn decode_mail(text: &str) -> String {
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let mut out = String::with_capacity(joined.len());
    let bytes = joined.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(byte as char);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i] as char);
        i += 1;
    }
    out
}

/// The first run of exactly six digits in a mail's body: the OTP.
pub fn otp_in(mail: &str) -> Option<String> {
    let body = mail.split_once("\r\n\r\n").or_else(|| mail.split_once("\n\n")).map_or(mail, |(_, b)| b);
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if i - start == 6 {
                return Some(chars[start..i].iter().collect());
            }
        } else {
            i += 1;
        }
    }
    None
}

/// Waits (up to 20 s) for the `count`-th mail to `to` in the app's outbox.
pub async fn wait_for_mail(app: &TestApp, to: &str, count: usize) -> String {
    let dir = app.state.settings.notifications.outbox_dir.clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mails = outbox_mails(&dir, to);
        if mails.len() >= count {
            return mails[count - 1].clone();
        }
        assert!(std::time::Instant::now() < deadline, "no mail {count} to {to} in {}", dir.display());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: Client,
    pub state: AppState,
    pub database: TestDatabase,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    let database = fresh_database(backend).await;
    spawn_app_with(database, |_| {}).await
}

pub async fn spawn_app_with(database: TestDatabase, configure: impl FnOnce(&mut Settings)) -> TestApp {
    roster::telemetry::init_logging(false);
    let mut settings = test_settings(&database.url);
    configure(&mut settings);
    let app = Application::build(settings).await.expect("app builds");
    let addr = app.local_addr();
    let state = app.state();
    tokio::spawn(app.run_until(std::future::pending()));
    TestApp { addr, client: Client::new(), state, database }
}

/// An app that can be stopped as a SIGTERM would stop it (drained, runners
/// stopped, pools closed), to start another on the same database.
pub struct StoppableApp {
    pub app: TestApp,
    stop: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub async fn spawn_stoppable(database: TestDatabase, configure: impl FnOnce(&mut Settings)) -> StoppableApp {
    roster::telemetry::init_logging(false);
    let mut settings = test_settings(&database.url);
    configure(&mut settings);
    let app = Application::build(settings).await.expect("app builds");
    let (addr, state) = (app.local_addr(), app.state());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    StoppableApp { app: TestApp { addr, client: Client::new(), state, database }, stop, served }
}

impl StoppableApp {
    /// Stops the app and hands back its database.
    pub async fn stop(self) -> TestDatabase {
        let _ = self.stop.send(());
        self.served.await.expect("the server task ends").expect("the server stops cleanly");
        self.app.database
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    pub async fn from(response: Response) -> Reply {
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("response is not JSON ({status}): {text}"));
        Reply { status, body }
    }

    pub fn result(&self) -> &Value {
        &self.body["result"]
    }

    /// Every error must come in the envelope.
    pub fn assert_error_envelope(&self, status: u16) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert!(self.body["message"].is_string(), "{}", self.body);
        assert!(self.body["error"].is_array(), "{}", self.body);
        assert!(self.body["responseCode"].is_string(), "{}", self.body);
        assert!(self.body["meta"]["correlation"].as_str().is_some_and(|c| !c.is_empty()), "{}", self.body);
    }
}

pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub user: Value,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.header("X-auth-token", format!("bearer {token}"));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Reply::from(request.send().await.unwrap()).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        self.call(Method::PATCH, path, token, body).await
    }

    pub async fn raw(&self, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> Reply {
        let response = self
            .client
            .request(method, self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        Reply::from(response).await
    }

    pub async fn sign_up(&self, name: &str, email: &str) -> Session {
        let reply = self
            .post("/user/v1/account/create", None, json!({"name": name, "email": email, "password": PASSWORD}))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        session(&reply)
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.post("/user/v1/account/login", None, json!({"email": email, "password": password})).await
    }

    /// Creates the system admin `root@example.com` with the admin secret and logs it in.
    pub async fn admin_session(&self) -> Session {
        let created = self
            .post(
                "/user/v1/admin/create",
                None,
                json!({"name": "Root", "email": "root@example.com", "password": PASSWORD, "secret_code": ADMIN_SECRET}),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let login =
            self.post("/user/v1/admin/login", None, json!({"email": "root@example.com", "password": PASSWORD})).await;
        assert_eq!(login.status, StatusCode::OK, "{}", login.body);
        session(&login)
    }
}

pub fn session(reply: &Reply) -> Session {
    let r = reply.result();
    Session {
        access_token: r["access_token"].as_str().unwrap().to_string(),
        refresh_token: r["refresh_token"].as_str().unwrap().to_string(),
        user: r["user"].clone(),
    }
}

/// Names of every listed user, across groups.
pub fn listed_names(reply: &Reply) -> Vec<String> {
    reply.result()["data"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|group| group["values"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap().to_string()))
        .collect()
}

/// Every read table, in a stable order, as text: for comparing a live read
/// model with one rebuilt from the log.
const DUMPS: [(&str, &str); 9] = [
    ("modules", "SELECT CAST(id AS TEXT), module_uuid, code, status, created_at, updated_at FROM modules ORDER BY id"),
    ("permissions", "SELECT CAST(id AS TEXT), permission_uuid, code, module, request_type, api_path, status, created_at FROM permissions ORDER BY id"),
    ("role_permissions", "SELECT CAST(role_id AS TEXT), CAST(permission_id AS TEXT) FROM role_permissions ORDER BY role_id, permission_id"),
    (
        "users",
        "SELECT user_uuid, CAST(id AS TEXT), email, name, phone, username, status, CAST(organization_id AS TEXT), about, gender, \
         location, image, languages, share_link, preferred_language, CAST(has_accepted_terms_and_conditions AS TEXT), \
         search_text, last_logged_in_at, created_at, updated_at, deleted_at, profile_extension, declarations FROM users ORDER BY id",
    ),
    ("user_roles", "SELECT user_uuid, CAST(role_id AS TEXT), CAST(organization_id AS TEXT) FROM user_roles ORDER BY 1, 2, 3"),
    ("organizations", "SELECT CAST(id AS TEXT), org_uuid, name, code, description, status, created_at, updated_at FROM organizations ORDER BY id"),
    (
        "roles",
        "SELECT CAST(id AS TEXT), role_uuid, title, label, CAST(user_type AS TEXT), status, visibility, \
         CAST(organization_id AS TEXT), created_at, updated_at, translations, meta FROM roles ORDER BY id",
    ),
    (
        "role_requests",
        "SELECT CAST(id AS TEXT), request_uuid, requester_uuid, CAST(role_id AS TEXT), CAST(organization_id AS TEXT), status, \
         CAST(handled_by AS TEXT), form_data, created_at, updated_at FROM role_requests ORDER BY id",
    ),
    ("role_request_comments", "SELECT request_uuid, CAST(sequence AS TEXT), CAST(position AS TEXT), comment FROM role_request_comments ORDER BY 1, 2, 3"),
];

pub async fn dump(db: &roster::storage::Db) -> Vec<(String, Vec<Vec<Option<String>>>)> {
    let mut tables = Vec::new();
    for (table, sql) in DUMPS {
        tables.push((table.to_string(), text_rows(db, sql).await));
    }
    tables
}

/// The rows `sql` returns, every column read as text.
pub async fn text_rows(db: &roster::storage::Db, sql: &str) -> Vec<Vec<Option<String>>> {
    use sqlx::Row;
    roster::on_pool!(db, pool => {
        sqlx::query(sql)
            .fetch_all(pool)
            .await
            .unwrap()
            .iter()
            .map(|row| (0..row.len()).map(|i| row.try_get::<Option<String>, _>(i).unwrap()).collect())
            .collect()
    })
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The real binary in its own process, so a test can `kill -9` it.
pub struct Server {
    pub child: std::process::Child,
    pub base: String,
}

impl Server {
    pub fn kill_nine(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// GET `path` as the holder of `token`; the JSON body.
    pub async fn get_as(&self, client: &Client, path: &str, token: &str) -> Value {
        client
            .get(format!("{}{path}", self.base))
            .header("X-auth-token", format!("bearer {token}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `roster serve` on a free port with extra environment, once healthy.
pub async fn start_server(database_url: &str, env: &[(&str, &str)]) -> Server {
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_roster"));
    command
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("ROSTER_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .env("ADMIN_SECRET_CODE", ADMIN_SECRET)
        .env("ROSTER_MASTER_KEY", MASTER_KEY)
        .env("RATE_LIMIT_ENABLED", "false")
        .env_remove("KAFKA_BROKERS")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command.spawn().unwrap();
    let server = Server { child, base: format!("http://127.0.0.1:{port}") };
    let client = Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{}/user/v1/account/list", server.base)).send().await {
            // Any answer from the API means it is serving (health may report Kafka down on purpose).
            if r.status() != StatusCode::BAD_GATEWAY {
                return server;
            }
        }
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
