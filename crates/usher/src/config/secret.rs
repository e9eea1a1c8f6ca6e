//! Secrets in configuration: never printed, and readable from a file so they can
//! live in `/run/secrets` or a systemd credential instead of the config file.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// A secret string from configuration. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret; keep its use short and never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Secrets serialize redacted, so printing a config (`usher check-config`) is safe.
impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

/// Resolves a secret given either inline (`key`) or as a file (`key_file`).
/// Giving both is an error: which one wins would be a guess.
pub fn resolve(
    key: &str,
    inline: Option<&Secret>,
    file: Option<&Path>,
) -> Result<Option<Secret>, ConfigError> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(ConfigError::invalid(
            key,
            format!("set either `{key}` or `{key}_file`, not both"),
        )),
        (Some(secret), None) => Ok(Some(secret.clone())),
        (None, Some(path)) => read_secret_file(&format!("{key}_file"), path).map(Some),
        (None, None) => Ok(None),
    }
}

/// Reads a secret file; a trailing newline (as editors and `echo` leave) is dropped.
fn read_secret_file(key: &str, path: &Path) -> Result<Secret, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::invalid(
            key,
            format!("cannot read secret file {}: {e}", path.display()),
        )
    })?;
    let value = text.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return Err(ConfigError::invalid(
            key,
            format!("secret file {} is empty", path.display()),
        ));
    }
    Ok(Secret::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(
            serde_json::to_string(&s).expect("serializes"),
            "\"[redacted]\""
        );
    }

    #[test]
    fn both_inline_and_file_is_refused() {
        let err = resolve(
            "keys.master_key",
            Some(&Secret::new("x")),
            Some(Path::new("/x")),
        )
        .expect_err("ambiguous");
        assert!(err.to_string().contains("keys.master_key_file"), "{err}");
    }
}
