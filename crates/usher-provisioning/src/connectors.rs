//! How the core reaches an app's connector.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use usher_connector::{Connector, Registry};
use usher_core::{Application, ApplicationId};

/// Gives the connector for an app's provisioning side.
pub trait ConnectorSource: Send + Sync {
    /// The connector for `app`, or why there is none (unknown connector, bad
    /// settings), in words for the status and the report.
    fn connector(&self, app: &Application) -> Result<Arc<dyn Connector>, String>;
}

/// Each app's built connector, with the settings version it was built from.
type Built = HashMap<ApplicationId, (OffsetDateTime, Arc<dyn Connector>)>;

/// A [`ConnectorSource`] over the binary's registry of connector factories,
/// building each app's connector once per version of its settings.
pub struct RegistrySource {
    registry: Registry<serde_json::Value>,
    built: Mutex<Built>,
}

impl std::fmt::Debug for RegistrySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistrySource")
            .field("connectors", &self.registry.names().collect::<Vec<_>>())
            .finish()
    }
}

impl RegistrySource {
    /// Over these factories.
    pub fn new(registry: Registry<serde_json::Value>) -> Self {
        Self {
            registry,
            built: Mutex::new(HashMap::new()),
        }
    }

    /// The registered connector names.
    pub fn names(&self) -> Vec<&'static str> {
        self.registry.names().collect()
    }
}

impl ConnectorSource for RegistrySource {
    fn connector(&self, app: &Application) -> Result<Arc<dyn Connector>, String> {
        let Some(side) = app.spec.provisioning() else {
            return Err(format!("{} has no provisioning side", app.spec.name()));
        };
        let mut built = self.built.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((version, connector)) = built.get(&app.id)
            && *version == app.updated_at
        {
            return Ok(connector.clone());
        }
        let connector = self
            .registry
            .build(&side.connector, side.settings.clone())
            .map_err(|e| e.to_string())?;
        built.insert(app.id, (app.updated_at, connector.clone()));
        Ok(connector)
    }
}
