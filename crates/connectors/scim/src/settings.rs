//! What an administrator writes for a SCIM target, and the checks on it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use usher_connector::SettingsError;

use crate::auth::{Auth, ScimAuth};

/// Settings of one SCIM 2.0 target, as written in the configuration.
///
/// ```toml
/// base_url = "https://app.example.com/scim/v2"
/// auth = { type = "bearer", token = "..." }   # or "basic", "oauth2_client_credentials"
/// timeout_secs = 10            # default
/// max_response_bytes = 1048576 # default: 1 MiB
/// ca_bundle = "/etc/usher/app-ca.pem" # optional: trust these CAs too
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
    /// A PEM bundle of CA certificates trusted in addition to the system's, for
    /// the SCIM target and the OAuth token endpoint alike.
    #[serde(default)]
    pub ca_bundle: Option<PathBuf>,
    /// Compatibility switches for targets that stray from RFC 7644.
    #[serde(default)]
    pub quirks: Quirks,
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
    pub auth: Auth,
    pub timeout: Duration,
    pub max_response: usize,
    pub ca_pem: Option<Vec<u8>>,
    pub quirks: Quirks,
}

impl ScimSettings {
    /// Checks every key, naming the one at fault.
    pub(crate) fn check(self) -> Result<Checked, SettingsError> {
        let url = protected_url(
            "base_url",
            &self.base_url,
            "the target's SCIM base URL, as https://app.example.com/scim/v2",
        )?;
        if url.query().is_some() {
            return Err(SettingsError::new(
                "base_url",
                "give the base URL without a query",
            ));
        }
        let auth = self.auth.check()?;
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
        let ca_pem = self.ca_bundle.as_deref().map(read_ca_bundle).transpose()?;
        Ok(Checked {
            base: url.as_str().trim_end_matches('/').to_owned(),
            auth,
            timeout: Duration::from_secs(self.timeout_secs),
            max_response: self.max_response_bytes,
            ca_pem,
            quirks: self.quirks,
        })
    }
}

/// A URL that carries secrets (the SCIM base URL, the OAuth token endpoint):
/// absolute, https or plain http only to a loopback host (the rule usher applies
/// to every such URL, `usher_core::transport`), without credentials or a
/// fragment. `example` says what to give, for the error.
pub(crate) fn protected_url(
    key: &str,
    raw: &str,
    example: &str,
) -> Result<reqwest::Url, SettingsError> {
    let url = reqwest::Url::parse(raw)
        .map_err(|e| SettingsError::new(key, format!("{e}: give {example}")))?;
    // Tokens, passwords and personal data travel on this connection: https, or
    // http only where no network lies between the ends.
    if !usher_core::transport::is_protected(url.scheme(), url.host_str().unwrap_or_default()) {
        return Err(SettingsError::new(
            key,
            "use https (plain http is allowed only to a loopback host)",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(SettingsError::new(
            key,
            "put no credentials in the URL; use auth",
        ));
    }
    if url.fragment().is_some() {
        return Err(SettingsError::new(key, "give the URL without a fragment"));
    }
    Ok(url)
}

/// The extra trust anchors: a PEM file of one or more certificates. Read and
/// parsed here so a missing or garbled file stops the settings, naming the key,
/// rather than the first request.
fn read_ca_bundle(path: &Path) -> Result<Vec<u8>, SettingsError> {
    let pem = std::fs::read(path).map_err(|e| {
        SettingsError::new("ca_bundle", format!("cannot read {}: {e}", path.display()))
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        SettingsError::new(
            "ca_bundle",
            format!("{} is not a PEM certificate bundle: {e}", path.display()),
        )
    })?;
    if certs.is_empty() {
        return Err(SettingsError::new(
            "ca_bundle",
            format!(
                "{} holds no certificate: give PEM (-----BEGIN CERTIFICATE-----) certificates",
                path.display()
            ),
        ));
    }
    Ok(pem)
}
