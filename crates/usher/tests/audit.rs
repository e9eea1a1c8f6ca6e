//! Administrative changes are audited whatever door they come through: the real
//! `usher` binary's CLI (actor `cli:<os user>`) and the `[[users]]` and `[[scim.clients]]` start-up sync
//! (actor `config`), read back from the database it wrote.

use std::io::Write;
use std::process::{Command, Stdio};

use time::OffsetDateTime;
use usher_core::AuditEntry;
use usher_core::ports::{AuditLog, Directory};

use crate::support::{Scratch, Server, run, stderr, usher};

/// `usher` run by the OS user `ops-alice`, with cheap password hashing.
fn as_operator(dir: &Scratch) -> Command {
    let mut cmd = usher(&dir.0);
    cmd.env("USER", "ops-alice")
        .env_remove("SUDO_USER")
        .env_remove("LOGNAME")
        .env("USHER_PASSWORDS__MEMORY_KIB", "1024")
        .env("USHER_PASSWORDS__ITERATIONS", "1");
    cmd
}

fn with_stdin(mut cmd: Command, input: &str) -> std::process::Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("usher runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("writes");
    child.wait_with_output().expect("finishes")
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

async fn audit(dir: &Scratch) -> Vec<AuditEntry> {
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
}

fn has(log: &[AuditEntry], actor: &str, action: &str, target: &str) -> bool {
    log.iter()
        .any(|e| e.actor == actor && e.action == action && e.target.as_deref() == Some(target))
}

#[tokio::test]
async fn cli_user_creation_is_audited_with_its_actor() {
    let dir = Scratch::new();
    let mut cmd = as_operator(&dir);
    cmd.args(["users", "create", "--username", "bob", "--password-stdin"]);
    let out = with_stdin(cmd, "bob-password-0123\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let bob = store(&dir)
        .await
        .find_user_by_username("bob")
        .await
        .expect("query")
        .expect("bob exists");
    let log = audit(&dir).await;
    let id = bob.id.to_string();
    assert!(has(&log, "cli:ops-alice", "user.create", &id), "{log:#?}");
    assert!(
        has(&log, "cli:ops-alice", "user.set_password", &id),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .all(|e| !e.details.to_string().contains("bob-password")),
        "{log:#?}"
    );
}

#[tokio::test]
async fn cli_password_change_is_audited_with_its_actor() {
    let dir = Scratch::new();
    let out = run(as_operator(&dir).args(["users", "create", "--username", "carol"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let mut cmd = as_operator(&dir);
    cmd.env("SUDO_USER", "ops-bob")
        .args(["users", "set-password", "carol"]);
    let out = with_stdin(cmd, "carol-password-0123\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let carol = store(&dir)
        .await
        .find_user_by_username("carol")
        .await
        .expect("query")
        .expect("carol exists");
    let log = audit(&dir).await;
    let id = carol.id.to_string();
    assert!(has(&log, "cli:ops-alice", "user.create", &id), "{log:#?}");
    // Behind sudo, the person who ran sudo is named.
    assert!(
        has(&log, "cli:ops-bob", "user.set_password", &id),
        "{log:#?}"
    );
}

#[tokio::test]
async fn cli_scim_token_changes_are_audited_with_their_actor() {
    let dir = Scratch::new();
    let out = run(as_operator(&dir).args(["scim-tokens", "create", "entra"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(as_operator(&dir).args(["scim-tokens", "revoke", "entra"]));
    assert!(out.status.success(), "{}", stderr(&out));
    // Revoking what does not exist changes nothing and records nothing.
    let out = run(as_operator(&dir).args(["scim-tokens", "revoke", "entra"]));
    assert!(!out.status.success());
    let log = audit(&dir).await;
    assert!(
        has(&log, "cli:ops-alice", "scim_token.create", "entra"),
        "{log:#?}"
    );
    let revokes = log
        .iter()
        .filter(|e| e.action == "scim_token.revoke")
        .count();
    assert_eq!(revokes, 1, "{log:#?}");
    assert!(
        has(&log, "cli:ops-alice", "scim_token.revoke", "entra"),
        "{log:#?}"
    );
}

#[tokio::test]
async fn configured_accounts_are_audited_as_config_once() {
    let dir = Scratch::new();
    let config = dir.write(
        "usher.toml",
        "[passwords]\nmemory_kib = 1024\niterations = 1\n\n[[users]]\nusername = \"dave\"\n\
         password = \"dave-password-0123\"\ngroups = [\"ops\"]\n",
    );
    for _ in 0..2 {
        let mut cmd = usher(&dir.0);
        cmd.arg("--config").arg(&config);
        let mut server = Server::start(cmd).await;
        server.wait_ready().await;
        let (ok, log) = server.terminate();
        assert!(ok, "{log}");
    }
    let store = store(&dir).await;
    let dave = store
        .find_user_by_username("dave")
        .await
        .expect("query")
        .expect("dave exists");
    let ops = store
        .find_group_by_name("ops")
        .await
        .expect("query")
        .expect("ops exists");
    let log = audit(&dir).await;
    let id = dave.id.to_string();
    assert!(has(&log, "config", "user.create", &id), "{log:#?}");
    assert!(has(&log, "config", "user.set_password", &id), "{log:#?}");
    assert!(
        has(&log, "config", "group.create", &ops.id.to_string()),
        "{log:#?}"
    );
    // The second start found everything in line: nothing changed, nothing recorded.
    assert_eq!(
        log.iter().filter(|e| e.actor == "config").count(),
        3,
        "{log:#?}"
    );
}

#[tokio::test]
async fn scim_tokens_created_or_rekeyed_from_the_config_file_are_audited_once() {
    let dir = Scratch::new();
    let start = |token: &str| {
        let config = dir.write(
            "usher.toml",
            &format!("[[scim.clients]]\nname = \"okta\"\ntoken = \"{token}\"\n"),
        );
        let mut cmd = usher(&dir.0);
        cmd.arg("--config").arg(&config);
        cmd
    };
    let first = "okta-token-0123456789-0123456789-0123";
    // Two starts with the same token, then one with a rotated token.
    for token in [first, first, "okta-token-rotated-0123456789-012345"] {
        let mut server = Server::start(start(token)).await;
        server.wait_ready().await;
        let (ok, log) = server.terminate();
        assert!(ok, "{log}");
    }
    let log = audit(&dir).await;
    let of = |action: &str| {
        log.iter()
            .filter(|e| e.actor == "config" && e.action == action)
            .filter(|e| e.target.as_deref() == Some("okta"))
            .count()
    };
    assert_eq!(of("scim_token.create"), 1, "{log:#?}");
    assert_eq!(of("scim_token.rotate"), 1, "{log:#?}");
    assert_eq!(
        log.iter().filter(|e| e.actor == "config").count(),
        2,
        "{log:#?}"
    );
}
