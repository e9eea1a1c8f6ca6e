//! Starts `scim2-server` on a free port and builds connectors for it.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use usher_connector_scim::{ScimConnector, ScimSettings};

pub const TOKEN: &str = "scim-connector-test-token-0123456789";

/// The pinned `scim2-server` of scripts/peers.sh, or `None` after saying why (a
/// failure with USHER_TEST_REQUIRE_SERVICES=1, as on CI).
fn binary() -> Option<PathBuf> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let dir = repo.join(std::env::var("USHER_PEERS_DIR").unwrap_or_else(|_| "target-peers".into()));
    let bin = dir.join("scim-server/bin/scim2-server");
    let ready = Command::new(&bin)
        .arg("--help")
        .output()
        .is_ok_and(|o| o.status.success());
    if ready {
        return Some(bin);
    }
    assert!(
        std::env::var("USHER_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "scim2-server is missing but USHER_TEST_REQUIRE_SERVICES=1: run scripts/peers.sh"
    );
    eprintln!("SKIPPED: SCIM connector against scim2-server (run scripts/peers.sh)");
    None
}

/// A running `scim2-server`, stopped on drop.
pub struct Peer {
    child: Child,
    pub base: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Peer {
    /// A fresh server (empty), or `None` when the peer is not installed.
    pub fn start() -> Option<Self> {
        let bin = binary()?;
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(bin)
            .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
            .args(["--bearer-token", TOKEN])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start scim2-server");
        let peer = Self {
            child,
            base: format!("http://127.0.0.1:{port}/v2"),
        };
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "scim2-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(peer)
    }

    pub fn connector(&self) -> ScimConnector {
        connector(&self.base, TOKEN, json!({}))
    }

    /// A resource read straight from the server, not through the connector.
    pub async fn get(&self, path: &str) -> Value {
        reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON")
    }

    /// A PATCH straight to the server (a change made by someone else).
    pub async fn patch(&self, path: &str, ops: Value) {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": ops,
        });
        let status = reqwest::Client::new()
            .patch(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
            .await
            .expect("PATCH")
            .status();
        assert!(status.is_success(), "{status}");
    }

    /// How many users the server holds under this filter.
    pub async fn count(&self, filter: &str) -> u64 {
        let url =
            reqwest::Url::parse_with_params(&format!("{}/Users", self.base), [("filter", filter)])
                .expect("URL");
        let list: Value = reqwest::Client::new()
            .get(url)
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON");
        list["totalResults"].as_u64().expect("totalResults")
    }
}

/// A connector for `base` with `token`; `extra` adds or overrides settings keys.
pub fn connector(base: &str, token: &str, extra: Value) -> ScimConnector {
    connector_with_auth(base, json!({"type": "bearer", "token": token}), extra)
}

/// A connector for `base` authenticating with `auth` (the settings' `auth` table).
pub fn connector_with_auth(base: &str, auth: Value, extra: Value) -> ScimConnector {
    let mut settings = json!({"base_url": base, "auth": auth});
    if let (Value::Object(s), Value::Object(e)) = (&mut settings, extra) {
        s.extend(e);
    }
    let settings: ScimSettings = serde_json::from_value(settings).expect("settings");
    ScimConnector::new(settings).expect("valid settings")
}
