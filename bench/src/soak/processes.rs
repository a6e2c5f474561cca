//! The processes the soak owns: a `tansu` broker (in memory, never killed)
//! and `roster serve`, which it SIGKILLs and starts again on the same port,
//! database and environment.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn wait_listening(port: u16, within: Duration, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if Instant::now() > deadline {
            bail!("{what} did not listen on {port} within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Kills the child it holds when dropped, so a failed soak leaves no process behind.
struct Owned(Option<Child>);

impl Owned {
    fn kill(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct Broker {
    child: Owned,
    pub address: String,
}

impl Broker {
    pub async fn start(tansu: &Path, log: &Path) -> anyhow::Result<Broker> {
        let port = free_port()?;
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu)
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(File::create(log)?)
            .spawn()
            .with_context(|| format!("cannot start tansu ({}); set TANSU_BIN", tansu.display()))?;
        let broker = Broker { child: Owned(Some(child)), address: format!("127.0.0.1:{port}") };
        wait_listening(port, Duration::from_secs(20), "tansu").await?;
        Ok(broker)
    }

    pub fn stop(&mut self) {
        self.child.kill();
    }
}

/// `roster serve` with a fixed environment; `start` after `kill_nine` brings
/// the same server back. Its stderr goes to one file, appended across runs.
pub struct Server {
    binary: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Owned,
    pub port: u16,
    pub base: String,
    pub starts: usize,
}

impl Server {
    pub fn new(binary: PathBuf, env: Vec<(String, String)>, log: PathBuf) -> anyhow::Result<Server> {
        let port = free_port()?;
        Ok(Server { binary, env, log, child: Owned(None), port, base: format!("http://127.0.0.1:{port}"), starts: 0 })
    }

    /// Starts the server and waits until its API answers.
    pub async fn start(&mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let log = File::options().create(true).append(true).open(&self.log)?;
        let mut command = Command::new(&self.binary);
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ROSTER_ADDR", format!("127.0.0.1:{}", self.port))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log);
        self.child = Owned(Some(command.spawn().with_context(|| format!("cannot start {}", self.binary.display()))?));
        self.starts += 1;
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.0.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!("roster serve exited at start ({status}); see {}", self.log.display());
            }
            // Any answer from the API means it serves (a 401 without a token is fine).
            if let Ok(reply) = client.get(format!("{}/user/v1/account/list", self.base)).send().await {
                if reply.status() != reqwest::StatusCode::BAD_GATEWAY {
                    return Ok(started.elapsed());
                }
            }
            if Instant::now() > deadline {
                bail!("roster serve did not answer within 60 s; see {}", self.log.display());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown hook runs, in-flight requests are cut.
    pub fn kill_nine(&mut self) {
        self.child.kill();
    }

    /// SIGTERM, and wait for the graceful exit.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.0.take() else { return Ok(()) };
        Command::new("kill").arg("-TERM").arg(child.id().to_string()).status()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("roster serve did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// Runs another `roster` subcommand with the server's environment.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<std::process::Output> {
        Ok(Command::new(&self.binary)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "error")
            .output()?)
    }
}
