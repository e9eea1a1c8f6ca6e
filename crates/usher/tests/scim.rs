//! SCIM against the real `usher serve`: the independent compliance checker
//! `scim2-tester` (run as `scim2 ... test` from scim2-cli, PyPI, installed by
//! scripts/peers.sh into target-peers/scim) must report zero failed checks; tokens
//! from `usher scim-tokens create` and from `[[scim.clients]]` both work, and a
//! revoked one stops at once.

use std::path::PathBuf;

use crate::support::{Scratch, Server, run, stderr, stdout, usher};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `scim2` command of the pinned venv, or `None` after saying why (a failure
/// with USHER_TEST_REQUIRE_SERVICES=1).
fn scim2() -> Option<PathBuf> {
    let dir =
        repo().join(std::env::var("USHER_PEERS_DIR").unwrap_or_else(|_| "target-peers".into()));
    let bin = dir.join("scim/bin/scim2");
    let ready = std::process::Command::new(&bin)
        .arg("--help")
        .output()
        .is_ok_and(|o| o.status.success());
    if ready {
        return Some(bin);
    }
    assert!(
        std::env::var("USHER_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "scim2-cli is missing but USHER_TEST_REQUIRE_SERVICES=1: run scripts/peers.sh"
    );
    eprintln!("SKIPPED: SCIM compliance (run scripts/peers.sh)");
    None
}

const CONFIG_TOKEN: &str = "config-token-0123456789abcdefghijklmnopqrstuvwxyz";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim2_tester_passes_against_usher_serve() {
    let Some(scim2) = scim2() else { return };
    let dir = Scratch::new();
    let token_file = dir.write("okta.token", &format!("{CONFIG_TOKEN}\n"));
    let config = dir.write(
        "usher.toml",
        &format!(
            "[scim]\nmax_results = 100\n\n[[scim.clients]]\nname = \"okta\"\ntoken_file = {:?}\n",
            token_file.display().to_string()
        ),
    );
    let created =
        run(usher(&dir.0)
            .arg("--config")
            .arg(&config)
            .args(["scim-tokens", "create", "tester"]));
    assert!(created.status.success(), "{}", stderr(&created));
    let token = stdout(&created).trim().to_owned();
    assert!(token.len() >= 43, "a 256-bit token: {token:?}");

    let mut cmd = usher(&dir.0);
    cmd.arg("--config").arg(&config);
    let mut server = Server::start(cmd).await;
    server.wait_ready().await;
    // The checker makes hundreds of requests, each access-logged to stderr: drain
    // the pipe (keeping the tail for diagnostics) so the server never blocks on it.
    let pipe = server.child.stderr.take().expect("stderr is piped");
    let log = std::thread::spawn(move || {
        use std::io::Read as _;
        let mut tail = Vec::new();
        let mut buf = [0u8; 8192];
        let mut stderr = pipe;
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > 64 * 1024 {
                tail.drain(..tail.len() - 64 * 1024);
            }
        }
        String::from_utf8_lossy(&tail).into_owned()
    });
    let base = server.url("/scim/v2");

    let out = tokio::process::Command::new(&scim2)
        .env("SCIM_CLI_HEADERS", format!("Authorization: Bearer {token}"))
        .args(["--url", &base, "test"])
        .output()
        .await
        .expect("scim2 runs");
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    let failed: Vec<&str> = report.lines().filter(|l| l.starts_with("ERROR")).collect();
    assert!(
        out.status.success() && failed.is_empty(),
        "scim2-tester found failures:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("SUCCESS"), "the checker ran: {report}");

    // The token from the configuration works too, and sees only its own users.
    let client = reqwest::Client::new();
    let users = |t: &str| client.get(format!("{base}/Users")).bearer_auth(t).send();
    let res = users(CONFIG_TOKEN).await.expect("request");
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["totalResults"], 0, "okta sees none of tester's users");

    let listed = run(usher(&dir.0)
        .arg("--config")
        .arg(&config)
        .args(["scim-tokens", "list"]));
    let listed = stdout(&listed);
    assert!(
        listed.contains("tester") && listed.contains("okta") && listed.contains("config"),
        "{listed}"
    );
    let tester_line = listed
        .lines()
        .find(|l| l.starts_with("tester"))
        .unwrap_or_default();
    assert!(
        !tester_line.ends_with("never"),
        "last use recorded: {listed}"
    );

    let revoked =
        run(usher(&dir.0)
            .arg("--config")
            .arg(&config)
            .args(["scim-tokens", "revoke", "tester"]));
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    assert_eq!(users(&token).await.expect("request").status(), 401);
    let (clean, _) = server.terminate();
    let log = log.join().unwrap_or_default();
    assert!(clean, "usher did not stop cleanly:\n{log}");
}
