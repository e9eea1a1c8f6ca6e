//! `private_key_jwt` (OIDC Core §9, RFC 7523 §2.2): usher proves itself to the
//! upstream's token endpoint with a short-lived JWT signed by its own key.

use openssl::pkey::{Id, PKey};
use serde_json::json;
use usher_core::SecretBytes;
use usher_core::ports::{KeyAlgorithm, SigningKey};

use crate::jose::{self, JoseKey};

/// `client_assertion_type` of RFC 7523 §2.2.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A signing key for `private_key_jwt` from a PEM private key (RSA: RS256,
/// P-256: ES256, Ed25519: EdDSA). `kid`: the key id the upstream knows it by.
pub fn private_key_jwt_key(pem: &[u8], kid: &str) -> Result<JoseKey, String> {
    let private =
        PKey::private_key_from_pem(pem).map_err(|e| format!("not a PEM private key: {e}"))?;
    let algorithm = match private.id() {
        Id::RSA => KeyAlgorithm::RS256,
        Id::EC => KeyAlgorithm::ES256,
        Id::ED25519 => KeyAlgorithm::EdDSA,
        other => {
            return Err(format!(
                "unsupported key type {other:?} (RSA, P-256 or Ed25519)"
            ));
        }
    };
    let der = |r: Result<Vec<u8>, openssl::error::ErrorStack>| r.map_err(|e| e.to_string());
    let key = SigningKey {
        kid: kid.to_owned(),
        algorithm,
        private_key: SecretBytes::new(der(private.private_key_to_pkcs8())?),
        public_key: der(private.public_key_to_der())?,
        certificate: None,
        created_at: time::OffsetDateTime::UNIX_EPOCH,
        retired_at: None,
        publish_until: None,
    };
    JoseKey::from_signing_key(&key).map_err(|e| e.to_string())
}

/// A client assertion for `token_endpoint`, valid one minute.
pub(crate) fn assertion(
    key: &JoseKey,
    client_id: &str,
    token_endpoint: &str,
    now: i64,
) -> usher_core::Result<String> {
    let claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": token_endpoint,
        "jti": usher_core::random::token()?,
        "iat": now,
        "exp": now + 60,
    });
    jose::sign(key, "JWT", &claims)
}
