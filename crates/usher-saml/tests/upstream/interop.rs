//! Interop (issue 5, item 8, SAML part): `samlify` 2 from npm, a SAML library
//! this project did not write, plays the upstream IdP (`tests/interop/
//! samlify_idp.js`). It reads usher's SP metadata, parses usher's signed
//! AuthnRequest from the redirect URL (checking its signature over the raw query
//! with the certificate in that metadata) and signs a Response with xml-crypto;
//! usher's ACS must accept it and park the right identity. IdP-initiated: accepted
//! where allowed, refused where not.
//!
//! The peer is installed by `scripts/peers.sh` into `target-peers/node`. Without
//! node or samlify the tests print `SKIPPED` and pass, unless
//! `USHER_TEST_REQUIRE_SERVICES=1` (CI), where they fail.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use actix_web::http::StatusCode;
use openssl::pkey::PKey;
use serde_json::{Value, json};
use usher_core::UpstreamSession;
use usher_saml::SamlUpstreamSettings;

use super::fixture::*;

fn node_modules() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    match std::env::var("USHER_PEERS_DIR") {
        Ok(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target-peers"),
    }
    .join("node/node_modules")
}

/// The node_modules folder holding samlify, or why the test cannot run.
fn peer() -> Option<PathBuf> {
    let why = match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {
            let dir = node_modules();
            if dir.join("samlify/package.json").is_file()
                && dir
                    .join("@authenio/samlify-node-xmllint/package.json")
                    .is_file()
            {
                return Some(dir);
            }
            format!(
                "samlify is not installed in {} (run scripts/peers.sh)",
                dir.display()
            )
        }
        _ => "node is not installed".to_owned(),
    };
    if std::env::var("USHER_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
        panic!("USHER_TEST_REQUIRE_SERVICES=1 but {why}");
    }
    eprintln!("SKIPPED: samlify interop: {why}");
    None
}

fn samlify(node_modules: &PathBuf, job: &Value) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/samlify_idp.js");
    let mut child = Command::new("node")
        .arg(&script)
        .env("NODE_PATH", node_modules)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(job.to_string().as_bytes())
        .expect("job written");
    let out = child.wait_with_output().expect("node ends");
    assert!(
        out.status.success(),
        "samlify failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON line")
}

fn idp_key_pem() -> String {
    let key = PKey::private_key_from_pkcs8(&idp().key_der).expect("key");
    String::from_utf8(key.private_key_to_pem_pkcs8().expect("pem")).expect("utf8")
}

async fn job(sp: &Sp, mode: &str, template: &str, redirect_url: Option<&str>) -> Value {
    let metadata = sp.get("/federation/corp/saml/metadata", None).await.body;
    json!({
        "mode": mode,
        "template": template,
        "sp_metadata": metadata,
        "idp_entity_id": IDP_ENTITY,
        "sso_url": IDP_SSO,
        "idp_key_pem": idp_key_pem(),
        "idp_cert_pem": idp().cert_pem(),
        "redirect_url": redirect_url,
        "user": {
            "email": "carol@corp.example",
            "name_id": "c7f3-41aa-persistent",
            "session_index": "_samlify_session_1",
            "groups": ["engineering", "on-call"],
            "display_name": "Carol <Ops> & Co",
        },
    })
}

fn decoded(response: &Value) -> String {
    use base64::Engine;
    let b64 = response["saml_response"].as_str().expect("SAMLResponse");
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64"),
    )
    .expect("utf8")
}

#[actix_web::test]
async fn samlify_idp_answers_a_signed_authn_request_and_usher_parks_the_identity() {
    let Some(modules) = peer() else { return };
    let sp = Sp::new(settings()).await;

    // samlify's own default response template.
    let s = sp.start(None, None).await;
    let out = samlify(
        &modules,
        &job(&sp, "sp-initiated", "default", Some(&s.location)).await,
    );
    assert_eq!(
        out["request_id"],
        json!(s.request_id),
        "samlify read usher's request"
    );
    assert_eq!(out["relay_state"], json!(s.relay_state));
    assert!(decoded(&out).contains("<ds:Signature"), "samlify signed it");
    let a = sp
        .post(&decoded(&out), Some(&s.relay_state), Some(&s.browser))
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let id = sp.parked(&a.location).await.identity;
    assert_eq!(id.subject, "carol@corp.example");
    assert_eq!(id.email.as_deref(), Some("carol@corp.example"));
    assert!(id.email_verified);

    // A template with a persistent NameID, a session and multi-valued attributes.
    let s = sp.start(None, None).await;
    let out = samlify(
        &modules,
        &job(&sp, "sp-initiated", "custom", Some(&s.location)).await,
    );
    let a = sp
        .post(&decoded(&out), Some(&s.relay_state), Some(&s.browser))
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    let parked = sp.parked(&a.location).await;
    assert_eq!(parked.login, None);
    let id = parked.identity;
    assert_eq!(id.subject, "c7f3-41aa-persistent");
    assert_eq!(id.email.as_deref(), Some("carol@corp.example"));
    assert!(id.email_verified);
    assert_eq!(id.attributes["groups"], json!(["engineering", "on-call"]));
    assert_eq!(id.attributes["displayName"], json!(["Carol <Ops> & Co"]));
    assert_eq!(id.attributes["mail"], json!(["carol@corp.example"]));
    assert_eq!(
        id.authn_methods,
        ["urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"]
    );
    assert_eq!(
        id.upstream_session,
        Some(UpstreamSession::Saml {
            name_id: "c7f3-41aa-persistent".into(),
            name_id_format: Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into()),
            session_index: Some("_samlify_session_1".into()),
        })
    );
    // The same samlify response again: refused (its request was answered).
    let again = sp
        .post(&decoded(&out), Some(&s.relay_state), Some(&s.browser))
        .await;
    refused(&again, StatusCode::BAD_REQUEST, "started in this browser");
}

#[actix_web::test]
async fn samlify_idp_initiated_is_accepted_only_where_allowed() {
    let Some(modules) = peer() else { return };
    let allowed = Sp::new(SamlUpstreamSettings {
        allow_idp_initiated: true,
        ..settings()
    })
    .await;
    for template in ["custom", "default"] {
        let out = samlify(
            &modules,
            &job(&allowed, "idp-initiated", template, None).await,
        );
        let a = allowed.post(&decoded(&out), None, None).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER, "{template}: {}", a.body);
        let parked = allowed.parked(&a.location).await;
        assert_eq!(parked.login, None);
        assert_eq!(parked.identity.email.as_deref(), Some("carol@corp.example"));
        // Replayed: refused.
        let again = allowed.post(&decoded(&out), None, None).await;
        refused(&again, StatusCode::BAD_REQUEST, "already used");
    }

    let not_allowed = Sp::new(settings()).await;
    let out = samlify(
        &modules,
        &job(&not_allowed, "idp-initiated", "custom", None).await,
    );
    let a = not_allowed.post(&decoded(&out), None, None).await;
    refused(
        &a,
        StatusCode::BAD_REQUEST,
        "started at the identity provider is not allowed",
    );
}
