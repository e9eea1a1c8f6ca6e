//! Credentials in connector settings (tokens, client secrets, passwords).

use std::fmt;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

/// A secret value in connector settings. `Debug`, `Display` and serialization show
/// `[redacted]`, so settings can be logged, printed by `usher check-config` and
/// put in errors safely. Sealing it at rest under the master key is the store's
/// job; a connector reads it with [`Secret::expose`] when it builds a request.
#[derive(Clone, PartialEq, Eq)]
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

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Serializes redacted: whoever must store the value (sealed) takes it from
/// [`Secret::expose`] on purpose, never by serializing settings.
impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

/// A secret of the wrong type is refused without serde's usual echo of the value
/// ("invalid type: integer `123456`"), which would print a mistyped token.
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)
            .map(Self)
            .map_err(|_| D::Error::custom("a secret must be a string"))
    }
}
