//! `[[apps]]`: the real `usher` binary with applications in its config file.
//! Mistakes are refused naming the key (by `check-config` where the file alone
//! tells, at start where only the database does); the apps are synced into the
//! database with stable ids; and the assignment is enforced at sign-in, driven by
//! independent peers (openid-client for OIDC, python3-saml for SAML): an assigned
//! user signs in, an unassigned one gets usher's 403 page and no code or
//! assertion, joining the group grants access, and a client no app names stays
//! open.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;
use usher_core::ports::{Applications, AuditLog};
use usher_core::{ApplicationId, NOT_ASSIGNED_ACTION};

use crate::saml::{python, run_sp, sp_key_pair};
use crate::support::{Scratch, Server, run, stderr, stdout, usher};

fn check(dir: &Scratch, toml: &str) -> std::process::Output {
    let file = dir.write("usher.toml", toml);
    run(usher(&dir.0).arg("--config").arg(file).arg("check-config"))
}

/// `check-config` refuses `toml`, naming `key` and saying `what`.
fn refused(dir: &Scratch, toml: &str, key: &str, what: &str) {
    let out = check(dir, toml);
    assert!(!out.status.success(), "accepted:\n{toml}");
    let err = stderr(&out);
    assert!(err.contains(&format!("`{key}`")), "{key} not named:\n{err}");
    assert!(err.contains(what), "{what:?} not said:\n{err}");
}

const CLIENTS: &str = r#"
[[oidc.clients]]
client_id = "wiki"
client_secret = "wiki-secret-0123456789abcdefghijklmnop"
redirect_uris = ["https://wiki.example/cb"]

[[saml.service_providers]]
entity_id = "https://slack.example/sp"
acs_urls = ["https://slack.example/acs"]
"#;

