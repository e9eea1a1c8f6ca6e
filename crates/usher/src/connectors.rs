//! The connectors this build of usher knows, by name. Adding a connector crate is
//! one `register` line here (and its dependency); everything else (check-config,
//! the provisioning workers) finds it through the registry.

use serde_json::Value;
use usher_connector::{BuildError, Registry};

/// Every connector, registered by its factory's name.
pub fn registry() -> Result<Registry<Value>, BuildError> {
    let mut registry = Registry::new();
    registry.register(usher_connector_scim::ScimFactory)?;
    Ok(registry)
}

/// Builds connector `name` from `settings` to see whether it accepts them (no
/// request is sent). A refusal comes back as the key, relative to
/// `[apps.provisioning]` (`connector`, `settings.base_url`), and what is wrong
/// and expected.
pub fn check(name: &str, settings: &Value) -> Result<(), (String, String)> {
    let built = registry().and_then(|r| r.build(name, settings.clone()));
    match built {
        Ok(_) => Ok(()),
        Err(e @ (BuildError::Unknown { .. } | BuildError::Duplicate(_))) => {
            Err(("connector".into(), e.to_string()))
        }
        Err(BuildError::Settings { connector, error }) => {
            // serde names the field in its message only; lift it into the key.
            let key = error
                .key
                .clone()
                .or_else(|| field_in(&error.reason).map(str::to_owned));
            let key = key.map_or_else(|| "settings".to_owned(), |k| format!("settings.{k}"));
            Err((key, format!("the {connector} connector: {}", error.reason)))
        }
    }
}

/// The field serde's "missing field `x`" or "unknown field `x`" names.
fn field_in(message: &str) -> Option<&str> {
    let rest = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("unknown field `"))?;
    rest.split_once('`').map(|(field, _)| field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scim_connector_is_registered_and_its_refusals_name_the_key() {
        let names: Vec<_> = registry().expect("registry").names().collect();
        assert_eq!(names, ["scim"]);
        let good = serde_json::json!({
            "base_url": "https://scim.example/v2",
            "auth": { "type": "bearer", "token": "t0ken" },
        });
        assert!(check("scim", &good).is_ok());
        let (key, message) = check(
            "scim",
            &serde_json::json!({ "base_url": "http://scim.example/v2", "auth": good["auth"] }),
        )
        .expect_err("plain http to a remote host");
        assert_eq!(key, "settings.base_url");
        assert!(message.contains("https"), "{message}");
        let (key, _) = check(
            "scim",
            &serde_json::json!({ "base_url": "https://x.example" }),
        )
        .expect_err("no auth");
        assert_eq!(key, "settings.auth");
        let (key, message) = check("slack", &good).expect_err("unknown");
        assert_eq!(key, "connector");
        assert!(message.contains("scim"), "{message}");
    }
}
