//! A SCIM service over a fresh SQLite database, with two clients.

use std::sync::{Arc, OnceLock};

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::{test, web};
use serde_json::{Value, json};
use usher_core::ports::{ScimClients, SystemClock};
use usher_core::{SessionPolicy, Sessions};
use usher_scim::{ScimDeps, ScimSettings, ScimState};
use usher_store::{Database, MemoryEphemeralStore, SqlStore};

pub const TOKEN_A: &str = "token-of-client-a-0123456789abcdef";
pub const TOKEN_B: &str = "token-of-client-b-0123456789abcdef";
pub const BASE: &str = "http://usher.test/scim/v2";

pub struct Env {
    pub store: SqlStore,
    pub sessions: Sessions,
    pub data: web::Data<OnceLock<Arc<ScimState>>>,
    _dir: TempDb,
}

struct TempDb(std::path::PathBuf);

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

pub async fn env() -> Env {
    let path = std::env::temp_dir().join(format!("usher-scim-{}.db", uuid::Uuid::new_v4()));
    let db = Database::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("SQLite opens");
    db.migrate().await.expect("migrations");
    let store = db.store();
    store
        .create_scim_client("a", &usher_core::random::digest(TOKEN_A))
        .await
        .expect("client a");
    store
        .create_scim_client("b", &usher_core::random::digest(TOKEN_B))
        .await
        .expect("client b");
    let clock = Arc::new(SystemClock);
    let sessions = Sessions::new(
        Arc::new(MemoryEphemeralStore::new(10_000)),
        Arc::new(store.clone()),
        clock.clone(),
        SessionPolicy::default(),
    );
    let state = ScimState::new(
        ScimSettings {
            base_url: BASE.into(),
            max_results: 50,
            max_payload: 256 * 1024,
            max_bulk_operations: 10,
        },
        ScimDeps {
            directory: Arc::new(store.clone()),
            clients: Arc::new(store.clone()),
            sessions: sessions.clone(),
            logout_listeners: Vec::new(),
            clock,
        },
    );
    let data = web::Data::new(OnceLock::new());
    let _ = data.set(Arc::new(state));
    Env {
        store,
        sessions,
        data,
        _dir: TempDb(path),
    }
}

/// A response: status, headers we look at, and the JSON body (Null when empty).
pub struct Resp {
    pub status: StatusCode,
    pub etag: Option<String>,
    pub body: Value,
}

impl Resp {
    pub fn scim_type(&self) -> Option<&str> {
        self.body["scimType"].as_str()
    }
}

/// The app over an environment.
#[macro_export]
macro_rules! app {
    ($env:expr) => {
        actix_web::test::init_service(
            actix_web::App::new()
                .app_data($env.data.clone())
                .configure(usher_scim::configure),
        )
        .await
    };
}

/// Sends a request built by [`req`].
#[macro_export]
macro_rules! call {
    ($app:expr, $req:expr) => {
        $crate::fixture::read(actix_web::test::call_service(&$app, $req.to_request()).await).await
    };
}

/// A request with a bearer token and an optional JSON body.
pub fn req(method: &str, uri: &str, token: &str, body: Option<Value>) -> test::TestRequest {
    let mut r = test::TestRequest::default()
        .method(method.parse().expect("method"))
        .uri(uri)
        .insert_header(("Authorization", format!("Bearer {token}")));
    if let Some(b) = body {
        r = r
            .insert_header(("Content-Type", "application/scim+json"))
            .set_payload(b.to_string());
    }
    r
}

/// Reads a response.
pub async fn read<B: MessageBody>(resp: ServiceResponse<B>) -> Resp {
    let status = resp.status();
    let etag = resp
        .headers()
        .get("ETag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = test::read_body(resp).await;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(&bytes)}))
    };
    Resp { status, etag, body }
}

pub fn user(name: &str) -> Value {
    json!({
        "schemas": [usher_scim::USER],
        "userName": name,
        "active": true,
        "emails": [{"value": format!("{name}@example.test"), "type": "work", "primary": true}],
    })
}

pub fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for query values.
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
