//! Interop (issue 3, item 8): `openid-client` 6 from npm, an OpenID-certified
//! relying party this project did not write, drives a real usher served by an
//! in-process `HttpServer` on 127.0.0.1 (the OP's routes and the real pages of
//! `usher-web` over SQLite and the memory store). See `rp.mjs` for the flow.
//!
//! Peers are installed by `scripts/peers.sh` into `target-peers/`. Without node or
//! the package, the test prints `SKIPPED` and passes, unless
//! `USHER_TEST_REQUIRE_SERVICES=1` (CI), where it fails.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use usher_core::ports::{AuditLog, Credentials, Directory, LogoutListener, SystemClock};
use usher_oidc::{AuthMethod, BackchannelLogout, RetryPolicy};
use usher_web::{PasswordHasher, PasswordPolicy, ThrottlePolicy, WebDeps, WebSettings, WebState};

use crate::fixture::{Op, client};

const PASSWORD: &str = "correct horse battery staple";
const CONFIDENTIAL: &str = "interop-confidential";
const PUBLIC: &str = "interop-public";
const SECRET: &str = "interop-secret-0123456789-abcdefghijklmnop";

fn peers_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    match std::env::var("USHER_PEERS_DIR") {
        Ok(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target-peers"),
    }
    .join("node")
}

/// Whether node and the pinned openid-client are there; says why not.
fn peers_ready() -> Result<PathBuf, String> {
    let dir = peers_dir();
    let node = std::process::Command::new("node").arg("--version").output();
    match node {
        Ok(out) if out.status.success() => {}
        _ => return Err("node is not installed".into()),
    }
    if !dir
        .join("node_modules/openid-client/package.json")
        .is_file()
    {
        return Err(format!(
            "openid-client is not installed in {}",
            dir.display()
        ));
    }
    Ok(dir)
}

