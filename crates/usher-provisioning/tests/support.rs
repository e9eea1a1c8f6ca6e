//! scim2-server as the downstream app, jobs as the planner writes them, and the
//! remote mapping each outcome leaves behind.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{Value, json};
use time::OffsetDateTime;
use usher_connector::{Connector, UserRecord};
use usher_connector_scim::{ScimConnector, ScimSettings};
use usher_core::outbound::{
    AttemptEntry, AttemptQuery, Job, JobState, ObjectRef, ProvisioningSettings, RemoteChange,
    RemoteObject,
};
use usher_core::ports::{RemoteObjects, SystemClock};
use usher_core::{ApplicationId, UserId};
use usher_provisioning::{Backoff, Delivered, Delivery, Desired, deliver};

pub const TOKEN: &str = "provisioning-test-token-0123456789";

/// The pinned `scim2-server` of scripts/peers.sh, or `None` after saying why (a
/// failure with USHER_TEST_REQUIRE_SERVICES=1, as on CI).
fn binary() -> Option<PathBuf> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
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
    static SAY_ONCE: std::sync::Once = std::sync::Once::new();
    SAY_ONCE.call_once(|| {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: delivery against scim2-server (run scripts/peers.sh)"
        );
    });
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
    /// A fresh, empty server, or `None` when the peer is not installed.
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
        connector(&self.base, TOKEN)
    }

    /// A resource read straight from the server, not through the connector;
    /// `None` for a 404.
    pub async fn get(&self, path: &str) -> Option<Value> {
        let answer = reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("GET");
        if answer.status() == 404 {
            return None;
        }
        Some(answer.json().await.expect("JSON"))
    }

    /// A change straight to the server (someone else's, or a deletion).
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> u16 {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/scim+json");
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        request.send().await.expect("request").status().as_u16()
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

/// A SCIM connector for `base` with `token`, as an app's settings build it.
pub fn connector(base: &str, token: &str) -> ScimConnector {
    let settings = json!({
        "base_url": base,
        "auth": {"type": "bearer", "token": token},
        "timeout_secs": 5,
    });
    let settings: ScimSettings = serde_json::from_value(settings).expect("settings");
    ScimConnector::new(settings).expect("valid settings")
}

/// An app's provisioning side with `extra` keys over the defaults.
pub fn settings(extra: Value) -> ProvisioningSettings {
    let mut s = json!({"connector": "scim", "group_push": true});
    if let (Value::Object(s), Value::Object(e)) = (&mut s, extra) {
        s.extend(e);
    }
    let settings: ProvisioningSettings = serde_json::from_value(s).expect("provisioning settings");
    settings.check().expect("valid provisioning settings");
    settings
}

/// The remote mapping as the job table leaves it: every outcome's
/// `RemoteChange` applied, as `Jobs::complete`, `retry` and `park` do.
#[derive(Debug, Default)]
pub struct Book {
    rows: Mutex<HashMap<(ApplicationId, ObjectRef), RemoteObject>>,
}

impl Book {
    pub fn apply(&self, app: ApplicationId, object: ObjectRef, change: Option<&RemoteChange>) {
        let mut rows = self.rows.lock().expect("book");
        match change {
            None => {}
            Some(RemoteChange::Forget) => {
                rows.remove(&(app, object));
            }
            Some(RemoteChange::Upsert {
                remote_id,
                state,
                pushed,
                digest,
            }) => {
                let now = OffsetDateTime::now_utc();
                rows.insert(
                    (app, object),
                    RemoteObject {
                        app,
                        object,
                        remote_id: remote_id.clone(),
                        state: *state,
                        pushed: pushed.clone(),
                        digest: digest.clone(),
                        changed_at: now,
                        acknowledged_at: now,
                    },
                );
            }
        }
    }

    pub fn get(&self, app: ApplicationId, object: ObjectRef) -> Option<RemoteObject> {
        self.rows.lock().expect("book").get(&(app, object)).cloned()
    }
}

#[async_trait]
impl RemoteObjects for Book {
    async fn remote_object(
        &self,
        app: ApplicationId,
        object: ObjectRef,
    ) -> usher_core::Result<Option<RemoteObject>> {
        Ok(self.get(app, object))
    }
    async fn remote_objects_of_user(&self, _: UserId) -> usher_core::Result<Vec<RemoteObject>> {
        Ok(Vec::new())
    }
    async fn mapped_users(
        &self,
        _: ApplicationId,
        _: Option<UserId>,
        _: u32,
    ) -> usher_core::Result<Vec<UserId>> {
        Ok(Vec::new())
    }
    async fn attempts(&self, _: &AttemptQuery) -> usher_core::Result<Vec<AttemptEntry>> {
        Ok(Vec::new())
    }
    async fn prune_attempts(&self, _: OffsetDateTime) -> usher_core::Result<u64> {
        Ok(0)
    }
}

/// One app, its connector and its mapping: delivers jobs as a sender would and
/// applies each outcome's mapping change.
pub struct App {
    pub id: ApplicationId,
    pub settings: ProvisioningSettings,
    pub connector: Box<dyn Connector>,
    pub book: Book,
    pub backoff: Backoff,
}

impl App {
    pub fn new(connector: impl Connector + 'static, settings: ProvisioningSettings) -> Self {
        Self {
            id: ApplicationId(uuid::Uuid::now_v7()),
            settings,
            connector: Box::new(connector),
            book: Book::default(),
            backoff: Backoff::seeded(11),
        }
    }

    /// Delivers `desired` for `object` as attempt `attempt` and records the
    /// mapping change.
    pub async fn deliver_as(
        &self,
        object: ObjectRef,
        desired: &Desired,
        attempt: u32,
    ) -> Delivered {
        let ctx = Delivery {
            app: self.id,
            settings: &self.settings,
            connector: &*self.connector,
            remote: &self.book,
            backoff: &self.backoff,
            clock: &SystemClock,
        };
        let job = job(self.id, object, desired, attempt);
        let delivered = deliver(&ctx, &job).await;
        self.book.apply(self.id, object, delivered.remote.as_ref());
        delivered
    }

    pub async fn deliver(&self, object: ObjectRef, desired: &Desired) -> Delivered {
        self.deliver_as(object, desired, 1).await
    }

    pub fn mapping(&self, object: ObjectRef) -> Option<RemoteObject> {
        self.book.get(self.id, object)
    }
}

/// A claimed job, as `Jobs::claim` hands it out.
pub fn job(app: ApplicationId, object: ObjectRef, desired: &Desired, attempts: u32) -> Job {
    let now = OffsetDateTime::now_utc();
    Job {
        id: 1,
        app,
        object,
        desired: desired.to_json(),
        label: "test".into(),
        cause: "test".into(),
        state: JobState::InFlight,
        attempts,
        next_run_at: now,
        lease_owner: Some("test".into()),
        lease_expires_at: Some(now + Duration::from_secs(60)),
        last_error: None,
        changed_at: now,
        created_at: now,
    }
}

/// A new user id and its mapped record.
pub fn user(name: &str) -> (ObjectRef, UserRecord) {
    let id = UserId(uuid::Uuid::now_v7());
    let mut record = UserRecord::new(id.to_string(), name);
    record.display_name = Some(format!("{name} Lovelace"));
    record.emails = vec![usher_connector::Email::new(
        format!("{name}@example.com"),
        true,
    )];
    (ObjectRef::User(id), record)
}

pub fn account(record: &UserRecord) -> Desired {
    Desired::User {
        record: record.clone(),
    }
}
