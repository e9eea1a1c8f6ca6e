//! `scim2-server`, the reference SCIM server scripts/peers.sh pins, as a second
//! target: the same push against a third-party implementation (Python, so it,
//! not usher, is the bottleneck there).

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;

/// Page size of the final listing.
const PAGE: usize = 100;

/// `--scim2-server PATH`, else `$USHER_PEERS_DIR` (default `target-peers`, from
/// the repository root) `/scim-server/bin/scim2-server`.
pub fn binary(flag: Option<String>) -> PathBuf {
    flag.map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("USHER_PEERS_DIR").unwrap_or_else(|_| "target-peers".into()))
            .join("scim-server/bin/scim2-server")
    })
}

/// A running `scim2-server`, stopped on drop.
#[derive(Debug)]
pub struct Peer {
    child: Child,
    /// Its SCIM base URL.
    pub base: String,
    /// The bearer token it accepts.
    pub token: String,
    client: reqwest::Client,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Peer {
    /// Starts `bin` on a free port (it inherits this process's CPU affinity).
    pub fn start(bin: &PathBuf) -> anyhow::Result<Self> {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let token = usher_core::random::token()?;
        let child = Command::new(bin)
            .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
            .args(["--bearer-token", &token])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {} (run scripts/peers.sh)", bin.display()))?;
        let peer = Self {
            child,
            base: format!("http://127.0.0.1:{port}/v2"),
            token,
            client: reqwest::Client::new(),
        };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            anyhow::ensure!(Instant::now() < deadline, "scim2-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(peer)
    }

    async fn page(&self, start: usize, count: usize) -> anyhow::Result<Value> {
        let res = self
            .client
            .get(format!("{}/Users", self.base))
            .query(&[("startIndex", start), ("count", count)])
            .bearer_auth(&self.token)
            .send()
            .await?;
        let status = res.status();
        anyhow::ensure!(
            status.is_success(),
            "scim2-server GET /Users answered {status}"
        );
        Ok(res.json().await?)
    }

    /// Accounts it holds.
    pub async fn users(&self) -> anyhow::Result<usize> {
        let page = self.page(1, 1).await?;
        let total = page.get("totalResults").and_then(Value::as_u64);
        Ok(total.context("a ListResponse without totalResults")? as usize)
    }

    /// Accounts beyond one per externalId (duplicates), by listing them all.
    pub async fn duplicates(&self) -> anyhow::Result<usize> {
        let mut seen = HashSet::new();
        let mut total = 0;
        let mut start = 1;
        loop {
            let page = self.page(start, PAGE).await?;
            let resources = page
                .get("Resources")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if resources.is_empty() {
                break;
            }
            for user in &resources {
                total += 1;
                let key = user.get("externalId").or_else(|| user.get("userName"));
                seen.insert(key.map(Value::to_string).unwrap_or_default());
            }
            start += resources.len();
        }
        Ok(total - seen.len())
    }
}
