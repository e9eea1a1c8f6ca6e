//! How an existing remote account is recognised as the one usher means.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One attribute a remote account can be matched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MatchKey {
    /// The target's `externalId` equals usher's user id: the account usher made.
    #[serde(rename = "externalId")]
    ExternalId,
    /// The target's login name equals the record's `user_name`.
    #[serde(rename = "userName")]
    UserName,
    /// The target holds the record's primary email.
    #[serde(rename = "email")]
    Email,
}

/// The keys to try, in order; the first key that finds an account decides.
///
/// Default: `externalId`, then `userName`, then `email`. An app may configure
/// another order or fewer keys (`["email"]` for a target with no external id), but
/// never none and never one twice. Deserializes from a list of key names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<MatchKey>", into = "Vec<MatchKey>")]
pub struct MatchKeys(Vec<MatchKey>);

/// Why a list of match keys was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MatchKeysError {
    /// No key at all: nothing could ever be adopted, and retried creates would
    /// duplicate.
    #[error("give at least one match key (externalId, userName, email)")]
    Empty,
    /// A key given twice: the order would be ambiguous.
    #[error("match key {0:?} is given twice")]
    Duplicate(MatchKey),
}

impl MatchKeys {
    /// Keys in this order; refused when empty or when one repeats.
    pub fn new(keys: Vec<MatchKey>) -> Result<Self, MatchKeysError> {
        if keys.is_empty() {
            return Err(MatchKeysError::Empty);
        }
        for (i, key) in keys.iter().enumerate() {
            if keys.iter().take(i).any(|k| k == key) {
                return Err(MatchKeysError::Duplicate(*key));
            }
        }
        Ok(Self(keys))
    }

    /// The keys, first to try first.
    pub fn keys(&self) -> &[MatchKey] {
        &self.0
    }
}

impl Default for MatchKeys {
    fn default() -> Self {
        Self(vec![
            MatchKey::ExternalId,
            MatchKey::UserName,
            MatchKey::Email,
        ])
    }
}

impl TryFrom<Vec<MatchKey>> for MatchKeys {
    type Error = MatchKeysError;

    fn try_from(keys: Vec<MatchKey>) -> Result<Self, Self::Error> {
        Self::new(keys)
    }
}

impl From<MatchKeys> for Vec<MatchKey> {
    fn from(keys: MatchKeys) -> Self {
        keys.0
    }
}
