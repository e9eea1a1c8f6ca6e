//! Settings are refused naming the key, and the token never prints.

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
    let e = refusal(with("ca_file", json!("/nonexistent/ca.pem")));
    assert!(e.contains("ca_file"), "{e}");
}

#[test]
fn unknown_keys_and_auth_types_are_refused() {
    let e = refusal(with("base_uri", json!("https://x.example")));
    assert!(e.contains("base_uri"), "{e}");
    let e = refusal(with("auth", json!({"type": "basic", "user": "a"})));
    assert!(e.contains("basic"), "{e}");
    let e = refusal(with("auth", json!({"type": "bearer", "token": 123456})));
    assert!(!e.contains("123456"), "a mistyped token is not echoed: {e}");
}
