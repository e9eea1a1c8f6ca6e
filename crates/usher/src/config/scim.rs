//! `[scim]` and `[[scim.clients]]`: the SCIM 2.0 service at `/scim/v2` and the
//! provisioning sources (Entra ID, Okta, ...) allowed to push to it. Tokens can also
//! be made with `usher scim-tokens create NAME`; these are applied at every start.

use std::collections::HashSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret, resolve_secret};

/// `[scim]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScimConfig {
    /// Most resources in one list response (`filter.maxResults`).
    pub max_results: u32,
    /// Largest request body in bytes, bulk included (`bulk.maxPayloadSize`).
    pub max_payload_bytes: usize,
    /// Most operations in one bulk request (`bulk.maxOperations`).
    pub max_bulk_operations: usize,
    /// Clients declared here.
    pub clients: Vec<ScimClientConfig>,
}

impl Default for ScimConfig {
    fn default() -> Self {
        let d = usher_scim::ScimSettings::default();
        Self {
            max_results: d.max_results,
            max_payload_bytes: d.max_payload,
            max_bulk_operations: d.max_bulk_operations,
            clients: Vec::new(),
        }
    }
}

/// `[[scim.clients]]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScimClientConfig {
    /// The client's name: the users and groups it creates are its own.
    pub name: String,
    /// Its bearer token (at least 32 characters); prefer `token_file`.
    pub token: Option<Secret>,
    /// File holding the token.
    pub token_file: Option<PathBuf>,
}

/// Shortest token accepted from the configuration: a guessable token is an open
/// door to the directory.
pub const MIN_TOKEN_LEN: usize = 32;

impl ScimConfig {
    /// The clients with their tokens read, checked.
    pub fn clients(&self) -> Result<Vec<(String, Secret)>, ConfigError> {
        if self.max_results == 0 || self.max_results > 10_000 {
            return Err(ConfigError::invalid(
                "scim.max_results",
                "expected 1 to 10000",
            ));
        }
        if self.max_payload_bytes < 1024 || self.max_payload_bytes > 64 * 1024 * 1024 {
            return Err(ConfigError::invalid(
                "scim.max_payload_bytes",
                "expected 1024 to 67108864 bytes",
            ));
        }
        if self.max_bulk_operations == 0 || self.max_bulk_operations > 10_000 {
            return Err(ConfigError::invalid(
                "scim.max_bulk_operations",
                "expected 1 to 10000",
            ));
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for (i, c) in self.clients.iter().enumerate() {
            let key = format!("scim.clients[{i}]");
            if usher_core::ports::ScimClient::check_name(&c.name).is_err() {
                return Err(ConfigError::invalid(
                    &format!("{key}.name"),
                    "expected 1 to 64 characters of A-Z, a-z, 0-9, '-', '_' and '.'",
                ));
            }
            if !seen.insert(c.name.clone()) {
                return Err(ConfigError::invalid(
                    &format!("{key}.name"),
                    format!("{:?} is declared twice", c.name),
                ));
            }
            let token = resolve_secret(
                &format!("{key}.token"),
                c.token.as_ref(),
                c.token_file.as_deref(),
            )?
            .ok_or_else(|| {
                ConfigError::invalid(&format!("{key}.token_file"), "a token is required")
            })?;
            if token.expose().len() < MIN_TOKEN_LEN
                || token.expose().chars().any(char::is_whitespace)
            {
                return Err(ConfigError::invalid(
                    &format!("{key}.token_file"),
                    format!(
                        "the token must be at least {MIN_TOKEN_LEN} characters without spaces; \
                         make one with `openssl rand -base64 32`"
                    ),
                ));
            }
            out.push((c.name.clone(), token));
        }
        Ok(out)
    }
}
