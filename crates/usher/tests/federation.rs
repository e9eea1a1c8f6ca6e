//! Federation interop (issue 5, item 8): the real `usher serve`, configured with
//! `[[upstreams]]`, between two certified third-party peers it did not write:
//! `oidc-provider` 9 (npm) as the upstream IdP, `openid-client` 6 (npm) as the
//! downstream app. The browser posts the IdP's dev login and consent forms. Covered:
//! first login creates the user with mapped attributes and groups; the second
//! reuses the link (and home-realm discovery by `login_hint` finds the upstream);
//! `force` sync removes a group; email-domain denial; network denial; a deactivated
//! user is denied; a disabled upstream is refused. The provisioning report (`usher
//! report`) shows every decision.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use usher_core::UserUpdate;
use usher_core::ports::Directory;

use crate::support::{Scratch, Server, free_port, run, stderr, stdout, usher};

pub(crate) const SECRET: &str = "fed-app-secret-0123456789abcdefghijklmn";
const UPSTREAM_SECRET: &str = "usher-at-the-idp-secret";

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The installed node peers when `packages` are all there, or `None` after saying
/// why (a failure on CI).
pub(crate) fn peers(packages: &[&str]) -> Option<PathBuf> {
    let dir = repo()
        .join(std::env::var("USHER_PEERS_DIR").unwrap_or_else(|_| "target-peers".into()))
        .join("node");
    let node = Command::new("node").arg("--version").output();
    let ready = node.is_ok_and(|o| o.status.success())
        && packages.iter().all(|p| {
            dir.join("node_modules")
                .join(p)
                .join("package.json")
                .is_file()
        });
    if ready {
        return Some(dir);
    }
    assert!(
        std::env::var("USHER_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "the interop peers {packages:?} are missing but USHER_TEST_REQUIRE_SERVICES=1: run scripts/peers.sh"
    );
    eprintln!("SKIPPED: federation interop, {packages:?} missing (run scripts/peers.sh)");
    None
}

/// oidc-provider, killed when dropped.
struct Idp(Child);

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_idp(peers: &PathBuf, port: u16, accounts: &PathBuf, usher_base: &str) -> Idp {
    let callbacks: Vec<String> = ["corp", "corp-vpn", "corp-off"]
        .iter()
        .map(|id| format!("{usher_base}/federation/{id}/oidc/callback"))
        .collect();
    let cfg = json!({
        "peers": peers,
        "port": port,
        "accounts": accounts,
        "client": {
            "client_id": "usher",
            "client_secret": UPSTREAM_SECRET,
            "redirect_uris": callbacks,
            "post_logout_redirect_uris": [format!("{usher_base}/logout/done")],
        },
    });
    let mut child = Command::new("node")
        .arg(repo().join("crates/usher/tests/peers/upstream_op.mjs"))
        .arg(cfg.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs");
    let out = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(out);
    let mut line = String::new();
    reader.read_line(&mut line).expect("reads");
    assert!(
        line.starts_with("READY "),
        "oidc-provider did not start: {line}"
    );
    // Keep reading: a closed pipe would kill the IdP at its next write.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    Idp(child)
}

fn accounts(groups: &[&str]) -> String {
    json!({
        "alice": {
            "sub": "idp-alice-7f3a",
            "preferred_username": "Alice",
            "name": "Alice Liddell",
            "email": "alice@example.com",
            "email_verified": true,
            "groups": groups,
        },
        "bob": {
            "sub": "idp-bob-1c2d",
            "preferred_username": "bob",
            "email": "bob@elsewhere.example",
            "email_verified": true,
            "groups": [],
        },
    })
    .to_string()
}

/// Runs the downstream app (openid-client, client `app` with [`SECRET`]) through
/// `runs`; returns the results by name.
pub(crate) async fn drive(peers: &PathBuf, base: &str, runs: Value) -> Vec<Value> {
    let cfg = json!({
        "peers": peers,
        "base": base,
        "client_id": "app",
        "client_secret": SECRET,
        "redirect_uri": "https://app.example/cb",
        "post_logout_redirect_uri": "https://app.example/bye",
        "runs": runs,
    });
    let output = tokio::process::Command::new("node")
        .arg(repo().join("crates/usher/tests/peers/federated_rp.mjs"))
        .arg(cfg.to_string())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), output)
        .await
        .expect("the chain finishes within 2 minutes")
        .expect("node runs");
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the downstream app failed:\n{err}\n{out}"
    );
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line:\n{err}\n{out}"));
    serde_json::from_str::<Value>(line)
        .expect("RESULT is JSON")
        .as_array()
        .cloned()
        .expect("an array")
}

/// The downstream app [`drive`] signs in as.
pub(crate) fn app_client() -> String {
    format!(
        r#"
[[oidc.clients]]
client_id = "app"
name = "Team app"
client_secret = "{SECRET}"
redirect_uris = ["https://app.example/cb"]
post_logout_redirect_uris = ["https://app.example/bye"]
first_party = true
"#
    )
}

