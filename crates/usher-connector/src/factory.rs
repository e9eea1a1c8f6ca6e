//! Connectors by name: each connector crate exports a factory, the binary
//! registers it in one line and builds connectors from configured settings.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use thiserror::Error;

use crate::Connector;

/// Builds one kind of connector from its own settings type.
///
/// `Settings` is typed and deserialized by serde before `build` sees it (unknown
/// keys and wrong types are refused there, with `#[serde(deny_unknown_fields)]`);
/// `build` is the validating constructor that checks the rest (a URL's scheme, a
/// positive timeout) and names the key at fault. Typed settings keep JSON out of
/// this crate: the [`Registry`] erases the type by deserializing from whatever
/// document the binary reads its configuration into.
pub trait ConnectorFactory: Send + Sync + 'static {
    /// The connector's settings, as an administrator writes them.
    type Settings: DeserializeOwned;

    /// The name apps use to pick this connector (`"scim"`, `"slack"`).
    fn name(&self) -> &'static str;

    /// A connector for one app, from its checked settings.
    fn build(&self, settings: Self::Settings) -> Result<Arc<dyn Connector>, SettingsError>;
}

/// Settings a connector refuses: which key (relative to the connector's settings)
/// and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}{reason}", key.as_ref().map(|k| format!("{k}: ")).unwrap_or_default())]
pub struct SettingsError {
    /// The key at fault (`base_url`, `auth.token`), when one is.
    pub key: Option<String>,
    /// What is wrong and what to write instead.
    pub reason: String,
}

impl SettingsError {
    /// The value of `key` is refused, for `reason`.
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            key: Some(key.into()),
            reason: reason.into(),
        }
    }

    /// The settings as a whole are refused (serde's message names the field).
    pub fn whole(reason: impl Into<String>) -> Self {
        Self {
            key: None,
            reason: reason.into(),
        }
    }
}

/// Why the registry could not register or build a connector.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BuildError {
    /// No factory has this name.
    #[error("unknown connector {name:?}; known connectors: {known}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The registered names, comma-separated.
        known: String,
    },
    /// Two factories claim one name: a wiring mistake in the binary.
    #[error("connector {0:?} is registered twice")]
    Duplicate(&'static str),
    /// The factory refused the settings.
    #[error("connector {connector:?}: {error}")]
    Settings {
        /// The connector's name.
        connector: &'static str,
        /// What it refused.
        error: SettingsError,
    },
}

type Builder<D> = Box<dyn Fn(D) -> Result<Arc<dyn Connector>, SettingsError> + Send + Sync>;

/// The connectors a binary knows, by name, built from settings documents of type
/// `D` (any owned serde deserializer: `serde_json::Value`, `toml::Value`).
pub struct Registry<D> {
    factories: BTreeMap<&'static str, Builder<D>>,
}

impl<D> Registry<D>
where
    D: for<'de> Deserializer<'de> + 'static,
{
    /// No connectors yet.
    pub fn new() -> Self {
        Self {
            factories: BTreeMap::new(),
        }
    }

    /// Adds a connector kind under its factory's name.
    pub fn register<F: ConnectorFactory>(&mut self, factory: F) -> Result<(), BuildError> {
        let name = factory.name();
        if self.factories.contains_key(name) {
            return Err(BuildError::Duplicate(name));
        }
        let builder: Builder<D> = Box::new(move |document: D| {
            let settings = F::Settings::deserialize(document)
                .map_err(|e| SettingsError::whole(e.to_string()))?;
            factory.build(settings)
        });
        self.factories.insert(name, builder);
        Ok(())
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.factories.keys().copied()
    }

    /// A connector of kind `name` from its settings document.
    pub fn build(&self, name: &str, settings: D) -> Result<Arc<dyn Connector>, BuildError> {
        let Some((connector, builder)) = self.factories.get_key_value(name) else {
            return Err(BuildError::Unknown {
                name: name.to_owned(),
                known: self.names().collect::<Vec<_>>().join(", "),
            });
        };
        builder(settings).map_err(|error| BuildError::Settings { connector, error })
    }
}

impl<D> Default for Registry<D>
where
    D: for<'de> Deserializer<'de> + 'static,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<D> fmt::Debug for Registry<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.factories.keys()).finish()
    }
}