#[test]
fn an_app_naming_an_unknown_client_or_sp_is_refused_naming_the_key() {
    let dir = Scratch::new();
    refused(
        &dir,
        "[[apps]]\nname = \"wiki\"\noidc_client = \"wiki\"\n",
        "apps[0].oidc_client",
        "no [[oidc.clients]] has client_id \"wiki\"",
    );
    refused(
        &dir,
        &format!(
            "{CLIENTS}\n[[apps]]\nname = \"wiki\"\noidc_client = \"wiki\"\n\n[[apps]]\nname = \"slack\"\nsaml_sp = \"https://slack.example/other\"\n"
        ),
        "apps[1].saml_sp",
        "no [[saml.service_providers]] has entity_id \"https://slack.example/other\"",
    );
    refused(
        &dir,
        &format!(
            "{CLIENTS}\n[[apps]]\nname = \"both\"\noidc_client = \"wiki\"\nsaml_sp = \"https://slack.example/sp\"\n"
        ),
        "apps[0].saml_sp",
        "not both",
    );
    refused(
        &dir,
        &format!(
            "{CLIENTS}\n[[apps]]\nname = \"wiki\"\noidc_client = \"wiki\"\n\n[[apps]]\nname = \"wiki2\"\noidc_client = \"wiki\"\n"
        ),
        "apps[1].oidc_client",
        "another app",
    );
    refused(
        &dir,
        "[[apps]]\nname = \"Team Wiki\"\n",
        "apps[0]",
        "application name",
    );
    refused(
        &dir,
        "[[apps]]\nname = \"wiki\"\nassign = { everybody = true }\n",
        "apps.0.assign.everybody",
        "unknown field",
    );
    let out = check(
        &dir,
        &format!(
            "{CLIENTS}\n[[apps]]\nname = \"slack\"\ndisplay_name = \"Slack\"\nsaml_sp = \"https://slack.example/sp\"\nassign = {{ groups = [\"staff\"] }}\n"
        ),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(printed["apps"][0]["saml_sp"], "https://slack.example/sp");
}

const SCIM_TOKEN: &str = "scim-token-that-must-never-be-printed-0123";

fn scim_app(settings: &str) -> String {
    format!(
        "[[apps]]\nname = \"directory\"\n\n[apps.provisioning]\nconnector = \"scim\"\n\n\
         [apps.provisioning.settings]\n{settings}\n"
    )
}

#[test]
fn bad_connector_settings_are_refused_naming_the_key() {
    let dir = Scratch::new();
    let auth = format!("auth = {{ type = \"bearer\", token = \"{SCIM_TOKEN}\" }}");
    refused(
        &dir,
        &scim_app(&format!(
            "base_url = \"http://scim.example.com/v2\"\n{auth}"
        )),
        "apps[0].provisioning.settings.base_url",
        "https",
    );
    refused(
        &dir,
        &scim_app("base_url = \"https://scim.example.com/v2\""),
        "apps[0].provisioning.settings.auth",
        "missing field `auth`",
    );
    refused(
        &dir,
        &scim_app(&format!(
            "base_url = \"https://scim.example.com/v2\"\n{auth}\ntimeout_secs = 0"
        )),
        "apps[0].provisioning.settings.timeout_secs",
        "1 to 300",
    );
    refused(
        &dir,
        &scim_app(
            "base_url = \"https://scim.example.com/v2\"\nauth = { type = \"bearer\", token = { secret_file = \"missing-token\" } }",
        ),
        "apps[0].provisioning.settings.auth.token.secret_file",
        "cannot read secret file",
    );
    refused(
        &dir,
        "[[apps]]\nname = \"x\"\n\n[apps.provisioning]\nconnector = \"slack\"\n",
        "apps[0].provisioning.connector",
        "known connectors: scim",
    );
    refused(
        &dir,
        "[[apps]]\nname = \"x\"\n\n[apps.provisioning]\nconnector = \"scim\"\nmod = \"push\"\n",
        "apps[0].provisioning",
        "mod",
    );
    refused(
        &dir,
        &format!(
            "[[apps]]\nname = \"x\"\n\n[apps.provisioning]\nconnector = \"scim\"\nmax_attempts = 0\n\
             [apps.provisioning.settings]\nbase_url = \"https://scim.example.com/v2\"\n{auth}\n"
        ),
        "apps[0].provisioning.max_attempts",
        "1 to 10000",
    );

    // Good settings, the token inline and from a file: accepted, never printed.
    let token_file = dir.write("scim.token", &format!("{SCIM_TOKEN}\n"));
    for settings in [
        format!("base_url = \"https://scim.example.com/v2\"\n{auth}"),
        format!(
            "base_url = \"https://scim.example.com/v2\"\nauth = {{ type = \"bearer\", token = {{ secret_file = {:?} }} }}",
            token_file.display().to_string()
        ),
    ] {
        let out = check(&dir, &scim_app(&settings));
        assert!(out.status.success(), "{}", stderr(&out));
        let shown = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!shown.contains(SCIM_TOKEN), "{shown}");
        let printed: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
        assert_eq!(printed["apps"][0]["provisioning"]["connector"], "scim");
        assert_eq!(
            printed["apps"][0]["provisioning"]["settings"]["auth"]["type"],
            "[redacted]"
        );
    }
    // A token of the wrong type is refused without echoing what was typed.
    let out = check(
        &dir,
        &scim_app(
            "base_url = \"https://scim.example.com/v2\"\nauth = { type = \"bearer\", token = 123456789 }",
        ),
    );
    assert!(!out.status.success());
    assert!(!stderr(&out).contains("123456789"), "{}", stderr(&out));
}

const PASSWORDS: &str = "[passwords]\nmemory_kib = 1024\niterations = 1\n";

