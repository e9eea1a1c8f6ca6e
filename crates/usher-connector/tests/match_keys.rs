//! The order in which an existing account is recognised.

use usher_connector::{MatchKey, MatchKeys, MatchKeysError};

#[test]
fn the_default_order_is_external_id_then_user_name_then_email() {
    assert_eq!(
        MatchKeys::default().keys(),
        [MatchKey::ExternalId, MatchKey::UserName, MatchKey::Email]
    );
}

#[test]
fn an_app_configures_its_own_order_by_key_name() {
    let keys: MatchKeys =
        serde_json::from_value(serde_json::json!(["email", "userName"])).expect("valid");
    assert_eq!(keys.keys(), [MatchKey::Email, MatchKey::UserName]);
    assert_eq!(
        serde_json::to_value(&keys).expect("serializes"),
        serde_json::json!(["email", "userName"])
    );
}

#[test]
fn no_match_keys_or_a_repeated_one_is_refused() {
    assert_eq!(MatchKeys::new(vec![]), Err(MatchKeysError::Empty));
    assert_eq!(
        MatchKeys::new(vec![MatchKey::Email, MatchKey::Email]),
        Err(MatchKeysError::Duplicate(MatchKey::Email))
    );
    let err = serde_json::from_value::<MatchKeys>(serde_json::json!([])).expect_err("empty");
    assert!(err.to_string().contains("at least one match key"), "{err}");
    let err =
        serde_json::from_value::<MatchKeys>(serde_json::json!(["mail"])).expect_err("unknown");
    assert!(err.to_string().contains("externalId"), "{err}");
}
