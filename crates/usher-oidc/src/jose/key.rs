//! One of usher's signing keys, parsed once: the openssl key and its public JWK.

use openssl::pkey::{PKey, Private, Public};
use usher_core::ports::{KeyAlgorithm, SigningKey};

use super::jwk::PublicJwk;

/// A signing key ready to sign and to publish.
pub struct JoseKey {
    /// `kid`.
    pub kid: String,
    /// Algorithm.
    pub algorithm: KeyAlgorithm,
    pub(crate) private: PKey<Private>,
    pub(crate) public: PKey<Public>,
    /// Public JWK with `kid`, `alg`, `use: "sig"` (and `x5c` for RSA).
    pub jwk: serde_json::Value,
    /// The stored key (status, dates).
    pub stored: SigningKey,
}

impl std::fmt::Debug for JoseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoseKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl JoseKey {
    /// Parses a stored key.
    pub fn from_signing_key(key: &SigningKey) -> usher_core::Result<Self> {
        let crypto = |e: openssl::error::ErrorStack| {
            usher_core::Error::Internal(format!("signing key {} does not parse: {e}", key.kid))
        };
        let private = PKey::private_key_from_pkcs8(key.private_key.expose()).map_err(crypto)?;
        let public = PKey::public_key_from_der(&key.public_key).map_err(crypto)?;
        let jwk = PublicJwk::of(&public, key.algorithm)
            .map_err(crypto)?
            .with_kid(&key.kid, key.algorithm, key.certificate.as_deref());
        Ok(Self {
            kid: key.kid.clone(),
            algorithm: key.algorithm,
            private,
            public,
            jwk,
            stored: key.clone(),
        })
    }

    /// The public key (verification of our own tokens).
    pub fn public_key(&self) -> &PKey<Public> {
        &self.public
    }
}