#[tokio::test]
async fn an_unknown_group_or_user_in_an_assignment_stops_the_start() {
    for (assign, key, name) in [
        (
            "groups = [\"staf\"]",
            "apps[0].assign.groups[0]",
            "\"staf\"",
        ),
        (
            "groups = [\"staff\"], users = [\"ada\", \"grce\"]",
            "apps[0].assign.users[1]",
            "\"grce\"",
        ),
    ] {
        let dir = Scratch::new();
        let config = dir.write(
            "usher.toml",
            &format!(
                "{PASSWORDS}{CLIENTS}\n[[users]]\nusername = \"ada\"\ngroups = [\"staff\"]\n\n\
                 [[apps]]\nname = \"wiki\"\noidc_client = \"wiki\"\nassign = {{ {assign} }}\n"
            ),
        );
        let mut cmd = usher(&dir.0);
        cmd.arg("--config").arg(&config);
        let (ok, log) = Server::spawn(cmd).wait_exit(Duration::from_secs(30));
        assert!(!ok, "started with {assign}");
        assert!(log.contains(key) && log.contains(name), "{log}");
    }
}

async fn store(dir: &Scratch) -> usher_store::SqlStore {
    usher_store::Database::connect(&format!(
        "sqlite://{}?mode=rw",
        dir.0.join("data/usher.db").display()
    ))
    .await
    .expect("opens the database")
    .store()
}

async fn app_ids(dir: &Scratch) -> Vec<(String, ApplicationId)> {
    store(dir)
        .await
        .list_applications()
        .await
        .expect("applications")
        .into_iter()
        .map(|a| (a.spec.name().to_owned(), a.id))
        .collect()
}

async fn start(dir: &Scratch, toml: &str) -> Server {
    let config = dir.write("usher.toml", toml);
    let mut cmd = usher(&dir.0);
    cmd.arg("--config").arg(&config);
    let mut server = Server::start(cmd).await;
    server.wait_ready().await;
    server
}

fn stop(server: Server) {
    let (ok, log) = server.terminate();
    assert!(ok, "{log}");
}

const USERS: &str = r#"
[[users]]
username = "ada"
email = "ada@example.com"
password = "ada-password-0123"

[[users]]
username = "grace"
email = "grace@example.com"
password = "grace-password-0123"
groups = ["staff"]
"#;

