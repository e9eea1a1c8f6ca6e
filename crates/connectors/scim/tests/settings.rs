//! Settings are refused naming the key, and no secret ever prints.

use std::sync::Arc;

use serde_json::{Value, json};
use usher_connector::{BuildError, Connector, Registry};
use usher_connector_scim::ScimFactory;

fn build(settings: Value) -> Result<Arc<dyn Connector>, BuildError> {
    let mut registry = Registry::<Value>::new();
    registry.register(ScimFactory).expect("register");
    registry.build("scim", settings)
}

fn refusal(settings: Value) -> String {
    build(settings).expect_err("refused").to_string()
}

fn with(key: &str, value: Value) -> Value {
    let mut s = json!({
        "base_url": "https://app.example.com/scim/v2",
        "auth": {"type": "bearer", "token": "secret-token-value"},
    });
    s[key] = value;
    s
}

#[test]
fn good_settings_build_and_the_token_is_redacted() {
    let connector = build(with("timeout_secs", json!(5))).expect("built");
    let printed = format!("{connector:?}");
    assert!(!printed.contains("secret-token-value"), "{printed}");
    assert!(printed.contains("[redacted]"), "{printed}");
}

/// The token and personal data would cross the network in clear text.
#[test]
fn plain_http_to_a_remote_host_is_refused() {
    let e = refusal(with("base_url", json!("http://app.example.com/scim/v2")));
    assert!(e.contains("base_url") && e.contains("https"), "{e}");
    build(with("base_url", json!("http://127.0.0.1:8080/scim/v2"))).expect("loopback http");
}

#[test]
fn a_base_url_with_credentials_or_a_query_is_refused() {
    let e = refusal(with("base_url", json!("https://u:p@app.example.com/scim")));
    assert!(e.contains("base_url"), "{e}");
    let e = refusal(with("base_url", json!("https://app.example.com/scim?x=1")));
    assert!(e.contains("base_url"), "{e}");
    let e = refusal(with("base_url", json!("not a url")));
    assert!(e.contains("base_url"), "{e}");
}

#[test]
fn bad_values_name_their_key() {
    let e = refusal(with("auth", json!({"type": "bearer", "token": ""})));
    assert!(e.contains("auth.token"), "{e}");
    let e = refusal(with("timeout_secs", json!(0)));
    assert!(e.contains("timeout_secs"), "{e}");
    let e = refusal(with("max_response_bytes", json!(10)));
    assert!(e.contains("max_response_bytes"), "{e}");
}

#[test]
fn unknown_keys_and_auth_types_are_refused() {
    let e = refusal(with("base_uri", json!("https://x.example")));
    assert!(e.contains("base_uri"), "{e}");
    let e = refusal(with("auth", json!({"type": "basic", "user": "a"})));
    assert!(e.contains("user"), "{e}");
    let e = refusal(with("auth", json!({"type": "ntlm", "user": "a"})));
    assert!(e.contains("ntlm"), "{e}");
    let e = refusal(with("auth", json!({"type": "bearer", "token": 123456})));
    assert!(!e.contains("123456"), "a mistyped token is not echoed: {e}");
}

fn oauth(token_url: &str) -> Value {
    json!({
        "type": "oauth2_client_credentials",
        "token_url": token_url,
        "client_id": "usher",
        "client_secret": "the-client-secret",
    })
}

#[test]
fn basic_and_oauth_settings_build_and_their_secrets_are_redacted() {
    let basic = json!({"type": "basic", "username": "usher", "password": "the-password"});
    for auth in [
        basic,
        oauth("https://idp.example.com/oauth2/token?tenant=t1"),
    ] {
        let connector = build(with("auth", auth)).expect("built");
        let printed = format!("{connector:?}");
        for secret in ["the-password", "the-client-secret"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}

/// The client secret would cross the network in clear text: the token endpoint
/// follows the base URL's rule (https, or http only to loopback).
#[test]
fn a_plain_http_token_url_to_a_remote_host_is_refused() {
    let e = refusal(with("auth", oauth("http://idp.example.com/token")));
    assert!(e.contains("auth.token_url") && e.contains("https"), "{e}");
    let e = refusal(with(
        "auth",
        oauth("http://127.0.0.1@idp.example.com/token"),
    ));
    assert!(e.contains("auth.token_url"), "{e}");
    let e = refusal(with("auth", oauth("https://idp.example.com/token#frag")));
    assert!(e.contains("auth.token_url"), "{e}");
    build(with("auth", oauth("http://127.0.0.1:9000/token"))).expect("loopback http");
}

#[test]
fn bad_credentials_name_their_key() {
    let cases = [
        (
            json!({"type": "basic", "username": "a:b", "password": "p"}),
            "auth.username",
        ),
        (
            json!({"type": "basic", "username": "", "password": "p"}),
            "auth.username",
        ),
        (
            json!({"type": "basic", "username": "a", "password": ""}),
            "auth.password",
        ),
        (
            json!({"type": "basic", "username": "a", "password": "p\r\n"}),
            "auth.password",
        ),
    ];
    for (auth, key) in cases {
        let e = refusal(with("auth", auth.clone()));
        assert!(e.contains(key), "{auth}: {e}");
    }
    let mut o = oauth("https://idp.example.com/token");
    o["client_id"] = json!("");
    assert!(refusal(with("auth", o)).contains("auth.client_id"));
    let mut o = oauth("https://idp.example.com/token");
    o["client_secret"] = json!("");
    assert!(refusal(with("auth", o)).contains("auth.client_secret"));
    let mut o = oauth("https://idp.example.com/token");
    o["scope"] = json!("scim  \"admin\"");
    assert!(refusal(with("auth", o)).contains("auth.scope"));
    let mut o = oauth("https://idp.example.com/token");
    o["token_endpoint_auth_method"] = json!("private_key_jwt");
    assert!(refusal(with("auth", o)).contains("private_key_jwt"));
}

#[test]
fn a_missing_or_garbled_ca_bundle_is_refused_naming_ca_bundle() {
    let e = refusal(with("ca_bundle", json!("/nonexistent/ca.pem")));
    assert!(
        e.contains("ca_bundle") && e.contains("/nonexistent/ca.pem"),
        "{e}"
    );
    let garbled = std::env::temp_dir().join(format!("usher-scim-ca-{}.pem", std::process::id()));
    std::fs::write(&garbled, "not a certificate\n").expect("write");
    let e = refusal(with("ca_bundle", json!(garbled)));
    std::fs::remove_file(&garbled).ok();
    assert!(e.contains("ca_bundle"), "{e}");
}

/// A bundle of many certificates (the system's own, where there is one) is
/// taken whole.
#[test]
fn a_pem_bundle_of_several_certificates_is_accepted() {
    let system = "/etc/ssl/certs/ca-certificates.crt";
    if !std::path::Path::new(system).is_file() {
        eprintln!("SKIPPED: no {system} to use as a CA bundle");
        return;
    }
    build(with("ca_bundle", json!(system))).expect("built with a CA bundle");
}
