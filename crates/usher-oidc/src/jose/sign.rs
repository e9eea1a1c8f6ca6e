//! Compact JWS signing (RFC 7515 §7.1) with one of usher's keys.

use openssl::bn::BigNumRef;
use openssl::ecdsa::EcdsaSig;
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::sign::Signer;
use serde_json::{Value, json};
use usher_core::ports::KeyAlgorithm;

use super::JoseKey;
use super::b64;

/// `typ` of JWT access tokens (RFC 9068 §2.1).
pub const TYP_ACCESS_TOKEN: &str = "at+jwt";
/// `typ` of id_tokens.
pub const TYP_ID_TOKEN: &str = "JWT";
/// `typ` of logout tokens (OIDC Back-Channel Logout 1.0 §2.4).
pub const TYP_LOGOUT_TOKEN: &str = "logout+jwt";

/// Signs `claims` with `key`, header `{"alg","kid","typ"}`.
pub fn sign(key: &JoseKey, typ: &str, claims: &Value) -> usher_core::Result<String> {
    let header = json!({"alg": key.algorithm.as_str(), "kid": key.kid, "typ": typ});
    let input = format!(
        "{}.{}",
        b64::encode(header.to_string().as_bytes()),
        b64::encode(claims.to_string().as_bytes())
    );
    let signature = signature(key, input.as_bytes()).map_err(|e| {
        usher_core::Error::Internal(format!("signing with {} failed: {e}", key.kid))
    })?;
    Ok(format!("{input}.{}", b64::encode(&signature)))
}

fn signature(key: &JoseKey, input: &[u8]) -> Result<Vec<u8>, ErrorStack> {
    match key.algorithm {
        // RFC 7518 §3.3: RSASSA-PKCS1-v1_5 with SHA-256 (openssl's default padding).
        KeyAlgorithm::RS256 => {
            let mut signer = Signer::new(MessageDigest::sha256(), &key.private)?;
            signer.sign_oneshot_to_vec(input)
        }
        // RFC 7518 §3.4: the signature is R || S, each 32 bytes, not DER.
        KeyAlgorithm::ES256 => {
            let mut signer = Signer::new(MessageDigest::sha256(), &key.private)?;
            let der = signer.sign_oneshot_to_vec(input)?;
            let sig = EcdsaSig::from_der(&der)?;
            let mut raw = padded(sig.r())?;
            raw.extend(padded(sig.s())?);
            Ok(raw)
        }
        // RFC 8037 §3.1: Ed25519 signs the message itself.
        KeyAlgorithm::EdDSA => {
            let mut signer = Signer::new_without_digest(&key.private)?;
            signer.sign_oneshot_to_vec(input)
        }
    }
}

fn padded(n: &BigNumRef) -> Result<Vec<u8>, ErrorStack> {
    n.to_vec_padded(32)
}
