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
//! usher authenticates with a static bearer token, HTTP basic, or an access
//! token from the OAuth 2.0 client credentials grant (`oauth.rs`: cached,
//! renewed before expiry and once on a 401, one renewal for all waiting
//! requests). TLS certificates are always verified; `ca_bundle` only adds trust.

mod auth;
mod connector;
mod group;
mod http;
mod oauth;
mod settings;
mod user;

use std::sync::Arc;

pub use auth::{ScimAuth, TokenEndpointAuthMethod};
pub use connector::ScimConnector;
pub use settings::{Quirks, ScimSettings};
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
