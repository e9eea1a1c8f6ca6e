//! What usher knows of an upstream OP: its discovery document (re-read hourly)
//! and its keys (re-read when an id_token names a `kid` we do not have).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{AdditionalProviderMetadata, IssuerUrl, JsonWebKey, ProviderMetadata};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use super::http::{Http, HttpError};

/// Least time between two JWKS refetches caused by unknown `kid`s: a flood of
/// tokens with random `kid`s must not turn usher into a load generator against
/// the upstream.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// How long a discovery document is used before it is read again.
const METADATA_TTL: Duration = Duration::from_secs(3600);

/// Discovery fields `openidconnect` does not model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Extra {
    /// RP-Initiated Logout 1.0 §2.1.
    pub end_session_endpoint: Option<String>,
    /// RFC 9207 §3: the OP puts `iss` in every authorization response.
    pub authorization_response_iss_parameter_supported: Option<bool>,
}

impl AdditionalProviderMetadata for Extra {}

/// The discovery document.
pub(crate) type Metadata = ProviderMetadata<
    Extra,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// Why the upstream's documents could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProviderError {
    /// The issuer is not a URL.
    #[error("the configured issuer is not a URL: {0}")]
    Issuer(String),
    /// Discovery failed (unreachable, slow, not JSON, wrong issuer).
    #[error("discovery failed: {0}")]
    Discovery(String),
    /// The JWKS could not be read.
    #[error("reading the JWKS failed: {0}")]
    Jwks(String),
}

struct Cached {
    metadata: Metadata,
    fetched: Instant,
}

/// An upstream OP's documents, cached.
pub(crate) struct Provider {
    issuer: String,
    pub(crate) http: reqwest::Client,
    cached: RwLock<Option<Cached>>,
    last_refetch: Mutex<Option<Instant>>,
}

impl Provider {
    pub(crate) fn new(issuer: &str, http: reqwest::Client) -> Self {
        Self {
            issuer: issuer.to_owned(),
            http,
            cached: RwLock::new(None),
            last_refetch: Mutex::new(None),
        }
    }

    /// The discovery document (with its JWKS), fetched when missing or older than
    /// an hour. A failed re-read keeps the last good document (logged).
    pub(crate) async fn metadata(&self) -> Result<Metadata, ProviderError> {
        if let Some(c) = &*self.cached.read().await
            && c.fetched.elapsed() < METADATA_TTL
        {
            return Ok(c.metadata.clone());
        }
        let mut cached = self.cached.write().await;
        if let Some(c) = &*cached
            && c.fetched.elapsed() < METADATA_TTL
        {
            return Ok(c.metadata.clone());
        }
        match self.discover().await {
            Ok(metadata) => {
                *cached = Some(Cached {
                    metadata: metadata.clone(),
                    fetched: Instant::now(),
                });
                Ok(metadata)
            }
            Err(e) => match &*cached {
                Some(c) => {
                    tracing::warn!(issuer = %self.issuer, error = %e, "re-reading an upstream's discovery document failed; keeping the last one");
                    Ok(c.metadata.clone())
                }
                None => Err(e),
            },
        }
    }

    async fn discover(&self) -> Result<Metadata, ProviderError> {
        let issuer = IssuerUrl::new(self.issuer.clone())
            .map_err(|e| ProviderError::Issuer(e.to_string()))?;
        let http = Http(&self.http);
        // Checks that the document's `issuer` is exactly ours (Discovery §4.3).
        Metadata::discover_async(issuer, &http)
            .await
            .map_err(|e| ProviderError::Discovery(describe(&e)))
    }

    /// Reads the JWKS again when `kid` is unknown and the last refetch is older
    /// than [`JWKS_REFETCH_INTERVAL`]; returns the (possibly new) document.
    pub(crate) async fn refresh_keys_for(
        &self,
        metadata: Metadata,
        kid: Option<&str>,
    ) -> Result<Metadata, ProviderError> {
        let known = metadata
            .jwks()
            .keys()
            .iter()
            .any(|k| k.key_id().map(|id| id.as_str()) == kid);
        if known || kid.is_none() {
            return Ok(metadata);
        }
        {
            let mut last = self
                .last_refetch
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|t| t.elapsed() < JWKS_REFETCH_INTERVAL) {
                return Ok(metadata);
            }
            *last = Some(Instant::now());
        }
        let http = Http(&self.http);
        let jwks = CoreJsonWebKeySet::fetch_async(metadata.jwks_uri(), &http)
            .await
            .map_err(|e| ProviderError::Jwks(describe(&e)))?;
        let metadata = metadata.set_jwks(jwks);
        let mut cached = self.cached.write().await;
        *cached = Some(Cached {
            metadata: metadata.clone(),
            fetched: cached.as_ref().map_or_else(Instant::now, |c| c.fetched),
        });
        tracing::info!(issuer = %self.issuer, "re-read an upstream's JWKS for a new key id");
        Ok(metadata)
    }
}

/// An error with its sources, for logs.
pub(crate) fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl From<HttpError> for ProviderError {
    fn from(e: HttpError) -> Self {
        ProviderError::Discovery(e.to_string())
    }
}
