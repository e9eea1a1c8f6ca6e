//! Outbound provisioning end to end: the real `usher serve` pushes accounts into
//! `scim2-server` (PyPI, a third-party reference SCIM server, pinned by
//! scripts/peers.sh) as people join, change, leave and come back, driven the way
//! Entra ID drives usher: SCIM requests to usher's own `/scim/v2`. Also: `kill -9`
//! in the middle of a run, and two instances on one PostgreSQL.

use std::future::Future;
use std::io::Read as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Scratch, Server, TempDatabase, postgres_url, run, stderr, stdout, usher};

const INBOUND_TOKEN: &str = "entra-token-0123456789abcdefghijklmnopqrstuvwxyz";
const OUTBOUND_TOKEN: &str = "crm-token-0123456789abcdefghijklmnopqrstuvwxyz";

// ---------------------------------------------------------------------------
// The downstream app: scim2-server, its access log kept to count requests.

/// A running `scim2-server`, stopped on drop.
struct Downstream {
    child: Child,
    base: String,
    log: Arc<Mutex<String>>,
}

impl Drop for Downstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(std::env::var("USHER_PEERS_DIR").unwrap_or_else(|_| "target-peers".into()))
}

impl Downstream {
    fn start() -> Option<Self> {
        let bin = peers_dir().join("scim-server/bin/scim2-server");
        if !Command::new(&bin)
            .arg("--help")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            assert!(
                std::env::var("USHER_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "scim2-server is missing but USHER_TEST_REQUIRE_SERVICES=1: run scripts/peers.sh"
            );
            eprintln!("SKIPPED: outbound provisioning (run scripts/peers.sh)");
            return None;
        }
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new(bin)
            .args(["--hostname", "127.0.0.1", "--port", &port.to_string()])
            .args(["--bearer-token", OUTBOUND_TOKEN])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start scim2-server");
        // Its access log (one line per request) is how the tests count what the
        // target saw; draining it also keeps the server from blocking on the pipe.
        let log = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned();
                sink.lock().expect("log").push_str(&text);
            }
        });
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(Instant::now() < deadline, "scim2-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Self {
            child,
            base: format!("http://127.0.0.1:{port}/v2"),
            log,
        })
    }

    /// How many requests with this method reached this path prefix.
    fn requests(&self, method: &str, path: &str) -> usize {
        let needle = format!("\"{method} /v2{path}");
        self.log.lock().expect("log").matches(&needle).count()
    }

    async fn list(&self, resource: &str, filter: &str) -> Value {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/{resource}", self.base),
            [("filter", filter), ("count", "1000")],
        )
        .expect("URL");
        reqwest::Client::new()
            .get(url)
            .bearer_auth(OUTBOUND_TOKEN)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON")
    }

    /// The one account with this externalId (usher's user id), if any; panics on a
    /// duplicate.
    async fn user(&self, external_id: &str) -> Option<Value> {
        let list = self
            .list("Users", &format!("externalId eq \"{external_id}\""))
            .await;
        let found = list["Resources"].as_array().cloned().unwrap_or_default();
        assert!(found.len() <= 1, "duplicate accounts downstream: {found:?}");
        found.into_iter().next()
    }

    async fn total_users(&self) -> u64 {
        let list: Value = reqwest::Client::new()
            .get(format!("{}/Users?count=1", self.base))
            .bearer_auth(OUTBOUND_TOKEN)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON");
        list["totalResults"].as_u64().expect("totalResults")
    }

    async fn group(&self, name: &str) -> Option<Value> {
        let list = self
            .list("Groups", &format!("displayName eq \"{name}\""))
            .await;
        list["Resources"]
            .as_array()
            .and_then(|a| a.first().cloned())
    }
}

// ---------------------------------------------------------------------------
// usher, and Entra ID's side of it: SCIM requests to usher's /scim/v2.

/// The configuration: the inbound SCIM client `entra` and one app `crm` on the
/// downstream, assigned to `assign` (a TOML inline table), with `extra` lines in
/// its `[apps.provisioning]` table.
fn config(db_url: Option<&str>, downstream: &Downstream, assign: &str, extra: &str) -> String {
    let database = db_url.map_or_else(String::new, |url| {
        format!("[database]\nurl = {url:?}\n\n[keys]\nmaster_key_file = \"master.key\"\n\n")
    });
    format!(
        r#"{database}[[scim.clients]]
name = "entra"
token = "{INBOUND_TOKEN}"

[[apps]]
name = "crm"
display_name = "CRM"
assign = {assign}

[apps.provisioning]
connector = "scim"
{extra}

[apps.provisioning.settings]
base_url = "{base}"
auth = {{ type = "bearer", token = "{OUTBOUND_TOKEN}" }}
"#,
        base = downstream.base
    )
}

