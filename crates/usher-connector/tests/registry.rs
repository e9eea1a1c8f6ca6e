//! Connectors built by name from settings documents, as the binary does.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};
use usher_connector::{BuildError, Connector, ConnectorFactory, Registry, Secret, SettingsError};

use crate::memory_target::MemoryTestConnector;

/// Settings of the test double, with the shape real connectors' settings have.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemorySettings {
    page_size: u32,
    token: Secret,
}

#[derive(Debug)]
struct MemoryFactory;

impl ConnectorFactory for MemoryFactory {
    type Settings = MemorySettings;

    fn name(&self) -> &'static str {
        "memory"
    }

    fn build(&self, settings: MemorySettings) -> Result<Arc<dyn Connector>, SettingsError> {
        if settings.page_size == 0 {
            return Err(SettingsError::new("page_size", "must be at least 1"));
        }
        let _ = settings.token.expose();
        Ok(Arc::new(MemoryTestConnector::default()))
    }
}

fn registry() -> Registry<Value> {
    let mut registry = Registry::new();
    registry.register(MemoryFactory).expect("registers");
    registry
}

#[test]
fn a_connector_is_built_by_name_from_its_settings() {
    let connector = registry()
        .build("memory", json!({ "page_size": 50, "token": "t0ken" }))
        .expect("builds");
    assert!(connector.capabilities().users);
}

#[test]
fn an_unknown_connector_name_lists_the_known_ones() {
    let err = registry().build("slak", json!({})).expect_err("unknown");
    assert_eq!(
        err,
        BuildError::Unknown {
            name: "slak".into(),
            known: "memory".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "unknown connector \"slak\"; known connectors: memory"
    );
}

#[test]
fn refused_settings_name_the_connector_and_the_key() {
    let err = registry()
        .build("memory", json!({ "page_size": 0, "token": "t" }))
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        "connector \"memory\": page_size: must be at least 1"
    );

    let err = registry()
        .build(
            "memory",
            json!({ "page_size": 1, "token": "t", "tokn": "x" }),
        )
        .expect_err("unknown key");
    assert!(err.to_string().contains("unknown field `tokn`"), "{err}");
}

#[test]
fn a_settings_error_never_echoes_the_secret() {
    let err = registry()
        .build("memory", json!({ "page_size": "many", "token": "hunter2" }))
        .expect_err("wrong type");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
}

#[test]
fn one_name_registered_twice_is_a_wiring_mistake() {
    let mut registry = registry();
    assert_eq!(
        registry.register(MemoryFactory),
        Err(BuildError::Duplicate("memory"))
    );
    assert_eq!(registry.names().collect::<Vec<_>>(), ["memory"]);
}
