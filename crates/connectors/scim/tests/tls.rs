//! TLS verification is always on: a target whose certificate no trusted CA
//! issued is refused, and `ca_bundle` is how an administrator trusts it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use usher_connector::{Connector, ErrorKind};

use crate::gate::Gate;
use crate::support::connector_with_auth;

/// A self-signed certificate for 127.0.0.1 and its key, in a fresh folder.
fn self_signed(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .is_ok_and(|o| o.status.success());
    if made {
        return Some((cert, key));
    }
    assert!(
        std::env::var("USHER_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "the openssl command is missing but USHER_TEST_REQUIRE_SERVICES=1"
    );
    eprintln!("SKIPPED: SCIM connector TLS verification (no openssl command)");
    None
}

/// Trusting an unknown certificate would hand the credentials and people's data
/// to whoever answers: refused (fatal, naming `ca_bundle`) until the
/// administrator trusts it.
#[tokio::test]
async fn an_untrusted_certificate_is_refused_until_ca_bundle_trusts_it() {
    let dir = std::env::temp_dir().join(format!("usher-scim-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let Some((cert, key)) = self_signed(&dir) else {
        return;
    };
    let Some(gate) = Gate::basic_over_tls("usher", "pw", &cert, &key) else {
        return;
    };
    let auth = json!({"type": "basic", "username": "usher", "password": "pw"});
    let e = connector_with_auth(&gate.base(), auth.clone(), json!({}))
        .test_connection()
        .await
        .expect_err("untrusted");
    assert_eq!(e.kind(), &ErrorKind::Fatal, "{e}");
    assert!(e.message().contains("ca_bundle"), "{e}");

    connector_with_auth(&gate.base(), auth, json!({"ca_bundle": cert}))
        .test_connection()
        .await
        .expect("trusted through ca_bundle");
    std::fs::remove_dir_all(&dir).ok();
}