/// A scratch directory with a master key (PostgreSQL needs one configured).
fn scratch() -> Scratch {
    use base64::Engine;
    let dir = Scratch::new();
    let key = [7u8; 32];
    dir.write(
        "master.key",
        &base64::engine::general_purpose::STANDARD.encode(key),
    );
    dir
}

/// Starts `usher serve` on `config`, its stderr drained (provisioning logs every
/// attempt, and a full pipe would stall the server).
async fn serve(dir: &Scratch, config: &str) -> (Server, Arc<Mutex<String>>) {
    let path = dir.write("usher.toml", config);
    let mut cmd = usher(&dir.0);
    cmd.arg("--config").arg(&path).env("RUST_LOG", "info");
    let mut server = Server::start(cmd).await;
    server.wait_ready().await;
    let log = Arc::new(Mutex::new(String::new()));
    if let Some(mut pipe) = server.child.stderr.take() {
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let text = String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned();
                if let Ok(path) = std::env::var("USHER_TEST_SERVER_LOG") {
                    use std::io::Write as _;
                    if let Ok(mut f) = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                    {
                        let _ = f.write_all(text.as_bytes());
                    }
                }
                let mut log = sink.lock().expect("log");
                log.push_str(&text);
                if log.len() > 256 * 1024 {
                    let cut = log.len() - 128 * 1024;
                    let cut = (cut..log.len())
                        .find(|i| log.is_char_boundary(*i))
                        .unwrap_or(0);
                    log.drain(..cut);
                }
            }
        });
    }
    (server, log)
}

/// Stops a server gracefully (SIGTERM): it gives its provisioning leases back.
fn stop(server: Server) {
    let (clean, log) = server.terminate();
    assert!(clean, "usher did not stop cleanly: {log}");
}

/// usher's SCIM server as Entra ID uses it.
struct Entra {
    base: String,
    http: reqwest::Client,
}

impl Entra {
    fn new(server: &Server) -> Self {
        Self {
            base: server.url("/scim/v2"),
            http: reqwest::Client::new(),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let res = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(INBOUND_TOKEN)
            .header("content-type", "application/scim+json")
            .body(body.to_string())
            .send()
            .await
            .expect("SCIM request");
        let status = res.status();
        let text = res.text().await.expect("body");
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn create_user(&self, name: &str) -> String {
        let user = self
            .send(
                reqwest::Method::POST,
                "/Users",
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": name,
                    "displayName": format!("{name} display"),
                    "name": {"givenName": name, "familyName": "Tester"},
                    "emails": [{"value": format!("{name}@example.com"), "primary": true}],
                    "active": true,
                }),
            )
            .await;
        user["id"].as_str().expect("id").to_owned()
    }

    async fn create_group(&self, name: &str, members: &[&str]) -> String {
        let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
        let group = self
            .send(
                reqwest::Method::POST,
                "/Groups",
                json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": name,
                    "members": members,
                }),
            )
            .await;
        group["id"].as_str().expect("id").to_owned()
    }

    async fn patch(&self, path: &str, ops: Value) {
        self.send(
            reqwest::Method::PATCH,
            path,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}),
        )
        .await;
    }

    async fn add_members(&self, group: &str, users: &[String]) {
        let members: Vec<Value> = users.iter().map(|m| json!({"value": m})).collect();
        self.patch(
            &format!("/Groups/{group}"),
            json!([{"op": "add", "path": "members", "value": members}]),
        )
        .await;
    }

    async fn remove_member(&self, group: &str, user: &str) {
        self.patch(
            &format!("/Groups/{group}"),
            json!([{"op": "remove", "path": format!("members[value eq \"{user}\"]")}]),
        )
        .await;
    }

    /// Entra ID's shape of a deactivation: `Replace`, capitalised, with a string.
    async fn deactivate(&self, user: &str) {
        self.patch(
            &format!("/Users/{user}"),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .await;
    }
}

/// Polls `check` until it returns `Some`, for at most `within`.
async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Long enough for a slow CI machine; a change normally arrives in about a second.
const SOON: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// The lifecycle: join, change, leave, come back, leave usher.