fn config(idp: &str, sp_cert: &std::path::Path) -> String {
    app_client()
        + &format!(
            r#"
[[saml.service_providers]]
entity_id = "https://sp.example.test/metadata"
acs_urls = ["http://127.0.0.1:9/acs"]
certificate_file = "{sp_cert}"
sign = "both"
name_id_format = "emailAddress"
attributes = {{ mail = "email", displayName = "name", groups = "groups" }}
[[upstreams]]
id = "corp"
kind = "oidc"
display_name = "Corp SSO"
domains = ["example.com"]
[upstreams.oidc]
issuer = "{idp}"
client_id = "usher"
client_secret = "{UPSTREAM_SECRET}"
scopes = ["openid", "email", "profile", "groups"]
[upstreams.jit]
allowed_email_domains = ["example.com"]
sync = "force"
default_groups = ["staff"]
group_map = {{ "eng" = "engineering", "ops" = "operations" }}
[upstreams.jit.mapping]
username = "{{preferred_username|lower}}"
display_name = "{{name}}"
given_name = "{{name|replace(\" .*$\", \"\")}}"

[[upstreams]]
id = "corp-vpn"
kind = "oidc"
display_name = "Corp SSO (VPN only)"
[upstreams.oidc]
issuer = "{idp}"
client_id = "usher"
client_secret = "{UPSTREAM_SECRET}"
[upstreams.jit]
allowed_networks = ["10.0.0.0/8"]

[[upstreams]]
id = "corp-off"
kind = "oidc"
display_name = "Old corp SSO"
enabled = false
[upstreams.oidc]
issuer = "{idp}"
client_id = "usher"
client_secret = "{UPSTREAM_SECRET}"
"#,
            sp_cert = sp_cert.display()
        )
}

pub(crate) fn by_name<'a>(results: &'a [Value], name: &str) -> &'a Value {
    results
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no result {name}: {results:?}"))
}