#[tokio::test]
async fn the_same_file_twice_keeps_app_ids_and_a_removed_app_is_removed() {
    let dir = Scratch::new();
    let two = format!(
        "{PASSWORDS}{CLIENTS}{USERS}\n[[apps]]\nname = \"wiki\"\noidc_client = \"wiki\"\n\
         assign = {{ groups = [\"staff\"] }}\n\n[[apps]]\nname = \"slack\"\n\
         saml_sp = \"https://slack.example/sp\"\nassign = {{ users = [\"ada\"] }}\n"
    );
    stop(start(&dir, &two).await);
    let first = app_ids(&dir).await;
    assert_eq!(first.len(), 2, "{first:?}");
    stop(start(&dir, &two).await);
    assert_eq!(app_ids(&dir).await, first, "ids changed across restarts");

    // An edit keeps the id; an app no longer in the file goes.
    let one = format!(
        "{PASSWORDS}{CLIENTS}{USERS}\n[[apps]]\nname = \"wiki\"\ndisplay_name = \"Team wiki\"\n\
         oidc_client = \"wiki\"\nassign = {{ everyone = true }}\n"
    );
    stop(start(&dir, &one).await);
    let after = app_ids(&dir).await;
    let wiki = first.iter().find(|(n, _)| n == "wiki").expect("wiki");
    assert_eq!(after, vec![wiki.clone()]);
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The installed openid-client, or `None` after saying why (a failure on CI).
fn node_peers() -> Option<PathBuf> {
    let dir = repo()
        .join(std::env::var("USHER_PEERS_DIR").unwrap_or_else(|_| "target-peers".into()))
        .join("node");
    if dir
        .join("node_modules/openid-client/package.json")
        .is_file()
    {
        return Some(dir);
    }
    assert!(
        std::env::var("USHER_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "the interop peers are missing but USHER_TEST_REQUIRE_SERVICES=1: run scripts/peers.sh"
    );
    eprintln!("SKIPPED: apps OIDC interop (run scripts/peers.sh)");
    None
}

const OIDC_SECRET: &str = "wiki-secret-0123456789abcdefghijklmnop";

fn oidc_config(ada_groups: &str) -> String {
    format!(
        r#"{PASSWORDS}
[[users]]
username = "ada"
email = "ada@example.com"
password = "ada-password-0123"
groups = {ada_groups}

[[users]]
username = "grace"
email = "grace@example.com"
password = "grace-password-0123"
groups = ["staff"]

[[oidc.clients]]
client_id = "wiki"
client_secret = "{OIDC_SECRET}"
redirect_uris = ["https://wiki.example/cb"]
first_party = true

[[oidc.clients]]
client_id = "open"
client_secret = "{OIDC_SECRET}"
redirect_uris = ["https://open.example/cb"]
first_party = true

[[apps]]
name = "wiki"
display_name = "Team Wiki"
oidc_client = "wiki"
assign = {{ groups = ["staff"] }}
"#
    )
}

/// Runs openid-client once per entry of `clients` against `server`.
async fn relying_party(server: &Server, peers: &PathBuf, clients: Value) -> Vec<Value> {
    let rp = json!({
        "base": server.base,
        "peers": peers,
        "username": "ada",
        "password": "ada-password-0123",
        "clients": clients,
    });
    let script = repo().join("crates/usher-oidc/tests/interop/rp.mjs");
    let run = tokio::process::Command::new("node")
        .arg(&script)
        .arg(rp.to_string())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the relying party finishes within 2 minutes")
        .expect("node runs");
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "openid-client failed:\n{err}\n{out}"
    );
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("RESULT line");
    serde_json::from_str::<Value>(line)
        .expect("RESULT is JSON")
        .as_array()
        .expect("one result per client")
        .clone()
}

fn wiki(username: &str, expect_denied: bool) -> Value {
    json!({
        "name": format!("{username}@wiki"),
        "client_id": "wiki",
        "client_secret": OIDC_SECRET,
        "redirect_uri": "https://wiki.example/cb",
        "username": username,
        "password": format!("{username}-password-0123"),
        "sign_in_only": true,
        "expect_denied": expect_denied,
    })
}

fn assert_signed_in(result: &Value, username: &str) {
    assert!(result["id_token"]["sub"].is_string(), "{result:#}");
    assert_eq!(
        result["userinfo"]["email"],
        format!("{username}@example.com"),
        "{result:#}"
    );
}

/// The page, never a redirect to the client (which the user cannot act on): 403,
/// naming the app, saying whom to ask.
fn assert_refused(result: &Value, app: &str) {
    let denied = &result["denied"];
    assert_eq!(denied["status"], 403, "{result:#}");
    assert_eq!(
        denied["title"],
        format!("You are not assigned to {app}"),
        "{result:#}"
    );
    let text = denied["text"].as_str().unwrap_or_default();
    assert!(
        text.contains(&format!(
            "Ask your administrator to give you access to {app}."
        )),
        "{text}"
    );
}

async fn denials(dir: &Scratch) -> Vec<usher_core::AuditEntry> {
    let now = OffsetDateTime::now_utc();
    store(dir)
        .await
        .between(
            now - time::Duration::hours(1),
            now + time::Duration::hours(1),
            1000,
        )
        .await
        .expect("audit log")
        .into_iter()
        .filter(|e| e.action == NOT_ASSIGNED_ACTION)
        .collect()
}

#[tokio::test]
async fn unassigned_user_gets_no_code_for_assigned_app() {
    let Some(peers) = node_peers() else { return };
    let dir = Scratch::new();
    let server = start(&dir, &oidc_config("[]")).await;
    let open = json!({
        "name": "ada@open",
        "client_id": "open",
        "client_secret": OIDC_SECRET,
        "redirect_uri": "https://open.example/cb",
        "sign_in_only": true,
    });
    let results = relying_party(
        &server,
        &peers,
        json!([wiki("grace", false), wiki("ada", true), open]),
    )
    .await;
    assert_signed_in(&results[0], "grace");
    assert_refused(&results[1], "Team Wiki");
    // A client no app names stays open to everyone.
    assert_signed_in(&results[2], "ada");

    let log = denials(&dir).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].details["app"], "Team Wiki");
    assert_eq!(log[0].details["sign_in"], "wiki");
    assert_eq!(log[0].details["username"], "ada");
    stop(server);

    // Joining the group grants access, with the same app.
    let ids = app_ids(&dir).await;
    let server = start(&dir, &oidc_config("[\"staff\"]")).await;
    let results = relying_party(&server, &peers, json!([wiki("ada", false)])).await;
    assert_signed_in(&results[0], "ada");
    assert_eq!(app_ids(&dir).await, ids);
    stop(server);

    // A disabled app admits nobody, assigned or not: "off" must not mean "open".
    let disabled = oidc_config("[\"staff\"]").replace(
        "display_name = \"Team Wiki\"\n",
        "display_name = \"Team Wiki\"\nenabled = false\n",
    );
    let server = start(&dir, &disabled).await;
    let results = relying_party(&server, &peers, json!([wiki("grace", true)])).await;
    assert_refused(&results[0], "Team Wiki");
    stop(server);
}