/// A relying party's back-channel logout endpoint: records the logout tokens.
async fn backchannel_receiver() -> (
    String,
    Arc<Mutex<Vec<String>>>,
    actix_web::dev::ServerHandle,
) {
    let tokens: Arc<Mutex<Vec<String>>> = Arc::default();
    let t = tokens.clone();
    let server = HttpServer::new(move || {
        let t = t.clone();
        App::new().route(
            "/bc",
            web::post().to(move |form: web::Form<Vec<(String, String)>>| {
                let t = t.clone();
                async move {
                    for (name, value) in form.into_inner() {
                        if name == "logout_token" {
                            t.lock().unwrap_or_else(|p| p.into_inner()).push(value);
                        }
                    }
                    HttpResponse::Ok().finish()
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .expect("binds");
    let url = format!("http://{}/bc", server.addrs()[0]);
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (url, tokens, handle)
}

#[actix_web::test]
async fn openid_client_drives_a_real_usher() {
    let peers = match peers_ready() {
        Ok(dir) => dir,
        Err(why) => {
            if std::env::var("USHER_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
                panic!("interop peers missing ({why}): run scripts/peers.sh");
            }
            eprintln!("SKIPPED: interop (run scripts/peers.sh): {why}");
            return;
        }
    };

    // usher on a port of its own; the issuer is its URL.
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let (bc_url, logout_tokens, bc_handle) = backchannel_receiver().await;

    let mut confidential = client(
        CONFIDENTIAL,
        &["https://confidential.example/cb"],
        AuthMethod::ClientSecretBasic,
        false,
    );
    confidential.secret = Some(usher_oidc::ClientSecret::from_plain(SECRET));
    confidential.post_logout_redirect_uris = vec!["https://confidential.example/bye".into()];
    confidential.backchannel_logout_uri = Some(bc_url);
    let mut public = client(
        PUBLIC,
        &["http://127.0.0.1:9/spa/cb"],
        AuthMethod::None,
        true,
    );
    public.post_logout_redirect_uris = vec!["http://127.0.0.1:9/spa/bye".into()];
    let op = Op::with(&base, vec![confidential, public]).await;

    let hasher = Arc::new(PasswordHasher::new(PasswordPolicy {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
        max_concurrent: 2,
    }));
    let hash = hasher.hash(PASSWORD).await.expect("hashed");
    Credentials::set_password_hash(&op.store, op.user.id, &hash)
        .await
        .expect("password set");

    let listener_backchannel: Arc<dyn LogoutListener> = Arc::new(BackchannelLogout::with_retry(
        op.state.clone(),
        RetryPolicy {
            attempts: 3,
            first_delay: Duration::from_millis(100),
            timeout: Duration::from_secs(2),
        },
    ));
    let audit: Arc<dyn AuditLog> = Arc::new(op.store.clone());
    let directory: Arc<dyn Directory> = Arc::new(op.store.clone());
    let credentials: Arc<dyn Credentials> = Arc::new(op.store.clone());
    let web_state = WebState::new(
        WebSettings {
            public_url: base.clone(),
            secure_cookies: false,
            trusted_proxies: Vec::new(),
            throttle: ThrottlePolicy::default(),
        },
        WebDeps {
            directory,
            credentials,
            ephemeral: op.ephemeral.clone(),
            sessions: op.sessions.clone(),
            interactions: op.interactions.clone(),
            logout_listeners: vec![listener_backchannel],
            audit,
            clock: Arc::new(SystemClock),
            hasher,
        },
    );
    let web_data = web::Data::new(OnceLock::new());
    let _ = web_data.set(Arc::new(web_state));
    let oidc_data = op.data.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(oidc_data.clone())
            .app_data(web_data.clone())
            .configure(usher_oidc::configure)
            .configure(usher_web::configure)
    })
    .workers(2)
    .disable_signals()
    .listen(listener)
    .expect("listens")
    .run();
    let handle = server.handle();
    tokio::spawn(server);

    let config = json!({
        "base": base,
        "peers": peers,
        "username": "alice",
        "password": PASSWORD,
        "clients": [
            {
                "name": "confidential",
                "client_id": CONFIDENTIAL,
                "client_secret": SECRET,
                "redirect_uri": "https://confidential.example/cb",
                "post_logout_redirect_uri": "https://confidential.example/bye",
            },
            {
                "name": "public",
                "client_id": PUBLIC,
                "redirect_uri": "http://127.0.0.1:9/spa/cb",
                "post_logout_redirect_uri": "http://127.0.0.1:9/spa/bye",
            },
        ],
    });
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/rp.mjs");
    let run = tokio::process::Command::new("node")
        .arg(&script)
        .arg(config.to_string())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the relying party finishes within 2 minutes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "openid-client failed:\n{stderr}\n{stdout}"
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line:\n{stdout}\n{stderr}"));
    let results: Value = serde_json::from_str(line).expect("RESULT is JSON");
    eprintln!("interop results: {results:#}");

    let sub = op.user.id.to_string();
    for r in results.as_array().expect("a list") {
        let name = r["client"].as_str().unwrap_or_default();
        assert_eq!(r["issuer"], base.as_str(), "{name}");
        assert_eq!(r["callback_has_iss"], true, "{name}: RFC 9207 iss");
        assert_eq!(r["id_token"]["sub"], sub.as_str(), "{name}");
        assert_eq!(r["id_token"]["nonce_ok"], true, "{name}");
        assert!(r["id_token"]["sid"].is_string(), "{name}: sid");
        assert!(r["id_token"]["auth_time"].is_i64(), "{name}: auth_time");
        assert_eq!(r["userinfo"]["sub"], sub.as_str(), "{name}");
        assert_eq!(r["userinfo"]["email"], "alice@example.com", "{name}");
        assert_eq!(r["got_refresh_token"], true, "{name}");
        assert_eq!(r["refreshed"], true, "{name}: refresh rotates");
        assert_eq!(r["refresh_after_revocation"], "invalid_grant", "{name}");
        assert_eq!(r["logout_state_ok"], true, "{name}: end_session");
        assert_eq!(
            r["after_logout_error"], "login_required",
            "{name}: signed out"
        );
        let pages: Vec<&str> = r["pages"]
            .as_array()
            .expect("pages")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(pages.contains(&"login"), "{name}: {pages:?}");
        // The id_token_hint proved the session: no confirmation page.
        assert!(!pages.contains(&"logout-confirm"), "{name}: {pages:?}");
    }
    let confidential = &results[0];
    let public = &results[1];
    assert_eq!(confidential["access_token_active_after_revocation"], false);
    let pages = |r: &Value| r["pages"].to_string();
    assert!(
        pages(confidential).contains("consent"),
        "{}",
        pages(confidential)
    );
    assert!(
        !pages(public).contains("consent"),
        "first party: {}",
        pages(public)
    );

    // usher's state: the confidential client heard of its logout over the back
    // channel, for the session its id_token named; no session is left.
    let sid = confidential["id_token"]["sid"]
        .as_str()
        .expect("sid")
        .to_owned();
    let mut delivered = Vec::new();
    for _ in 0..100 {
        delivered = logout_tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if !delivered.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        delivered.len(),
        1,
        "one logout token for the confidential client"
    );
    let claims = crate::token_env::claims(&delivered[0]);
    assert_eq!(claims["sid"], sid.as_str());
    assert_eq!(claims["aud"], CONFIDENTIAL);
    let left = op
        .sessions
        .revoke_all_for_user(op.user.id)
        .await
        .expect("store");
    assert!(left.is_empty(), "every session ended: {left:?}");

    handle.stop(true).await;
    bc_handle.stop(true).await;
}
