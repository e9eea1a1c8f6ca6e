//! The generic SCIM 2.0 connector: provisions accounts into any SCIM 2.0 service
//! provider (RFC 7643, RFC 7644), through the connector API of `usher-connector`.
//!
//! It speaks the wire format of `usher-scim-model` (schema URNs, the PatchOp
//! message, the error document), the one usher's own SCIM server speaks, so SCIM
//! is written once. Requests are bounded in time (`timeout_secs`) and size
//! (`max_response_bytes`), follow no redirects and go only over https (or http to
//! loopback). The target's `ServiceProviderConfig` decides between PATCH (only the
//! changed attributes) and PUT (the whole resource). Every answer is mapped to a
//! [`usher_connector::ConnectorError`] carrying the target's `scimType` and
//! `detail`; see docs/provisioning.md, "The SCIM connector".
//!
//! Not yet: HTTP basic and OAuth 2.0 client-credentials authentication.

mod connector;
mod group;
mod http;
mod settings;
mod user;

use std::sync::Arc;

pub use connector::ScimConnector;
pub use settings::{Quirks, ScimAuth, ScimSettings};
use usher_connector::{Connector, ConnectorFactory, SettingsError};

/// Registers the connector under the name `scim`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScimFactory;

impl ConnectorFactory for ScimFactory {
    type Settings = ScimSettings;

    fn name(&self) -> &'static str {
        "scim"
    }

    fn build(&self, settings: ScimSettings) -> Result<Arc<dyn Connector>, SettingsError> {
        Ok(Arc::new(ScimConnector::new(settings)?))
    }
}
