//! Starts the real usher with a benchmark configuration in a scratch directory.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// Clients and the account the scenarios use.
pub const SECRET: &str = "bench-secret-0123456789abcdef-0123456789";
pub const USERNAME: &str = "bench";
pub const PASSWORD: &str = "bench-password-0123";
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

const CONFIG: &str = r#"
data_dir = "data"

[[users]]
username = "bench"
email = "bench@example.test"
password = "bench-password-0123"

[[oidc.clients]]
client_id = "login"
client_secret = "bench-secret-0123456789abcdef-0123456789"
redirect_uris = ["http://127.0.0.1:9/callback"]
first_party = true

[[oidc.clients]]
client_id = "cc-RS256"
client_secret = "bench-secret-0123456789abcdef-0123456789"
grant_types = ["client_credentials"]
id_token_signed_response_alg = "RS256"

[[oidc.clients]]
client_id = "cc-ES256"
client_secret = "bench-secret-0123456789abcdef-0123456789"
grant_types = ["client_credentials"]
id_token_signed_response_alg = "ES256"

[[oidc.clients]]
client_id = "cc-EdDSA"
client_secret = "bench-secret-0123456789abcdef-0123456789"
grant_types = ["client_credentials"]
id_token_signed_response_alg = "EdDSA"

[[saml.service_providers]]
entity_id = "https://sp.bench.test/metadata"
acs_urls = ["http://127.0.0.1:9/acs"]
name_id_format = "emailAddress"
attributes = { mail = "email", groups = "groups" }

[login_throttle]
per_account_and_ip = 1000000
per_account = 1000000
per_ip = 1000000

# Every scenario signs in from 127.0.0.1: the per-address budget of parked
# sign-ins would stop a benchmark after its first hundred.
[pending_sign_ins]
per_ip = 1000000

[[scim.clients]]
name = "bench"
token_file = "scim.token"
"#;

/// A scratch directory with what every start of usher there shares: the SCIM
/// client's token, the master key (PostgreSQL) and the database URL. A scenario
/// that restarts usher keeps one `Scratch` across the starts.
#[derive(Debug)]
pub struct Scratch {
    dir: std::path::PathBuf,
    database: Option<String>,
    /// Bearer token of the SCIM client `bench`.
    pub scim_token: String,
}

impl Scratch {
    /// A fresh directory for SQLite in it, or for the PostgreSQL `database` URL.
    pub fn create(database: Option<&str>) -> anyhow::Result<Self> {
        use base64::Engine;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let dir = std::env::temp_dir().join(format!("usher-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        if database.is_some() {
            // PostgreSQL needs a configured master key (every instance must open
            // the same signing keys): 32 random bytes in standard base64.
            let key = URL_SAFE_NO_PAD.decode(usher_core::random::token()?)?;
            std::fs::write(dir.join("master.key"), STANDARD.encode(key))?;
        }
        let scim_token = usher_core::random::token()?;
        std::fs::write(dir.join("scim.token"), &scim_token)?;
        Ok(Self {
            dir,
            database: database.map(str::to_owned),
            scim_token,
        })
    }

    /// The database usher uses: the PostgreSQL URL, or its SQLite file.
    pub fn database_url(&self) -> String {
        self.database.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}?mode=ro",
                self.dir.join("data/usher.db").display()
            )
        })
    }

    fn config(&self, extra: &str) -> anyhow::Result<String> {
        let mut config = CONFIG.to_owned();
        if let Some(url) = &self.database {
            // A JSON string is a valid TOML basic string.
            let url = serde_json::to_string(url)?;
            config.push_str(&format!(
                "\n[database]\nurl = {url}\n\n[keys]\nmaster_key_file = \"master.key\"\n"
            ));
        }
        config.push_str(extra);
        Ok(config)
    }

    /// Removes the directory.
    pub fn remove(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running usher.
#[derive(Debug)]
pub struct Usher {
    child: Child,
    /// The scratch directory, when this server alone uses it (removed on stop).
    owned: Option<Scratch>,
    /// Base URL.
    pub base: String,
    /// Whether the server is pinned to one core.
    pub pinned: bool,
    /// Bearer token of the SCIM client `bench`.
    pub scim_token: String,
}

impl Usher {
    /// Starts `binary` on a free port, one worker, pinned to CPU 0 when possible,
    /// on SQLite in its scratch directory or on the PostgreSQL `database` URL.
    pub async fn start(binary: &str, database: Option<&str>) -> anyhow::Result<Self> {
        let scratch = Scratch::create(database)?;
        let mut usher = Self::launch(binary, &scratch, "").await?;
        usher.owned = Some(scratch);
        Ok(usher)
    }

    /// Starts `binary` in `scratch` with `extra` appended to the benchmark
    /// configuration (one worker, pinned to CPU 0 when possible, a free port),
    /// and waits until it is ready. The directory outlives the server.
    pub async fn launch(binary: &str, scratch: &Scratch, extra: &str) -> anyhow::Result<Self> {
        let dir = &scratch.dir;
        std::fs::write(dir.join("usher.toml"), scratch.config(extra)?)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let pinned = Command::new("taskset").arg("--version").output().is_ok();
        let mut cmd = if pinned {
            let mut c = Command::new("taskset");
            c.args(["-c", "0", binary]);
            c
        } else {
            Command::new(binary)
        };
        cmd.current_dir(dir)
            .args(["--config", "usher.toml", "serve"])
            .env("USHER_SERVER__BIND", format!("127.0.0.1:{port}"))
            .env(
                "USHER_SERVER__PUBLIC_URL",
                format!("http://127.0.0.1:{port}"),
            )
            .env("USHER_SERVER__WORKERS", "1")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {binary}"))?;
        let mut usher = Self {
            child,
            owned: None,
            base: format!("http://127.0.0.1:{port}"),
            pinned,
            scim_token: scratch.scim_token.clone(),
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(res) = client.get(format!("{}/readyz", usher.base)).send().await
                && res.status().is_success()
            {
                return Ok(usher);
            }
            if let Some(status) = usher.child.try_wait()? {
                anyhow::bail!("usher exited during start-up ({status}); its log is above");
            }
            anyhow::ensure!(Instant::now() < deadline, "usher not ready within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The server's process id (`taskset` execs the binary, so the same process).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server, and removes its directory if it was its own.
    pub fn stop(self) {
        drop(self);
    }
}

/// A scenario that fails half-way must not leave a server running.
impl Drop for Usher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(scratch) = self.owned.take() {
            scratch.remove();
        }
    }
}
