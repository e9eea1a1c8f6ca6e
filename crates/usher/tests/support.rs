//! Running the real `usher` binary: a fresh working directory, a free port, a
//! clean environment, and a handle that stops the process when the test ends.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A scratch directory removed at the end of the test.
#[derive(Debug)]
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("usher-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Self(dir)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `usher` with no inherited `USHER_*` variables, run in `dir`.
pub fn usher(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_usher"));
    for (key, _) in std::env::vars() {
        if key.starts_with("USHER_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir);
    cmd
}

/// Runs a one-shot command and returns its output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("usher runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A running `usher serve`.
#[derive(Debug)]
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    /// Starts `usher serve` from `cmd` on a free port and waits for `/healthz`.
    pub async fn start(cmd: Command) -> Self {
        let mut server = Self::spawn(cmd);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(res) = reqwest::get(server.url("/healthz")).await
                && res.status().is_success()
            {
                return server;
            }
            if let Some(status) = server.child.try_wait().expect("poll child") {
                panic!("usher exited early ({status}): {}", server.stderr_now());
            }
            assert!(
                Instant::now() < deadline,
                "usher did not answer /healthz in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts `usher serve` from `cmd` on a free port without waiting for it.
    pub fn spawn(cmd: Command) -> Self {
        Self::spawn_on(cmd, free_port())
    }

    /// Starts `usher serve` from `cmd` on `port` without waiting for it.
    pub fn spawn_on(mut cmd: Command, port: u16) -> Self {
        cmd.env("USHER_SERVER__BIND", format!("127.0.0.1:{port}"))
            .env(
                "USHER_SERVER__PUBLIC_URL",
                format!("http://127.0.0.1:{port}"),
            )
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = cmd.spawn().expect("usher serve starts");
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits until `/readyz` answers 200, returning its body.
    pub async fn wait_ready(&mut self) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let res = reqwest::get(self.url("/readyz"))
                .await
                .expect("readyz answers");
            let ok = res.status().is_success();
            let body: serde_json::Value =
                serde_json::from_str(&res.text().await.expect("body")).expect("readyz is JSON");
            if ok {
                return body;
            }
            if let Some(status) = self.child.try_wait().expect("poll child") {
                panic!("usher exited ({status}): {}", self.stderr_now());
            }
            assert!(Instant::now() < deadline, "not ready in 60 s: {body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends SIGTERM and waits for the exit; returns whether it exited 0, and stderr.
    pub fn terminate(mut self) -> (bool, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill runs");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("poll child") {
                return (status.success(), self.stderr_now());
            }
            assert!(
                Instant::now() < deadline,
                "usher did not stop within 20 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the process to exit by itself; returns whether it exited 0, and stderr.
    pub fn wait_exit(mut self, within: Duration) -> (bool, String) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll child") {
                return (status.success(), self.stderr_now());
            }
            assert!(
                Instant::now() < deadline,
                "usher still running after {within:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stderr_now(&mut self) -> String {
        let mut text = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = self.child.try_wait();
            let _ = err.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The PostgreSQL server for tests, or `None` (with a clear note) when not set.
pub fn postgres_url() -> Option<String> {
    service_url("USHER_TEST_POSTGRES_URL", "PostgreSQL")
}

/// The Redis server for tests, or `None` (with a clear note) when not set.
pub fn redis_url() -> Option<String> {
    service_url("USHER_TEST_REDIS_URL", "Redis")
}

fn service_url(var: &str, name: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("USHER_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") => {
            panic!("{var} is not set but USHER_TEST_REQUIRE_SERVICES=1")
        }
        _ => {
            eprintln!("SKIPPED: {name} suite (set {var})");
            None
        }
    }
}

/// A fresh PostgreSQL database, dropped at the end of the test.
#[derive(Debug)]
pub struct TempDatabase {
    admin: String,
    pub name: String,
    pub url: String,
}

impl TempDatabase {
    pub async fn create(admin_url: &str) -> Self {
        Self::recreate(
            admin_url,
            &format!("usher_test_{}", uuid::Uuid::new_v4().simple()),
        )
        .await
    }

    /// Creates the database `name` (which must not exist).
    pub async fn recreate(admin_url: &str, name: &str) -> Self {
        use sea_orm::ConnectionTrait;
        let name = name.to_owned();
        let admin = sea_orm::Database::connect(admin_url)
            .await
            .expect("postgres reachable");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create db");
        let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
        Self {
            admin: admin_url.to_owned(),
            url: format!("{base}/{name}"),
            name,
        }
    }

    pub async fn drop_now(self) {
        use sea_orm::ConnectionTrait;
        let admin = sea_orm::Database::connect(&self.admin)
            .await
            .expect("postgres reachable");
        admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .expect("drop db");
    }
}
