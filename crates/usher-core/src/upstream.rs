//! Upstream IdPs: where identities are verified.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::UpstreamId;

/// The protocol an upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamKind {
    /// An OpenID Provider.
    Oidc,
    /// A SAML 2.0 IdP.
    Saml,
}

impl UpstreamKind {
    /// The name used in config and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamKind::Oidc => "oidc",
            UpstreamKind::Saml => "saml",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "oidc" => Some(UpstreamKind::Oidc),
            "saml" => Some(UpstreamKind::Saml),
            _ => None,
        }
    }
}

/// An upstream IdP as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upstream {
    /// Short id, also the URL segment of its callbacks.
    pub id: UpstreamId,
    /// Protocol.
    pub kind: UpstreamKind,
    /// Name on the login button.
    pub display_name: String,
    /// False: its button is hidden and its callbacks refuse logins.
    pub enabled: bool,
    /// Protocol and JIT settings, owned by the federation code that reads them.
    pub settings: serde_json::Value,
    /// When created.
    pub created_at: OffsetDateTime,
    /// When last changed.
    pub updated_at: OffsetDateTime,
}
