//! Compact JWS verification against a set of public keys (RFC 7515 §5.2), with the
//! algorithm checks of RFC 8725 §3.1 done before any key is chosen.

use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::sign::Verifier;
use serde_json::Value;
use usher_core::ports::KeyAlgorithm;

use super::b64;
use super::jwk::public_key_from_jwk;

/// Why a JWS was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoseError {
    /// Not three base64url parts of JSON objects.
    #[error("the JWT is malformed")]
    Malformed,
    /// `none`, an HMAC algorithm or anything but RS256, ES256 and EdDSA.
    #[error("the JWT algorithm {0:?} is not accepted")]
    Algorithm(String),
    /// A critical header extension we do not understand (RFC 7515 §4.1.11).
    #[error("the JWT has critical header parameters")]
    Critical,
    /// No key of the right type (and `kid`).
    #[error("no key matches the JWT")]
    NoKey,
    /// The signature does not verify.
    #[error("the JWT signature is invalid")]
    Signature,
}

/// A verified JWS.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Its protected header.
    pub header: Value,
    /// Its payload, a JSON object. Claims (exp, aud, iss) are the caller's to check.
    pub claims: Value,
    /// The algorithm it was signed with.
    pub algorithm: KeyAlgorithm,
}

/// A public key a JWS may be verified with.
#[derive(Debug)]
pub struct VerifyKey {
    /// Its `kid`, when it has one.
    pub kid: Option<String>,
    /// The one algorithm its type verifies (RSA → RS256, P-256 → ES256,
    /// Ed25519 → EdDSA).
    pub algorithm: KeyAlgorithm,
    /// The key.
    pub key: PKey<Public>,
}

/// The usable signing keys of a JWK set document (`{"keys": [...]}`): keys
/// marked for encryption, of other types, or whose `alg` differs from their type's
/// are left out.
pub fn keys_of_jwks(jwks: &Value) -> Vec<VerifyKey> {
    let keys = jwks.get("keys").and_then(Value::as_array);
    keys.into_iter()
        .flatten()
        .filter(|jwk| {
            jwk.get("use")
                .and_then(Value::as_str)
                .is_none_or(|u| u == "sig")
        })
        .filter_map(|jwk| {
            let (algorithm, key) = public_key_from_jwk(jwk)?;
            let declared = jwk.get("alg").and_then(Value::as_str);
            if declared.is_some_and(|a| a != algorithm.as_str()) {
                return None;
            }
            let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
            Some(VerifyKey {
                kid,
                algorithm,
                key,
            })
        })
        .collect()
}

/// Verifies `jws` with one of the keys of a JWK set document.
pub fn verify_with_jwks(jws: &str, jwks: &Value) -> Result<Verified, JoseError> {
    // Refuse a bad algorithm before parsing any key (RFC 8725 §3.1).
    header_algorithm(jws)?;
    verify(jws, &keys_of_jwks(jwks))
}

fn decode_json(part: &str) -> Result<Value, JoseError> {
    let bytes = b64::decode(part).ok_or(JoseError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(JoseError::Malformed),
    }
}

fn split(jws: &str) -> Result<(&str, &str, &str), JoseError> {
    let mut parts = jws.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => Ok((h, p, s)),
        _ => Err(JoseError::Malformed),
    }
}

/// Parses the header and checks the algorithm: only RS256, ES256 and EdDSA; never
/// `none` (RFC 8725 §3.2), never HMAC (a public key used as a MAC secret: key
/// confusion, RFC 8725 §2.1).
fn header_algorithm(jws: &str) -> Result<(Value, KeyAlgorithm), JoseError> {
    let (h, _, _) = split(jws)?;
    let header = decode_json(h)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(JoseError::Malformed)?;
    let algorithm = KeyAlgorithm::parse(alg).ok_or_else(|| JoseError::Algorithm(alg.to_owned()))?;
    if header.get("crit").is_some() {
        return Err(JoseError::Critical);
    }
    Ok((header, algorithm))
}

/// Verifies `jws` with the key named by its `kid`, or else the only key of the
/// algorithm's type. Keys named in the header (`jwk`, `jku`, `x5u`, `x5c`) are
/// never used.
pub fn verify(jws: &str, keys: &[VerifyKey]) -> Result<Verified, JoseError> {
    let (header, algorithm) = header_algorithm(jws)?;
    let (h, p, s) = split(jws)?;
    let claims = decode_json(p)?;
    let signature = b64::decode(s).ok_or(JoseError::Malformed)?;
    // The key's type must match the algorithm: an RSA key never checks an ES256
    // signature, whatever the kid says.
    let mut candidates = keys.iter().filter(|k| k.algorithm == algorithm);
    let key = match header.get("kid") {
        Some(Value::String(kid)) => candidates.find(|k| k.kid.as_deref() == Some(kid)),
        Some(_) => return Err(JoseError::Malformed),
        None => {
            let first = candidates.next();
            if candidates.next().is_some() {
                None
            } else {
                first
            }
        }
    }
    .ok_or(JoseError::NoKey)?;
    let input = format!("{h}.{p}");
    if check(key, algorithm, input.as_bytes(), &signature).unwrap_or(false) {
        Ok(Verified {
            header,
            claims,
            algorithm,
        })
    } else {
        Err(JoseError::Signature)
    }
}

fn check(
    key: &VerifyKey,
    algorithm: KeyAlgorithm,
    input: &[u8],
    signature: &[u8],
) -> Result<bool, openssl::error::ErrorStack> {
    match algorithm {
        KeyAlgorithm::RS256 => {
            let mut verifier = Verifier::new(MessageDigest::sha256(), &key.key)?;
            verifier.verify_oneshot(signature, input)
        }
        // RFC 7518 §3.4: exactly 64 bytes, R || S.
        KeyAlgorithm::ES256 => {
            let Some((r, s)) = signature
                .split_at_checked(32)
                .filter(|(_, s)| s.len() == 32)
            else {
                return Ok(false);
            };
            let r = BigNum::from_slice(r)?;
            let s = BigNum::from_slice(s)?;
            let der = EcdsaSig::from_private_components(r, s)?.to_der()?;
            let mut verifier = Verifier::new(MessageDigest::sha256(), &key.key)?;
            verifier.verify_oneshot(&der, input)
        }
        KeyAlgorithm::EdDSA => {
            let mut verifier = Verifier::new_without_digest(&key.key)?;
            verifier.verify_oneshot(signature, input)
        }
    }
}
