//! Credentials in connector settings never print.

use serde::Deserialize;
use usher_connector::Secret;

#[derive(Debug, Deserialize)]
struct Settings {
    #[allow(dead_code)] // read through Debug only
    base_url: String,
    token: Secret,
}

#[test]
fn a_secret_is_redacted_in_debug_display_and_serialization() {
    let s = Secret::new("hunter2");
    assert_eq!(format!("{s:?}"), "[redacted]");
    assert_eq!(s.to_string(), "[redacted]");
    assert_eq!(
        serde_json::to_string(&s).expect("serializes"),
        "\"[redacted]\""
    );
    assert_eq!(s.expose(), "hunter2");
}

#[test]
fn settings_holding_a_secret_print_without_it() {
    let settings: Settings = serde_json::from_value(serde_json::json!({
        "base_url": "https://scim.example.com/v2",
        "token": "hunter2",
    }))
    .expect("deserializes");
    assert_eq!(settings.token.expose(), "hunter2");
    let printed = format!("{settings:?}");
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(printed.contains("[redacted]"), "{printed}");
}

#[test]
fn a_secret_of_the_wrong_type_is_refused_without_echoing_it() {
    let err = serde_json::from_value::<Settings>(serde_json::json!({
        "base_url": "https://scim.example.com/v2",
        "token": 8675309,
    }))
    .expect_err("a number is no token");
    assert!(!err.to_string().contains("8675309"), "{err}");
    assert!(
        err.to_string().contains("a secret must be a string"),
        "{err}"
    );
}
