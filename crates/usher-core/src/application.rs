//! Applications: the downstream apps people reach through usher.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{ApplicationId, Error, GroupId, Result};

/// How an application talks to usher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppKind {
    /// An OpenID Connect relying party.
    OidcClient {
        /// Its `client_id`, unique among OIDC clients.
        client_id: String,
    },
    /// A SAML 2.0 service provider.
    SamlSp {
        /// Its entity id, unique among SAML SPs.
        entity_id: String,
    },
    /// A system usher provisions accounts into (SCIM, Slack, webhook).
    ProvisioningTarget {
        /// The connector that reaches it (`scim`, `slack`, `webhook`).
        connector: String,
    },
}

impl AppKind {
    /// The protocol identifier that must be unique per kind (client id, entity id).
    pub fn key(&self) -> (&'static str, &str) {
        match self {
            AppKind::OidcClient { client_id } => ("oidc_client", client_id),
            AppKind::SamlSp { entity_id } => ("saml_sp", entity_id),
            AppKind::ProvisioningTarget { connector } => ("provisioning_target", connector),
        }
    }
}

/// Who may use an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "groups", rename_all = "snake_case")]
pub enum AccessPolicy {
    /// Every active user.
    Everyone,
    /// Members of any of these groups.
    Groups(Vec<GroupId>),
}

/// An application as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    /// Stable id.
    pub id: ApplicationId,
    /// Unique name an admin knows it by.
    pub name: String,
    /// Protocol and identifier.
    pub kind: AppKind,
    /// Who may use it.
    pub access: AccessPolicy,
    /// False: nobody can sign in to it or be provisioned into it.
    pub enabled: bool,
    /// Protocol settings (redirect URIs, ACS URLs, connector options), owned by the
    /// protocol crate that reads them.
    pub settings: serde_json::Value,
    /// When created.
    pub created_at: OffsetDateTime,
    /// When last changed.
    pub updated_at: OffsetDateTime,
}

/// What it takes to register an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApplication {
    /// Unique name.
    pub name: String,
    /// Protocol and identifier.
    pub kind: AppKind,
    /// Who may use it.
    pub access: AccessPolicy,
    /// Protocol settings.
    pub settings: serde_json::Value,
}

impl NewApplication {
    /// Checks the name and identifier.
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() || self.name.len() > 256 {
            return Err(Error::Invalid(
                "application name must be 1 to 256 bytes".into(),
            ));
        }
        if self.kind.key().1.trim().is_empty() {
            return Err(Error::Invalid(
                "application identifier must not be empty".into(),
            ));
        }
        Ok(())
    }
}

/// A change to an application; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplicationUpdate {
    /// New name.
    pub name: Option<String>,
    /// New access policy.
    pub access: Option<AccessPolicy>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// Replaces the settings.
    pub settings: Option<serde_json::Value>,
}
