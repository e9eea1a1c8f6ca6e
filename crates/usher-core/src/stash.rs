//! Typed values in the ephemeral store: JSON in, JSON out, with a clear error when
//! a stored value does not decode (a value from an older version, or tampering).

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ports::EphemeralStore;
use crate::{Error, Result};

/// Stores `value` as JSON under `key` for `ttl`.
pub async fn put<T: Serialize>(
    store: &dyn EphemeralStore,
    key: &str,
    value: &T,
    ttl: Duration,
) -> Result<()> {
    let bytes = serde_json::to_vec(value).map_err(|e| Error::Internal(e.to_string()))?;
    store.put(key, &bytes, ttl).await
}

/// Reads the JSON value at `key`.
pub async fn get<T: DeserializeOwned>(store: &dyn EphemeralStore, key: &str) -> Result<Option<T>> {
    store.get(key).await?.map(|b| decode(key, &b)).transpose()
}

/// Reads and removes the JSON value at `key`, atomically.
pub async fn take<T: DeserializeOwned>(store: &dyn EphemeralStore, key: &str) -> Result<Option<T>> {
    store.take(key).await?.map(|b| decode(key, &b)).transpose()
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T> {
    let kind = key.split(':').next().unwrap_or("value");
    serde_json::from_slice(bytes)
        .map_err(|e| Error::Internal(format!("stored {kind} does not decode: {e}")))
}