const SP: &str = "https://sp.example.test/metadata";
const ACS: &str = "http://127.0.0.1:9/acs";

fn saml_config() -> String {
    format!(
        r#"{PASSWORDS}{USERS}
[[saml.service_providers]]
entity_id = "{SP}"
acs_urls = ["{ACS}"]
certificate_file = "sp.crt"
sign = "both"
name_id_format = "emailAddress"
attributes = {{ mail = "email" }}
allow_idp_initiated = true

[[apps]]
name = "slack"
display_name = "Slack"
saml_sp = "{SP}"
assign = {{ groups = ["staff"] }}
"#
    )
}

#[tokio::test]
async fn unassigned_user_gets_no_assertion_for_assigned_sp() {
    let Some(python) = python() else { return };
    let dir = Scratch::new();
    let (cert, key) = sp_key_pair(&dir);
    let server = start(&dir, &saml_config()).await;
    let sp = |username: &str, expect_denied: bool| {
        json!({
            "base": server.base,
            "sp_entity_id": SP,
            "acs_url": ACS,
            "sp_cert": cert,
            "sp_key": key,
            "username": username,
            "password": format!("{username}-password-0123"),
            "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            "want_signed": "both",
            "flows": [{ "binding": "redirect", "signed": true, "expect_denied": expect_denied }],
            "slo": false,
        })
    };
    let grace = run_sp(&python, &sp("grace", false)).await;
    assert_eq!(grace["name_id"], "grace@example.com", "{grace:#}");
    assert_eq!(grace["flows"][0]["valid"], true, "{grace:#}");

    let ada = run_sp(&python, &sp("ada", true)).await;
    let denied = &ada["flows"][0]["denied"];
    assert_eq!(denied["status"], 403, "{ada:#}");
    let body = denied["body"].as_str().unwrap_or_default();
    assert!(body.contains("You are not assigned to Slack"), "{body}");
    assert!(
        !ada["flows"][0]["pages"]
            .as_array()
            .expect("pages")
            .iter()
            .any(|p| p == "saml-form"),
        "{ada:#}"
    );

    // IdP-initiated sign-on is refused the same way, with ada's session.
    let cookies = ada["cookies"]
        .as_object()
        .expect("cookies")
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("; ");
    let init = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(server.url("/saml/sso/init"))
        .query(&[("sp", SP)])
        .header("cookie", cookies)
        .send()
        .await
        .expect("init answers");
    assert_eq!(init.status(), 403);
    let page = init.text().await.expect("page");
    assert!(page.contains("You are not assigned to Slack"), "{page}");
    assert!(!page.contains("SAMLResponse"), "{page}");

    let log = denials(&dir).await;
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(
        log.iter().all(|e| e.details["protocol"] == "saml"),
        "{log:?}"
    );
    stop(server);
}
