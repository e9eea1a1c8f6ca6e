//! The real `usher serve` as a SAML IdP, configured by file with a
//! `[[saml.service_providers]]` entry, driven by an independent SP library
//! (python3-saml 1.16, PyPI, strict mode): metadata, AuthnRequests over both
//! bindings, signed and unsigned, response validation (signature, audience,
//! destination, InResponseTo, conditions), NameID and attributes, one login serving
//! the SAML SP and an OIDC client, and SP-initiated Single Logout; and an SP
//! registered with an encryption certificate that requires encrypted assertions.

use std::path::PathBuf;
use std::time::Duration;

use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509, X509NameBuilder};
use serde_json::{Value, json};

use crate::support::{Scratch, Server, usher};

const SP: &str = "https://sp.example.test/metadata";
const ACS: &str = "http://127.0.0.1:9/acs";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv python with python3-saml, or `None` after saying why (a failure on CI).
pub(crate) fn python() -> Option<PathBuf> {
    let dir =
        repo().join(std::env::var("USHER_PEERS_DIR").unwrap_or_else(|_| "target-peers".into()));
    let python = dir.join("python/bin/python");
    let ready = std::process::Command::new(&python)
        .args(["-c", "import onelogin.saml2"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ready {
        return Some(python);
    }
    assert!(
        std::env::var("USHER_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "python3-saml is missing but USHER_TEST_REQUIRE_SERVICES=1: run scripts/peers.sh"
    );
    eprintln!("SKIPPED: SAML interop (run scripts/peers.sh)");
    None
}

/// A throwaway SP key pair, made for this run and never committed.
pub(crate) fn sp_key_pair(dir: &Scratch) -> (PathBuf, PathBuf) {
    key_pair(dir, "sp.example.test", "sp")
}

/// A throwaway RSA key and self-signed certificate for `cn`, written to
/// `{stem}.crt` and `{stem}.key` in `dir`.
pub(crate) fn key_pair(dir: &Scratch, cn: &str, stem: &str) -> (PathBuf, PathBuf) {
    let key = PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("pkey");
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", cn).expect("cn");
    let name = name.build();
    let mut cert = X509::builder().expect("builder");
    cert.set_version(2).expect("version");
    cert.set_subject_name(&name).expect("subject");
    cert.set_issuer_name(&name).expect("issuer");
    cert.set_pubkey(&key).expect("pubkey");
    cert.set_not_before(&Asn1Time::days_from_now(0).expect("now"))
        .expect("nbf");
    cert.set_not_after(&Asn1Time::days_from_now(2).expect("later"))
        .expect("naf");
    cert.sign(&key, MessageDigest::sha256()).expect("signs");
    let cert_path = dir.0.join(format!("{stem}.crt"));
    let key_path = dir.0.join(format!("{stem}.key"));
    std::fs::write(&cert_path, cert.build().to_pem().expect("pem")).expect("write cert");
    std::fs::write(&key_path, key.private_key_to_pem_pkcs8().expect("pem")).expect("write key");
    (cert_path, key_path)
}

const CONFIG: &str = r#"
[passwords]
memory_kib = 1024
iterations = 1

[[users]]
username = "alice"
email = "alice@example.com"
display_name = "Alice <b>Example</b>"
password = "alice-password-0123"
groups = ["engineering", "ops"]

[[oidc.clients]]
client_id = "wiki"
client_secret = "wiki-secret-0123456789abcdefghijklmnop"
redirect_uris = ["https://wiki.example/cb"]
first_party = true

[[saml.service_providers]]
entity_id = "https://sp.example.test/metadata"
acs_urls = ["http://127.0.0.1:9/acs"]
slo_url = "http://127.0.0.1:9/slo"
certificate_file = "sp.crt"
sign = "both"
name_id_format = "emailAddress"
attributes = { mail = "email", displayName = "name", groups = "groups" }
"#;

pub(crate) async fn run_sp(python: &PathBuf, config: &Value) -> Value {
    run_sp_with(python, config, &[]).await
}

async fn run_sp_with(python: &PathBuf, config: &Value, extra: &[&str]) -> Value {
    let script = repo().join("crates/usher-saml/tests/interop/sp.py");
    let run = tokio::process::Command::new(python)
        .arg(&script)
        .arg(config.to_string())
        .arg("--want-signed")
        .arg("both")
        .args(extra)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the SP finishes within 2 minutes")
        .expect("python runs");
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT:\n{out}\n{err}"));
    let result: Value = serde_json::from_str(line).expect("RESULT is JSON");
    assert!(
        output.status.success() && result["ok"] == true,
        "python3-saml refused:\n{result:#}\n{err}"
    );
    result
}

#[tokio::test]
async fn python3_saml_signs_in_and_out_through_a_configured_usher() {
    let Some(python) = python() else { return };
    let dir = Scratch::new();
    let (cert, key) = sp_key_pair(&dir);
    let config = dir.write("usher.toml", CONFIG);
    let mut cmd = usher(&dir.0);
    cmd.arg("--config").arg(&config);
    let mut server = Server::start(cmd).await;
    server.wait_ready().await;

    let sp = |flows: Value, slo: bool, cookies: Value| {
        json!({
            "base": server.base,
            "sp_entity_id": SP,
            "acs_url": ACS,
            "slo_url": "http://127.0.0.1:9/slo",
            "sp_cert": cert,
            "sp_key": key,
            "username": "alice",
            "password": "alice-password-0123",
            "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            "want_signed": "both",
            "flows": flows,
            "slo": slo,
            "check_after_logout": slo,
            "cookies": cookies,
        })
    };

    // Both bindings, signed and unsigned requests: one password prompt in all.
    let first = run_sp(
        &python,
        &sp(
            json!([
                { "binding": "redirect", "signed": false, "expect_login": true },
                { "binding": "post", "signed": true, "expect_login": false },
                { "binding": "redirect", "signed": true, "expect_login": false },
                { "binding": "post", "signed": false, "expect_login": false },
            ]),
            false,
            json!({}),
        ),
    )
    .await;
    assert_eq!(first["name_id"], "alice@example.com", "{first:#}");
    assert_eq!(first["attributes"]["mail"], json!(["alice@example.com"]));
    assert_eq!(
        first["attributes"]["displayName"],
        json!(["Alice <b>Example</b>"]),
        "markup verbatim"
    );
    let groups = first["attributes"]["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 2, "multi-valued: {groups:?}");
    for flow in first["flows"].as_array().expect("flows") {
        assert_eq!(flow["valid"], true, "{flow:#}");
        assert_eq!(flow["signed"]["response"], true, "{flow:#}");
        assert_eq!(flow["signed"]["assertion"], true, "{flow:#}");
    }

    // The same browser session serves an OIDC client without a password prompt.
    let cookies = first["cookies"].clone();
    let cookie_header = cookies
        .as_object()
        .expect("cookies")
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("; ");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let authorize = client
        .get(server.url("/oidc/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", "wiki"),
            ("redirect_uri", "https://wiki.example/cb"),
            ("scope", "openid"),
            ("prompt", "none"),
            ("state", "s"),
        ])
        .header("cookie", cookie_header)
        .send()
        .await
        .expect("authorize");
    let location = authorize.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        location.starts_with("https://wiki.example/cb?code="),
        "{location}"
    );

    // SP-initiated Single Logout ends the session; a passive request then fails.
    let last = run_sp(
        &python,
        &sp(
            json!([{ "binding": "post", "signed": true, "expect_login": false }]),
            true,
            cookies,
        ),
    )
    .await;
    assert!(
        last["slo"]["status"]["code"]
            .as_str()
            .unwrap_or_default()
            .ends_with(":Success"),
        "{last:#}"
    );
    assert!(
        last["after_logout"]["status"]["sub"]
            .as_str()
            .unwrap_or_default()
            .ends_with(":NoPassive"),
        "{last:#}"
    );

    let (ok, log) = server.terminate();
    assert!(ok, "{log}");
}

const ENCRYPTED_CONFIG: &str = r#"
[passwords]
memory_kib = 1024
iterations = 1

[[users]]
username = "alice"
email = "alice@example.com"
display_name = "Alice <b>Example</b>"
password = "alice-password-0123"
groups = ["engineering", "ops"]

[[saml.service_providers]]
entity_id = "https://sp.example.test/metadata"
acs_urls = ["http://127.0.0.1:9/acs"]
slo_url = "http://127.0.0.1:9/slo"
certificate_file = "sp.crt"
encryption_certificate_file = "sp.crt"
sign = "both"
name_id_format = "emailAddress"
attributes = { mail = "email", displayName = "name", groups = "groups" }
"#;

/// An SP registered with `encryption_certificate_file`: python3-saml with
/// `wantAssertionsEncrypted` (strict mode, schema validation on) decrypts the
/// EncryptedAssertion with its key, and both signatures verify (the Response's over
/// the ciphertext, the assertion's inside it).
#[tokio::test]
async fn python3_saml_decrypts_encrypted_assertions_from_a_configured_usher() {
    let Some(python) = python() else { return };
    let dir = Scratch::new();
    let (cert, key) = sp_key_pair(&dir);
    let config = dir.write("usher.toml", ENCRYPTED_CONFIG);
    let mut cmd = usher(&dir.0);
    cmd.arg("--config").arg(&config);
    let mut server = Server::start(cmd).await;
    server.wait_ready().await;

    let result = run_sp_with(
        &python,
        &json!({
            "base": server.base,
            "sp_entity_id": SP,
            "acs_url": ACS,
            "slo_url": "http://127.0.0.1:9/slo",
            "sp_cert": cert,
            "sp_key": key,
            "username": "alice",
            "password": "alice-password-0123",
            "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            "want_signed": "both",
            "flows": [
                { "binding": "redirect", "signed": false, "expect_login": true },
                { "binding": "post", "signed": true, "expect_login": false },
            ],
            "slo": true,
            // The SP registered a signing certificate: usher refuses its unsigned LogoutRequests.
            "slo_signed": true,
            "check_after_logout": true,
        }),
        &["--want-encrypted"],
    )
    .await;
    assert_eq!(result["name_id"], "alice@example.com", "{result:#}");
    assert_eq!(
        result["attributes"]["displayName"],
        json!(["Alice <b>Example</b>"]),
        "{result:#}"
    );
    for flow in result["flows"].as_array().expect("flows") {
        assert_eq!(flow["valid"], true, "{flow:#}");
        let facts = &flow["signed"];
        assert_eq!(facts["encrypted_assertion"], true, "{flow:#}");
        assert_eq!(facts["decrypted"], true, "{flow:#}");
        assert_eq!(facts["response"], true, "{flow:#}");
        assert_eq!(facts["assertion"], true, "signed inside: {flow:#}");
        assert_eq!(
            facts["encryption_methods"],
            json!([
                "http://www.w3.org/2009/xmlenc11#aes256-gcm",
                "http://www.w3.org/2009/xmlenc11#rsa-oaep"
            ]),
            "{flow:#}"
        );
    }
    assert!(
        result["slo"]["status"]["code"]
            .as_str()
            .unwrap_or_default()
            .ends_with(":Success"),
        "{result:#}"
    );

    let (ok, log) = server.terminate();
    assert!(ok, "{log}");
}