pub(crate) fn report(dir: &std::path::Path, config: &std::path::Path, args: &[&str]) -> Vec<Value> {
    let out = run(usher(dir)
        .arg("--config")
        .arg(config)
        .arg("report")
        .arg("--json")
        .args(args));
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

#[tokio::test]
async fn oidc_provider_upstream_openid_client_downstream_jit_end_to_end() {
    let Some(peers) = peers(&["openid-client", "oidc-provider"]) else {
        return;
    };
    let dir = Scratch::new();
    let (usher_port, idp_port) = (free_port(), free_port());
    let base = format!("http://127.0.0.1:{usher_port}");
    let idp_url = format!("http://127.0.0.1:{idp_port}");
    let accounts_file = dir.write("accounts.json", &accounts(&["eng", "ops", "unmapped"]));
    let _idp = start_idp(&peers, idp_port, &accounts_file, &base);
    let (sp_cert, sp_key) = crate::saml::sp_key_pair(&dir);
    let config_file = dir.write("usher.toml", &config(&idp_url, &sp_cert));
    let mut cmd = usher(&dir.0);
    cmd.arg("--config").arg(&config_file);
    let mut server = Server::spawn_on(cmd, usher_port);
    server.wait_ready().await;

    let results = drive(
        &peers,
        &base,
        json!([
            { "name": "first", "login": "alice", "idp_hint": "corp", "export_cookies": true },
            { "name": "again-by-home-realm", "login": "alice", "login_hint": "alice@example.com" },
            { "name": "other-domain", "login": "bob", "idp_hint": "corp" },
            { "name": "outside-vpn", "login": "alice", "idp_hint": "corp-vpn" },
            { "name": "disabled", "login": "alice", "idp_hint": "corp-off" },
        ]),
    )
    .await;

    // First login: created, attributes and groups mapped, what the app sees.
    let first = by_name(&results, "first");
    assert_eq!(first["ok"], true, "{first}");
    assert_eq!(first["claims"]["email"], "alice@example.com", "{first}");
    assert_eq!(first["userinfo"]["preferred_username"], "alice", "{first}");
    assert_eq!(first["userinfo"]["name"], "Alice Liddell", "{first}");
    assert_eq!(first["userinfo"]["given_name"], "Alice", "{first}");
    assert_eq!(
        first["userinfo"]["groups"],
        json!(["engineering", "operations", "staff"]),
        "unmapped upstream groups are dropped: {first}"
    );
    // Protocol bridging, upstream OIDC -> downstream SAML: the session the
    // oidc-provider sign-in created serves python3-saml (strict mode) an assertion
    // for the JIT-created user, without signing in again.
    if let Some(python) = crate::saml::python() {
        let sp = crate::saml::run_sp(
            &python,
            &json!({
                "base": base,
                "sp_entity_id": "https://sp.example.test/metadata",
                "acs_url": "http://127.0.0.1:9/acs",
                "slo_url": "http://127.0.0.1:9/slo",
                "sp_cert": sp_cert,
                "sp_key": sp_key,
                "username": "unused",
                "password": "unused",
                "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
                "want_signed": "both",
                "flows": [{ "binding": "redirect", "signed": true, "expect_login": false }],
                "slo": false,
                "check_after_logout": false,
                "cookies": first["cookies"],
            }),
        )
        .await;
        assert_eq!(sp["name_id"], "alice@example.com", "{sp:#}");
        assert_eq!(
            sp["attributes"]["displayName"],
            json!(["Alice Liddell"]),
            "{sp:#}"
        );
        assert_eq!(
            sp["attributes"]["groups"],
            json!(["engineering", "operations", "staff"]),
            "{sp:#}"
        );
    }
    // Second login (home-realm discovery from login_hint): the same user.
    let again = by_name(&results, "again-by-home-realm");
    assert_eq!(again["ok"], true, "{again}");
    assert_eq!(again["claims"]["sub"], first["claims"]["sub"], "{again}");
    // Denials, in words.
    let other = by_name(&results, "other-domain");
    assert_eq!(other["status"], 403, "{other}");
    assert!(
        other["page"]
            .as_str()
            .is_some_and(|p| p.contains("elsewhere.example")),
        "{other}"
    );
    let vpn = by_name(&results, "outside-vpn");
    assert_eq!(vpn["status"], 403, "{vpn}");
    assert!(
        vpn["page"]
            .as_str()
            .is_some_and(|p| p.contains("approved networks")),
        "{vpn}"
    );
    // A disabled upstream is not offered: the hint falls back to the login page.
    let disabled = by_name(&results, "disabled");
    assert_eq!(disabled["ok"], false, "{disabled}");
    assert_eq!(disabled["path"], "/login", "{disabled}");
    assert!(
        !disabled["page"]
            .as_str()
            .unwrap_or_default()
            .contains("Old corp SSO"),
        "{disabled}"
    );
    let direct = reqwest::get(format!("{base}/federation/corp-off/oidc/start"))
        .await
        .expect("answers");
    assert_eq!(direct.status(), 403);

    // force sync: the IdP no longer says "ops".
    std::fs::write(&accounts_file, accounts(&["eng"])).expect("accounts");
    let results = drive(
        &peers,
        &base,
        json!([{ "name": "synced", "login": "alice", "idp_hint": "corp" }]),
    )
    .await;
    let synced = by_name(&results, "synced");
    assert_eq!(synced["ok"], true, "{synced}");
    assert_eq!(
        synced["userinfo"]["groups"],
        json!(["engineering", "staff"]),
        "{synced}"
    );

    // Deactivated in usher: no sign-in through the upstream.
    let db = usher_store::Database::connect(&format!(
        "sqlite://{}?mode=rw",
        dir.0.join("data/usher.db").display()
    ))
    .await
    .expect("opens the database");
    let store = db.store();
    let alice = store
        .find_user_by_username("alice")
        .await
        .expect("query")
        .expect("alice exists");
    store
        .update_user(
            alice.id,
            UserUpdate {
                active: Some(false),
                ..UserUpdate::default()
            },
        )
        .await
        .expect("deactivated");
    let results = drive(
        &peers,
        &base,
        json!([{ "name": "deactivated", "login": "alice", "idp_hint": "corp" }]),
    )
    .await;
    let deactivated = by_name(&results, "deactivated");
    assert_eq!(deactivated["status"], 403, "{deactivated}");
    assert!(
        deactivated["page"]
            .as_str()
            .is_some_and(|p| p.contains("deactivated")),
        "{deactivated}"
    );

    // The provisioning report, from the CLI.
    let rows = report(&dir.0, &config_file, &["--user", "alice"]);
    let decisions: Vec<(&str, &str)> = rows
        .iter()
        .filter_map(|r| Some((r["source"].as_str()?, r["result"].as_str()?)))
        .collect();
    // The VPN-only upstream's denial names alice too: its identity carried her
    // address, and a report by user shows attempts at her account.
    assert_eq!(
        decisions,
        [
            ("corp", "created"),
            ("corp", "signed_in"),
            ("corp-vpn", "denied"),
            ("corp", "updated"),
            ("corp", "denied"),
        ],
        "{rows:?}"
    );
    assert_eq!(rows[3]["message"], "groups -operations", "{rows:?}");
    let vpn_rows = report(&dir.0, &config_file, &["--upstream", "corp-vpn"]);
    assert_eq!(vpn_rows.len(), 1, "{vpn_rows:?}");
    assert!(
        vpn_rows[0]["message"]
            .as_str()
            .is_some_and(|r| r.starts_with("network")),
        "{vpn_rows:?}"
    );
    let none = report(&dir.0, &config_file, &["--since", "2999-01-01"]);
    assert!(none.is_empty());

    let (ok, log) = server.terminate();
    assert!(ok, "{log}");
}
