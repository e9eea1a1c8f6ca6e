//! Starts `peers/scim_gate.mjs` in front of a `scim2-server`: HTTP basic, or a
//! real OAuth 2.0 authorization server (oidc-provider, npm, installed by
//! scripts/peers.sh into target-peers/node) whose tokens the gate checks.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::support::{Peer, TOKEN};

/// The client the authorization server knows.
pub const CLIENT_ID: &str = "usher-connector";
pub const CLIENT_SECRET: &str = "client secret: with spaces & symbols+=/";
/// The scope the gate requires of a token.
pub const SCOPE: &str = "scim";

/// oidc-provider's folder, or `None` after saying why (a failure with
/// USHER_TEST_REQUIRE_SERVICES=1, as on CI).
fn node_peers() -> Option<PathBuf> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let dir = repo
        .join(std::env::var("USHER_PEERS_DIR").unwrap_or_else(|_| "target-peers".into()))
        .join("node");
    let node = Command::new("node").arg("--version").output();
    let ready = node.is_ok_and(|o| o.status.success())
        && dir
            .join("node_modules/oidc-provider/package.json")
            .is_file();
    if ready {
        return Some(dir);
    }
    assert!(
        std::env::var("USHER_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "node or oidc-provider is missing but USHER_TEST_REQUIRE_SERVICES=1: run scripts/peers.sh"
    );
    eprintln!("SKIPPED: SCIM connector basic and OAuth auth (run scripts/peers.sh)");
    None
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The gate, its scim2-server behind it, and (for OAuth) the authorization
/// server; all stopped on drop.
pub struct Gate {
    child: Child,
    _scim: Peer,
    origin: String,
    /// The token endpoint, under OAuth.
    pub token_url: String,
}

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the gate saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub token_requests: u64,
    pub scim_requests: u64,
    pub refused: u64,
    /// Token requests that authenticated with HTTP Basic, and in the body.
    pub client_secret_basic: u64,
    pub client_secret_post: u64,
}

impl Gate {
    /// Requires `Authorization: Basic` with this user and password.
    pub fn basic(username: &str, password: &str) -> Option<Self> {
        Self::start(json!({"basic": {"username": username, "password": password}}))
    }

    /// As [`Gate::basic`], served over https with this certificate and key.
    pub fn basic_over_tls(username: &str, password: &str, cert: &Path, key: &Path) -> Option<Self> {
        Self::start(json!({
            "basic": {"username": username, "password": password},
            "tls": {"cert": cert, "key": key},
        }))
    }

    /// Requires a valid access token of oidc-provider, which issues tokens for
    /// `ttl` seconds to `CLIENT_ID` authenticating with `method`.
    pub fn oauth(ttl: u64, method: &str) -> Option<Self> {
        Self::start(json!({"oauth": {
            "port": free_port(),
            "ttl": ttl,
            "scope": SCOPE,
            "clients": [{
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "token_endpoint_auth_method": method,
            }],
        }}))
    }

    fn start(mut config: Value) -> Option<Self> {
        let peers = node_peers()?;
        let scim = Peer::start()?;
        let port = free_port();
        config["peers"] = json!(peers);
        config["port"] = json!(port);
        config["upstream"] = json!(scim.base);
        config["upstream_token"] = json!(TOKEN);
        let scheme = if config.get("tls").is_some() {
            "https"
        } else {
            "http"
        };
        let token_url = config["oauth"]["port"]
            .as_u64()
            .map(|p| format!("http://127.0.0.1:{p}/token"))
            .unwrap_or_default();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/scim_gate.mjs");
        let mut child = Command::new("node")
            .arg(script)
            .arg(config.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the gate");
        assert_eq!(line.trim(), "READY", "the gate did not start");
        Some(Self {
            child,
            _scim: scim,
            origin: format!("{scheme}://127.0.0.1:{port}"),
            token_url,
        })
    }

    /// The SCIM base URL behind the gate.
    pub fn base(&self) -> String {
        format!("{}/v2", self.origin)
    }

    pub async fn stats(&self) -> Stats {
        let s: Value = reqwest::get(format!("{}/_gate/stats", self.origin))
            .await
            .expect("stats")
            .json()
            .await
            .expect("JSON");
        let n = |k: &str| s[k].as_u64().expect(k);
        Stats {
            token_requests: n("token_requests"),
            scim_requests: n("scim_requests"),
            refused: n("refused"),
            client_secret_basic: n("client_secret_basic"),
            client_secret_post: n("client_secret_post"),
        }
    }

    async fn control(&self, what: &str) {
        let status = reqwest::Client::new()
            .post(format!("{}/_gate/{what}", self.origin))
            .send()
            .await
            .expect(what)
            .status();
        assert!(status.is_success(), "{what}: {status}");
    }

    /// Revokes every token issued so far at the authorization server.
    pub async fn revoke_all(&self) {
        self.control("revoke").await;
    }

    /// From now on, every request is refused.
    pub async fn refuse_all(&self) {
        self.control("refuse").await;
    }
}
