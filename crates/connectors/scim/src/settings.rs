//! What an administrator writes for a SCIM target, and the checks on it.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use usher_connector::{Secret, SettingsError};

/// Settings of one SCIM 2.0 target, as written in the configuration.
///
/// ```toml
/// base_url = "https://app.example.com/scim/v2"
/// auth = { type = "bearer", token = "..." }
/// timeout_secs = 10            # default
/// max_response_bytes = 1048576 # default: 1 MiB
/// ca_file = "/etc/usher/app-ca.pem"   # optional: trust this CA too
/// quirks = { no_patch = true }        # optional vendor compatibility
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScimSettings {
    /// The SCIM base URL (the one `/Users` is under): https, or plain http only
    /// to a loopback host.
    pub base_url: String,
    /// How usher authenticates to the target.
    pub auth: ScimAuth,
    /// Bound on each request, connection included (seconds, at least 1).
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Largest answer read; a larger one is an error, never buffered.
    #[serde(default = "default_max_response")]
    pub max_response_bytes: usize,
    /// A PEM bundle of CA certificates trusted in addition to the system's.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Compatibility switches for targets that stray from RFC 7644.
    #[serde(default)]
    pub quirks: Quirks,
}

/// How usher authenticates to the target. Only a static bearer token for now;
/// HTTP basic and OAuth 2.0 client credentials are not supported yet.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScimAuth {
    /// `Authorization: Bearer TOKEN` (RFC 6750 §2.1).
    Bearer {
        /// The token the target issued to usher.
        token: Secret,
    },
}

/// Vendor compatibility modes (authentik ships the same as "compatibility modes").
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quirks {
    /// Never PATCH, even when the target advertises it (AWS IAM Identity Center):
    /// updates replace the whole resource with PUT.
    #[serde(default)]
    pub no_patch: bool,
    /// The discovery document is at `/ServiceProviderConfigs` (Salesforce).
    #[serde(default)]
    pub plural_service_provider_config: bool,
}

fn default_timeout() -> u64 {
    10
}

fn default_max_response() -> usize {
    1024 * 1024
}

/// Settings after the checks: what the connector runs on.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    /// The base URL without a trailing slash.
    pub base: String,
    pub token: Secret,
    pub timeout: Duration,
    pub max_response: usize,
    pub ca_pem: Option<Vec<u8>>,
    pub quirks: Quirks,
}

impl ScimSettings {
    /// Checks every key, naming the one at fault.
    pub(crate) fn check(self) -> Result<Checked, SettingsError> {
        let url = reqwest::Url::parse(&self.base_url).map_err(|e| {
            SettingsError::new(
                "base_url",
                format!("{e}: give the target's SCIM base URL, as https://app.example.com/scim/v2"),
            )
        })?;
        // Tokens and personal data travel on this connection: https, or http only
        // where no network lies between the ends (the rule usher applies to every
        // URL that carries secrets, usher_core::transport).
        if !usher_core::transport::is_protected(url.scheme(), url.host_str().unwrap_or_default()) {
            return Err(SettingsError::new(
                "base_url",
                "use https (plain http is allowed only to a loopback host)",
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(SettingsError::new(
                "base_url",
                "put no credentials in the URL; use auth",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(SettingsError::new(
                "base_url",
                "give the base URL without a query or fragment",
            ));
        }
        let ScimAuth::Bearer { token } = self.auth;
        let token_ok =
            !token.expose().is_empty() && token.expose().bytes().all(|b| b.is_ascii_graphic());
        if !token_ok {
            return Err(SettingsError::new(
                "auth.token",
                "give the bearer token: printable ASCII, no spaces",
            ));
        }
        if self.timeout_secs == 0 || self.timeout_secs > 300 {
            return Err(SettingsError::new(
                "timeout_secs",
                "give a number of seconds from 1 to 300",
            ));
        }
        if self.max_response_bytes < 1024 {
            return Err(SettingsError::new(
                "max_response_bytes",
                "give at least 1024 bytes (default 1048576)",
            ));
        }
        let ca_pem = match &self.ca_file {
            None => None,
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    SettingsError::new("ca_file", format!("cannot read {}: {e}", path.display()))
                })?;
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                    SettingsError::new(
                        "ca_file",
                        format!("{} is not a PEM certificate bundle: {e}", path.display()),
                    )
                })?;
                Some(pem)
            }
        };
        Ok(Checked {
            base: url.as_str().trim_end_matches('/').to_owned(),
            token,
            timeout: Duration::from_secs(self.timeout_secs),
            max_response: self.max_response_bytes,
            ca_pem,
            quirks: self.quirks,
        })
    }
}
