//! Protocol bridging, upstream SAML to downstream OIDC (issue 5, items 7 and 8):
//! the real `usher serve`, configured with `[[upstreams]] kind = "saml"`, between
//! two third-party peers it did not write: `samlify` 2 (npm) running as the
//! upstream SAML IdP (`peers/upstream_saml_idp.mjs`: it verifies usher's signed
//! AuthnRequest with the certificate in usher's SP metadata and signs its
//! Response with xml-crypto), and `openid-client` 6 (npm) as the downstream app
//! (`peers/federated_rp.mjs`, shared with the OIDC federation test). One upstream
//! reads the IdP's metadata from its URL, the disabled one from a file with an
//! extra certificate file. Covered: the login page links SAML upstreams; first
//! login creates the user with mapped attributes and groups (JIT); the second
//! (home-realm discovery by `login_hint`) reuses the link; an email-domain denial
//! shows the denial page and creates nothing; a disabled SAML upstream is refused.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::json;
use usher_core::ports::Directory;

use crate::federation::{app_client, by_name, drive, peers, repo, report};
use crate::saml::key_pair;
use crate::support::{Scratch, Server, free_port, usher};

const IDP_ENTITY: &str = "https://idp.corp.example/saml";

/// samlify's IdP server, killed when dropped.
struct SamlIdp(Child);

