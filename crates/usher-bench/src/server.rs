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
per_account = 1000000
per_ip = 1000000
"#;

/// A running usher.
#[derive(Debug)]
pub struct Usher {
    child: Child,
    dir: std::path::PathBuf,
    /// Base URL.
    pub base: String,
    /// Whether the server is pinned to one core.
    pub pinned: bool,
}

impl Usher {
    /// Starts `binary` on a free port, one worker, pinned to CPU 0 when possible.
    pub async fn start(binary: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("usher-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("usher.toml"), CONFIG)?;
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
        cmd.current_dir(&dir)
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
        let usher = Self {
            child,
            dir,
            base: format!("http://127.0.0.1:{port}"),
            pinned,
        };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(res) = client.get(format!("{}/readyz", usher.base)).send().await
                && res.status().is_success()
            {
                return Ok(usher);
            }
            anyhow::ensure!(Instant::now() < deadline, "usher not ready within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the server and removes its directory.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
