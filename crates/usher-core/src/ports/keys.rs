use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Result, SecretBytes};

/// The signature algorithms usher signs with, by their JOSE names (RFC 7518 §3.1,
/// RFC 8037 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 on RSA-2048; also signs SAML (rsa-sha256).
    RS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl KeyAlgorithm {
    /// Every algorithm, in the order keys are generated and listed.
    pub const ALL: [KeyAlgorithm; 3] = [
        KeyAlgorithm::RS256,
        KeyAlgorithm::ES256,
        KeyAlgorithm::EdDSA,
    ];

    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlgorithm::RS256 => "RS256",
            KeyAlgorithm::ES256 => "ES256",
            KeyAlgorithm::EdDSA => "EdDSA",
        }
    }

    /// Parses the JOSE `alg` name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Signs new tokens and assertions.
    Active,
    /// No longer signs, still published so tokens it signed can be verified.
    Published,
    /// Past its publication: nothing it signed can still be valid.
    Expired,
}

/// A signing key with its private part (decrypted).
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// Key id (JWK `kid`), unique.
    pub kid: String,
    /// Algorithm.
    pub algorithm: KeyAlgorithm,
    /// Private key, PKCS#8 DER.
    pub private_key: SecretBytes,
    /// Public key, SubjectPublicKeyInfo DER.
    pub public_key: Vec<u8>,
    /// Self-signed X.509 certificate, DER (RSA keys, for SAML metadata).
    pub certificate: Option<Vec<u8>>,
    /// When generated.
    pub created_at: OffsetDateTime,
    /// When it stopped signing; `None` while active.
    pub retired_at: Option<OffsetDateTime>,
    /// Until when a retired key stays published.
    pub publish_until: Option<OffsetDateTime>,
}

impl SigningKey {
    /// The key's status at `now`.
    pub fn status(&self, now: OffsetDateTime) -> KeyStatus {
        match (self.retired_at, self.publish_until) {
            (None, _) => KeyStatus::Active,
            (Some(_), Some(until)) if now < until => KeyStatus::Published,
            _ => KeyStatus::Expired,
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("private_key", &self.private_key)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .field("publish_until", &self.publish_until)
            .finish_non_exhaustive()
    }
}

/// Signing keys, private parts encrypted at rest by the implementation.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a new key.
    async fn insert(&self, key: SigningKey) -> Result<()>;
    /// Every stored key, oldest first, private parts decrypted. Fails with
    /// [`Error::MasterKeyMismatch`](crate::Error::MasterKeyMismatch) when they were
    /// sealed under another master key.
    async fn list(&self) -> Result<Vec<SigningKey>>;
    /// Marks a key retired at `at`, published until `publish_until`.
    async fn retire(
        &self,
        kid: &str,
        at: OffsetDateTime,
        publish_until: OffsetDateTime,
    ) -> Result<()>;
    /// Deletes keys whose publication ended before `now`; returns how many.
    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64>;
}