impl Drop for SamlIdp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_idp(peers: &Path, port: u16, dir: &Scratch, accounts: &Path, usher_base: &str) -> SamlIdp {
    let (cert, key) = key_pair(dir, "idp.corp.example", "idp");
    let read = |p: &PathBuf| std::fs::read_to_string(p).expect("reads the key pair");
    let cfg = json!({
        "peers": peers,
        "port": port,
        "entity_id": IDP_ENTITY,
        "key_pem": read(&key),
        "cert_pem": read(&cert),
        "accounts": accounts,
        "usher": usher_base,
    });
    let mut child = Command::new("node")
        .arg(repo().join("crates/usher/tests/peers/upstream_saml_idp.mjs"))
        .arg(cfg.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("reads");
    assert!(line.starts_with("READY "), "samlify did not start: {line}");
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    SamlIdp(child)
}

fn accounts() -> String {
    json!({
        "alice": {
            "name_id": "a1f3-persistent-7c",
            "email": "alice@example.com",
            "uid": "Alice",
            "display_name": "Alice Liddell",
            "groups": ["eng", "unmapped"],
        },
        "bob": {
            "name_id": "b0b2-persistent-9d",
            "email": "bob@elsewhere.example",
            "uid": "bob",
            "display_name": "Bob",
            "groups": [],
        },
    })
    .to_string()
}

fn config(idp: &str, metadata_file: &Path, cert_file: &Path) -> String {
    app_client()
        + &format!(
            r#"
[[upstreams]]
id = "corp-saml"
kind = "saml"
display_name = "Corp SAML"
domains = ["example.com"]
[upstreams.saml]
metadata_url = "{idp}/metadata"
authoritative_email_domains = ["example.com"]
[upstreams.jit]
allowed_email_domains = ["example.com"]
default_groups = ["staff"]
group_map = {{ "eng" = "engineering" }}
[upstreams.jit.mapping]
username = "{{uid|first|lower}}"
display_name = "{{displayName|first}}"
given_name = "{{displayName|first|replace(\" .*$\", \"\")}}"

[[upstreams]]
id = "corp-saml-off"
kind = "saml"
display_name = "Old corp SAML"
enabled = false
[upstreams.saml]
metadata_file = "{}"
certificate_files = ["{}"]
"#,
            metadata_file.display(),
            cert_file.display()
        )
}

/// The login page an app's authorization request parks on.
async fn login_page(base: &str) -> String {
    let url = format!(
        "{base}/oidc/authorize?response_type=code&client_id=app&redirect_uri={}&scope=openid\
         &state=s1&nonce=n1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
         &code_challenge_method=S256",
        "https%3A%2F%2Fapp.example%2Fcb"
    );
    let res = reqwest::get(url).await.expect("answers");
    assert_eq!(res.status(), 200, "{:?}", res.url());
    res.text().await.expect("body")
}

#[tokio::test]
async fn samlify_upstream_openid_client_downstream_jit_end_to_end() {
    let Some(peers) = peers(&["openid-client", "samlify", "@authenio/samlify-node-xmllint"]) else {
        return;
    };
    let dir = Scratch::new();
    let (usher_port, idp_port) = (free_port(), free_port());
    let base = format!("http://127.0.0.1:{usher_port}");
    let idp_url = format!("http://127.0.0.1:{idp_port}");
    let accounts_file = dir.write("accounts.json", &accounts());
    let _idp = start_idp(&peers, idp_port, &dir, &accounts_file, &base);
    // The disabled upstream reads the same IdP's metadata from a file.
    let metadata = reqwest::get(format!("{idp_url}/metadata"))
        .await
        .expect("IdP metadata")
        .text()
        .await
        .expect("body");
    let metadata_file = dir.write("idp-metadata.xml", &metadata);
    let config_file = dir.write(
        "usher.toml",
        &config(&idp_url, &metadata_file, &dir.0.join("idp.crt")),
    );
    let mut cmd = usher(&dir.0);
    cmd.arg("--config").arg(&config_file);
    let mut server = Server::spawn_on(cmd, usher_port);
    server.wait_ready().await;

    // usher's SP metadata for the upstream, and the button on the login page.
    let sp_metadata = reqwest::get(format!("{base}/federation/corp-saml/saml/metadata"))
        .await
        .expect("answers");
    assert_eq!(sp_metadata.status(), 200);
    let page = login_page(&base).await;
    assert!(
        page.contains("/federation/corp-saml/saml/start?t="),
        "the login page links the SAML upstream: {page}"
    );
    assert!(!page.contains("Old corp SAML"), "{page}");

    let results = drive(
        &peers,
        &base,
        json!([
            { "name": "first", "login": "alice", "idp_hint": "corp-saml" },
            { "name": "again-by-home-realm", "login": "alice", "login_hint": "alice@example.com" },
            { "name": "other-domain", "login": "bob", "idp_hint": "corp-saml" },
            { "name": "disabled", "login": "alice", "idp_hint": "corp-saml-off" },
        ]),
    )
    .await;

    // First login: created from the SAML assertion, attributes and groups mapped,
    // and the app (OIDC) sees them.
    let first = by_name(&results, "first");
    assert_eq!(first["ok"], true, "{first}");
    assert_eq!(first["claims"]["email"], "alice@example.com", "{first}");
    assert_eq!(first["userinfo"]["preferred_username"], "alice", "{first}");
    assert_eq!(first["userinfo"]["name"], "Alice Liddell", "{first}");
    assert_eq!(first["userinfo"]["given_name"], "Alice", "{first}");
    assert_eq!(
        first["userinfo"]["groups"],
        json!(["engineering", "staff"]),
        "unmapped upstream groups are dropped: {first}"
    );
    // Second login, found by home-realm discovery: the same user, by its link.
    let again = by_name(&results, "again-by-home-realm");
    assert_eq!(again["ok"], true, "{again}");
    assert_eq!(again["claims"]["sub"], first["claims"]["sub"], "{again}");
    // Email-domain denial: a page in words, nothing created.
    let other = by_name(&results, "other-domain");
    assert_eq!(other["status"], 403, "{other}");
    assert!(
        other["page"]
            .as_str()
            .is_some_and(|p| p.contains("elsewhere.example")),
        "{other}"
    );
    // A disabled upstream is not offered, and refuses a direct start.
    let disabled = by_name(&results, "disabled");
    assert_eq!(disabled["ok"], false, "{disabled}");
    assert_eq!(disabled["path"], "/login", "{disabled}");
    let direct = reqwest::get(format!("{base}/federation/corp-saml-off/saml/start"))
        .await
        .expect("answers");
    assert_eq!(direct.status(), 403);

    let (ok, log) = server.terminate();
    assert!(ok, "{log}");

    let db = usher_store::Database::connect(&format!(
        "sqlite://{}?mode=rw",
        dir.0.join("data/usher.db").display()
    ))
    .await
    .expect("opens the database");
    let store = db.store();
    assert!(
        store
            .find_user_by_username("bob")
            .await
            .expect("query")
            .is_none(),
        "a denied sign-in creates no user"
    );
    let rows = report(&dir.0, &config_file, &["--upstream", "corp-saml"]);
    let outcomes: Vec<&str> = rows.iter().filter_map(|r| r["result"].as_str()).collect();
    assert_eq!(outcomes, ["created", "signed_in", "denied"], "{rows:?}");
    assert!(
        rows[2]["message"]
            .as_str()
            .is_some_and(|r| r.starts_with("email_domain")),
        "{rows:?}"
    );
}

/// usher with one SAML upstream that also accepts IdP-initiated sign-ins, in
/// front of samlify; returns what keeps them running.
async fn csrf_setup(peers: &Path, dir: &Scratch) -> (Server, SamlIdp, String, String) {
    let (usher_port, idp_port) = (free_port(), free_port());
    let base = format!("http://127.0.0.1:{usher_port}");
    let idp_url = format!("http://127.0.0.1:{idp_port}");
    let accounts_file = dir.write("accounts.json", &accounts());
    let idp = start_idp(peers, idp_port, dir, &accounts_file, &base);
    let config = app_client()
        + &format!(
            r#"
[[upstreams]]
id = "corp-saml"
kind = "saml"
display_name = "Corp SAML"
[upstreams.saml]
metadata_url = "{idp_url}/metadata"
allow_idp_initiated = true
[upstreams.jit.mapping]
username = "{{uid|first|lower}}"
"#
        );
    let config_file = dir.write("usher.toml", &config);
    let mut cmd = usher(&dir.0);
    cmd.arg("--config").arg(&config_file);
    let mut server = Server::spawn_on(cmd, usher_port);
    server.wait_ready().await;
    (server, idp, base, idp_url)
}

/// Login CSRF through the hand-off (issue 10, item 1), a SAML upstream,
/// SP-initiated: the attacker signs in at the IdP, posts to the ACS, and stops
/// before `/login/federated?t=ID`; the victim's browser opening that URL is
/// refused and nobody is signed in; the hand-off still works in the browser
/// that posted the assertion.
#[tokio::test]
async fn saml_sp_initiated_login_csrf_handoff_url_opened_in_another_browser_is_refused() {
    let Some(peers) = peers(&["openid-client", "samlify", "@authenio/samlify-node-xmllint"]) else {
        return;
    };
    let dir = Scratch::new();
    let (server, _idp, base, _) = csrf_setup(&peers, &dir).await;
    let results = drive(
        &peers,
        &base,
        json!([
            { "name": "attacker", "login": "alice", "idp_hint": "corp-saml", "stop_at_handoff": true },
            { "name": "victim", "open_handoff_of": "attacker" },
            { "name": "attacker-resumes", "resume": "attacker" },
        ]),
    )
    .await;
    let attacker = by_name(&results, "attacker");
    assert!(
        attacker["handoff"]
            .as_str()
            .is_some_and(|u| u.contains("/login/federated?t=")),
        "{attacker}"
    );
    let victim = by_name(&results, "victim");
    assert_eq!(victim["ok"], false, "{victim}");
    assert_eq!(victim["status"], 403, "{victim}");
    assert_eq!(victim["session"], false, "{victim}");
    assert!(
        victim["page"]
            .as_str()
            .is_some_and(|p| p.contains("another browser")),
        "{victim}"
    );
    // Not burnt by the refusal: the browser that posted the assertion finishes
    // at the app.
    let resumed = by_name(&results, "attacker-resumes");
    assert_eq!(resumed["ok"], true, "{resumed}");
    assert_eq!(
        resumed["userinfo"]["preferred_username"], "alice",
        "{resumed}"
    );
    let (ok, log) = server.terminate();
    assert!(ok, "{log}");
    assert!(
        log.contains("another browser"),
        "the refusal is logged: {log}"
    );
}

/// The same through an IdP-initiated sign-in: anyone can post an unsolicited
/// assertion to the ACS (docs/federation.md), but the `/login/federated` URL it
/// yields signs in only the browser that posted it.
#[tokio::test]
async fn saml_idp_initiated_login_csrf_handoff_url_opened_in_another_browser_is_refused() {
    let Some(peers) = peers(&["openid-client", "samlify", "@authenio/samlify-node-xmllint"]) else {
        return;
    };
    let dir = Scratch::new();
    let (server, _idp, base, idp_url) = csrf_setup(&peers, &dir).await;
    let initiate = format!("{idp_url}/initiate?login=alice&upstream=corp-saml");
    let results = drive(
        &peers,
        &base,
        json!([
            { "name": "attacker", "start": initiate, "stop_at_handoff": true },
            { "name": "victim", "open_handoff_of": "attacker" },
            { "name": "attacker-resumes", "resume": "attacker" },
        ]),
    )
    .await;
    let attacker = by_name(&results, "attacker");
    assert!(
        attacker["handoff"]
            .as_str()
            .is_some_and(|u| u.contains("/login/federated?t=")),
        "{attacker}"
    );
    let victim = by_name(&results, "victim");
    assert_eq!(victim["status"], 403, "{victim}");
    assert_eq!(victim["session"], false, "{victim}");
    assert!(
        victim["page"]
            .as_str()
            .is_some_and(|p| p.contains("another browser")),
        "{victim}"
    );
    // The posting browser lands signed in on usher's home page.
    let resumed = by_name(&results, "attacker-resumes");
    assert_eq!(resumed["session"], true, "{resumed}");
    assert_eq!(resumed["path"], "/", "{resumed}");
    let (ok, log) = server.terminate();
    assert!(ok, "{log}");
}
