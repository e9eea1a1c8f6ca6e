//! The real `usher serve`, configured by file with `[[users]]` and
//! `[[oidc.clients]]`, driven by an independent OpenID relying party (openid-client,
//! npm) through discovery, the sign-in form, code + PKCE, id_token validation,
//! userinfo, refresh, revocation and logout. This is what an admin's config file
//! and an app's OIDC library meet in production.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Scratch, Server, run, stderr, stdout, usher};

const SECRET: &str = "wiki-secret-0123456789abcdefghijklmnop";
const PASSWORD: &str = "alice-password-0123";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The installed openid-client, or `None` after saying why (a failure on CI).
fn peers() -> Option<PathBuf> {
    let dir = repo()
        .join(std::env::var("USHER_PEERS_DIR").unwrap_or_else(|_| "target-peers".into()))
        .join("node");
    let node = std::process::Command::new("node").arg("--version").output();
    let ready = node.is_ok_and(|o| o.status.success())
        && dir
            .join("node_modules/openid-client/package.json")
            .is_file();
    if ready {
        return Some(dir);
    }
    assert!(
        std::env::var("USHER_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "the interop peers are missing but USHER_TEST_REQUIRE_SERVICES=1: run scripts/peers.sh"
    );
    eprintln!("SKIPPED: interop (run scripts/peers.sh)");
    None
}

const CONFIG: &str = r#"
[passwords]
memory_kib = 1024
iterations = 1

[[users]]
username = "alice"
email = "alice@example.com"
display_name = "Alice Example"
password = "alice-password-0123"
groups = ["engineering"]

[[oidc.clients]]
client_id = "wiki"
name = "Team wiki"
client_secret = "wiki-secret-0123456789abcdefghijklmnop"
redirect_uris = ["https://wiki.example/cb"]
post_logout_redirect_uris = ["https://wiki.example/bye"]
first_party = true

[[oidc.clients]]
client_id = "spa"
name = "Single-page app"
redirect_uris = ["http://127.0.0.1:9/spa/cb"]
post_logout_redirect_uris = ["http://127.0.0.1:9/spa/bye"]
id_token_signed_response_alg = "ES256"
"#;

#[tokio::test]
async fn openid_client_signs_in_through_a_configured_usher() {
    let Some(peers) = peers() else { return };
    let dir = Scratch::new();
    let config = dir.write("usher.toml", CONFIG);
    let mut cmd = usher(&dir.0);
    cmd.arg("--config").arg(&config);
    let mut server = Server::start(cmd).await;
    server.wait_ready().await;

    let rp = json!({
        "base": server.base,
        "peers": peers,
        "username": "alice",
        "password": PASSWORD,
        "clients": [
            {
                "name": "confidential",
                "client_id": "wiki",
                "client_secret": SECRET,
                "redirect_uri": "https://wiki.example/cb",
                "post_logout_redirect_uri": "https://wiki.example/bye",
            },
            {
                "name": "public",
                "client_id": "spa",
                "redirect_uri": "http://127.0.0.1:9/spa/cb",
                "post_logout_redirect_uri": "http://127.0.0.1:9/spa/bye",
            },
        ],
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
    let results: Value = serde_json::from_str(line).expect("RESULT is JSON");
    let results = results.as_array().expect("one result per client");
    assert_eq!(results.len(), 2);
    for r in results {
        let name = r["client"].as_str().unwrap_or_default();
        assert_eq!(r["issuer"], server.base.as_str(), "{name}");
        assert_eq!(r["callback_has_iss"], true, "{name}");
        assert_eq!(r["id_token"]["nonce_ok"], true, "{name}");
        assert_eq!(r["userinfo"]["email"], "alice@example.com", "{name}");
        assert_eq!(r["refresh_after_revocation"], "invalid_grant", "{name}");
        assert_eq!(r["after_logout_error"], "login_required", "{name}");
    }
    let (ok, log) = server.terminate();
    assert!(ok, "{log}");
    assert!(
        log.contains("created local account from configuration"),
        "{log}"
    );
}

#[test]
fn users_are_created_and_given_passwords_from_the_command_line() {
    use std::io::Write;
    let dir = Scratch::new();
    let mut child = usher(&dir.0)
        .args([
            "users",
            "create",
            "--username",
            "bob",
            "--email",
            "bob@example.com",
            "--password-stdin",
        ])
        .env("USHER_PASSWORDS__MEMORY_KIB", "1024")
        .env("USHER_PASSWORDS__ITERATIONS", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("usher runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"bob-password-0123\n")
        .expect("writes");
    let out = child.wait_with_output().expect("finishes");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("created user bob"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("bob-password"), "{}", stdout(&out));

    // The same username again is a clear conflict, not a crash.
    let out = run(usher(&dir.0).args(["users", "create", "--username", "BOB"]));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("username is already taken"),
        "{}",
        stderr(&out)
    );

    let out = run(usher(&dir.0).args(["users", "set-password", "nobody"]));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no user named"), "{}", stderr(&out));
}

/// RFC 9700 §2.1: an app registered with `http://` on a remote host would receive
/// its authorization codes in clear text. `usher serve` refuses to start with such
/// a client (before, it served `/oidc/authorize` for it); a client marked
/// `development = true` starts, with a warning.
#[tokio::test]
async fn authorization_code_to_plain_http_redirect_uri_on_remote_host_is_refused() {
    let dir = Scratch::new();
    let client = "[[oidc.clients]]\nclient_id = \"wiki\"\n\
                  client_secret = \"wiki-secret-0123456789abcdefghijklmnop\"\n\
                  redirect_uris = [\"http://wiki.example.com/cb\"]\n";
    let config = dir.write("usher.toml", client);
    let mut cmd = usher(&dir.0);
    cmd.arg("--config").arg(&config);
    let server = Server::spawn(cmd);
    let authorize = "/oidc/authorize?response_type=code&client_id=wiki&scope=openid\
                     &redirect_uri=http%3A%2F%2Fwiki.example.com%2Fcb&state=s";
    let refused_url = server.url(authorize);
    let (ok, log) = server.wait_exit(Duration::from_secs(30));
    assert!(!ok, "usher served a plain-http remote redirect URI");
    assert!(
        log.contains("oidc.clients[0].redirect_uris[0]") && log.contains("use https"),
        "{log}"
    );
    assert!(
        reqwest::get(&refused_url).await.is_err(),
        "nothing may answer for that client"
    );

    let config = dir.write("usher.toml", &format!("{client}development = true\n"));
    let mut cmd = usher(&dir.0);
    cmd.arg("--config").arg(&config);
    let mut server = Server::start(cmd).await;
    server.wait_ready().await;
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(server.url(authorize))
        .send()
        .await
        .expect("authorize answers");
    assert!(
        res.status().is_redirection() || res.status().is_success(),
        "{}",
        res.status()
    );
    let (ok, log) = server.terminate();
    assert!(ok, "{log}");
    assert!(
        log.contains("development = true") && log.contains("wiki"),
        "{log}"
    );
}