async fn lifecycle(db_url: Option<&str>) {
    let Some(downstream) = Downstream::start() else {
        return;
    };
    let dir = scratch();
    // First run: Entra pushes the people and the group; the app assigns nobody yet.
    let (server, _log) = serve(&dir, &config(db_url, &downstream, "{}", "")).await;
    let entra = Entra::new(&server);
    let ada = entra.create_user("ada").await;
    let bob = entra.create_user("bob").await;
    let grace = entra.create_user("grace").await;
    let group = entra.create_group("crm-users", &[&bob]).await;
    stop(server);
    assert_eq!(downstream.total_users().await, 0, "nothing is assigned yet");

    // Second run: the admin assigns the group (and pushes it).
    let assign = r#"{ groups = ["crm-users"] }"#;
    let (server, log) = serve(
        &dir,
        &config(db_url, &downstream, assign, "group_push = true"),
    )
    .await;
    let entra = Entra::new(&server);
    let bob_remote = eventually("bob is created downstream", SOON, || downstream.user(&bob)).await;
    assert_eq!(bob_remote["userName"], "bob");
    assert_eq!(bob_remote["displayName"], "bob display");
    assert_eq!(bob_remote["name"]["givenName"], "bob");
    assert_eq!(bob_remote["emails"][0]["value"], "bob@example.com");
    assert_eq!(bob_remote["active"], true);

    // Joining the assigned group creates the account, and the pushed group holds it.
    entra.add_members(&group, std::slice::from_ref(&ada)).await;
    let ada_remote = eventually("ada is created downstream", SOON, || downstream.user(&ada)).await;
    let ada_id = ada_remote["id"].as_str().expect("remote id").to_owned();
    let pushed = eventually("the group is pushed with both members", SOON, || async {
        let g = downstream.group("crm-users").await?;
        (g["members"].as_array().map_or(0, Vec::len) == 2).then_some(g)
    })
    .await;
    assert!(pushed["members"].to_string().contains(&ada_id), "{pushed}");

    // A change of attributes is an update of that account.
    entra
        .patch(
            &format!("/Users/{ada}"),
            json!([{"op": "replace", "path": "displayName", "value": "Ada Lovelace"}]),
        )
        .await;
    eventually("ada's display name changes downstream", SOON, || async {
        let u = downstream.user(&ada).await?;
        (u["displayName"] == "Ada Lovelace").then_some(())
    })
    .await;

    // Leaving the group that gave the app deactivates, at once, not at a full sync.
    entra.remove_member(&group, &ada).await;
    eventually("ada is deactivated downstream", SOON, || async {
        let u = downstream.user(&ada).await?;
        (u["active"] == false).then_some(())
    })
    .await;
    // Coming back reactivates the same account: never a second one.
    entra.add_members(&group, std::slice::from_ref(&ada)).await;
    let back = eventually("ada is reactivated downstream", SOON, || async {
        let u = downstream.user(&ada).await?;
        (u["active"] == true).then_some(u)
    })
    .await;
    assert_eq!(back["id"], ada_id.as_str(), "the same remote account");

    // The leaver, Entra-shaped: PATCH active=False on usher deactivates downstream.
    entra.deactivate(&bob).await;
    eventually("bob is deactivated downstream", SOON, || async {
        let u = downstream.user(&bob).await?;
        (u["active"] == false).then_some(())
    })
    .await;
    assert!(
        downstream.user(&grace).await.is_none(),
        "grace is not assigned, so she has no account"
    );
    assert_eq!(
        downstream.requests("POST", "/Users"),
        2,
        "one create per person"
    );

    // The report has every outbound attempt, per app, as CSV.
    let report = run(usher(&dir.0)
        .arg("--config")
        .arg(dir.0.join("usher.toml"))
        .args(["report", "--app", "crm", "--format", "csv"]));
    assert!(report.status.success(), "{}", stderr(&report));
    let csv = stdout(&report);
    assert!(
        csv.starts_with("time,direction,source,object,name,operation,result"),
        "{csv}"
    );
    assert!(csv.contains(",outbound,crm,"), "{csv}");
    assert!(csv.contains("deactivate"), "{csv}");
    let status = run(usher(&dir.0)
        .arg("--config")
        .arg(dir.0.join("usher.toml"))
        .args(["users", "status", "bob"]));
    assert!(status.status.success(), "{}", stderr(&status));
    let text = stdout(&status);
    assert!(
        text.contains("crm") && text.contains("deactivated"),
        "{text}"
    );
    drop(server);
    let log = log.lock().expect("log").clone();
    assert!(!log.contains("panicked"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assigned_people_are_created_updated_deactivated_and_reactivated_downstream_on_sqlite() {
    lifecycle(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assigned_people_are_created_updated_deactivated_and_reactivated_downstream_on_postgres() {
    let Some(admin) = postgres_url() else { return };
    let db = TempDatabase::create(&admin).await;
    lifecycle(Some(&db.url)).await;
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deprovision_action_delete_removes_the_account() {
    let Some(downstream) = Downstream::start() else {
        return;
    };
    let dir = scratch();
    let (server, _log) = serve(&dir, &config(None, &downstream, "{}", "")).await;
    let entra = Entra::new(&server);
    let ada = entra.create_user("ada").await;
    let group = entra.create_group("crm-users", &[&ada]).await;
    stop(server);
    let assign = r#"{ groups = ["crm-users"] }"#;
    let (server, _log) = serve(
        &dir,
        &config(None, &downstream, assign, "deprovision = \"delete\""),
    )
    .await;
    let entra = Entra::new(&server);
    eventually("ada is created downstream", SOON, || downstream.user(&ada)).await;
    entra.remove_member(&group, &ada).await;
    eventually("ada's account is deleted", SOON, || async {
        downstream.user(&ada).await.is_none().then_some(())
    })
    .await;
    assert_eq!(downstream.requests("DELETE", "/Users"), 1);
}

// ---------------------------------------------------------------------------
// Faults: kill -9 in the middle, and two instances.

/// `n` users in group `crm-users`, pushed through usher's SCIM with no app
/// assigned; returns their ids.
async fn seed(entra: &Entra, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(entra.create_user(&format!("user{i:04}")).await);
    }
    let group = entra.create_group("crm-users", &[]).await;
    for chunk in ids.chunks(100) {
        entra.add_members(&group, chunk).await;
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_half_way_through_1000_creates_loses_and_duplicates_nothing() {
    let Some(downstream) = Downstream::start() else {
        return;
    };
    let Some(admin) = postgres_url() else { return };
    let db = TempDatabase::create(&admin).await;
    let dir = scratch();
    let (server, _log) = serve(&dir, &config(Some(&db.url), &downstream, "{}", "")).await;
    let ids = seed(&Entra::new(&server), 1000).await;
    stop(server);

    let assign = r#"{ groups = ["crm-users"] }"#;
    let text = config(Some(&db.url), &downstream, assign, "");
    let (mut server, _log) = serve(&dir, &text).await;
    eventually(
        "a third of the accounts exist",
        Duration::from_secs(120),
        || async { (downstream.total_users().await >= 330).then_some(()) },
    )
    .await;
    // SIGKILL: no shutdown, leases left behind, a create possibly sent but not recorded.
    let killed = Command::new("kill")
        .args(["-9", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let _ = server.child.wait();
    let at_kill = downstream.total_users().await;
    assert!(
        at_kill < 1000,
        "the kill came too late to test anything ({at_kill})"
    );

    let (_server, _log) = serve(&dir, &text).await;
    eventually("every account exists", Duration::from_secs(180), || async {
        (downstream.total_users().await >= 1000).then_some(())
    })
    .await;
    // Exactly once each: the count, and each user's own lookup (which panics on a
    // duplicate).
    assert_eq!(downstream.total_users().await, 1000);
    for id in ids.iter().step_by(50) {
        assert!(downstream.user(id).await.is_some(), "{id} is downstream");
    }
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_send_each_job_once_and_share_the_rate_limit() {
    let Some(downstream) = Downstream::start() else {
        return;
    };
    let Some(admin) = postgres_url() else { return };
    let db = TempDatabase::create(&admin).await;
    let dir_a = scratch();
    let dir_b = scratch();
    let (server, _log) = serve(&dir_a, &config(Some(&db.url), &downstream, "{}", "")).await;
    seed(&Entra::new(&server), 100).await;
    stop(server);

    // 20 requests a second, a burst of 10: two instances each sending at that rate
    // would need half the time. Each create is a lookup and a POST.
    let assign = r#"{ groups = ["crm-users"] }"#;
    let limit = "rate_limit = { per_minute = 1200, burst = 10, concurrency = 4 }";
    let text = config(Some(&db.url), &downstream, assign, limit);
    let started = Instant::now();
    let (_a, _la) = serve(&dir_a, &text).await;
    let (_b, _lb) = serve(&dir_b, &text).await;
    eventually("every account exists", Duration::from_secs(120), || async {
        (downstream.total_users().await >= 100).then_some(())
    })
    .await;
    let took = started.elapsed();
    assert_eq!(downstream.total_users().await, 100);
    assert_eq!(
        downstream.requests("POST", "/Users"),
        100,
        "every create sent once, by one instance"
    );
    // 200 requests (100 lookups, 100 creates) at 20/s after a burst of 10.
    assert!(
        took >= Duration::from_millis(9_000),
        "the limit held across both instances: {took:?}"
    );
    db.drop_now().await;
}
