//! id_token checks (OIDC Core §3.1.3.7) and the userinfo `sub` check (§5.3.4).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJwsSigningAlgorithm};
use openidconnect::{ClientId, Nonce};
use serde_json::{Map, Value};

use super::provider::Metadata;

/// Signature algorithms accepted from upstreams: asymmetric only. `none` is no
/// signature; HMAC would let anyone who knows the key forge tokens, and a
/// verifier that takes the upstream's public key as an HMAC secret accepts
/// tokens forged with that public key (key confusion, CVE-2016-10555 and kin).
pub(crate) const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// How far in the future an `iat` may be (clock skew between usher and the OP).
const MAX_IAT_SKEW_SECS: i64 = 300;

/// The JOSE header fields read before verification.
#[derive(Debug)]
pub(crate) struct Header {
    pub kid: Option<String>,
}

/// Reads the header of a compact JWS without trusting it; `Err` with the reason.
pub(crate) fn peek_header(token: &str) -> Result<Header, String> {
    let first = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(first)
        .map_err(|_| "the id_token header is not base64url".to_owned())?;
    let header: Map<String, Value> = serde_json::from_slice(&bytes)
        .map_err(|_| "the id_token header is not a JSON object".to_owned())?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or("the id_token header has no alg")?;
    let upper = alg.to_ascii_uppercase();
    if upper == "NONE" {
        return Err("the id_token is unsigned (alg none)".into());
    }
    if upper.starts_with("HS") {
        return Err(format!(
            "the id_token is signed with {alg}, a shared-secret algorithm usher does not accept from upstreams"
        ));
    }
    Ok(Header {
        kid: header.get("kid").and_then(Value::as_str).map(str::to_owned),
    })
}

/// The payload of a compact JWS whose signature was already verified.
pub(crate) fn payload(token: &str) -> Result<Map<String, Value>, String> {
    let second = token.split('.').nth(1).unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(second)
        .map_err(|_| "the id_token payload is not base64url".to_owned())?;
    serde_json::from_slice(&bytes).map_err(|_| "the id_token payload is not a JSON object".into())
}

/// Verifies the id_token: signature by the upstream's keys with an allowed
/// algorithm, `iss` equal to the configured issuer, `aud` containing our client
/// id (other audiences refused), `azp` equal to it when present or when there are
/// several audiences, `exp` in the future, `iat` not in the future, `nonce`
/// equal to the one sent. Returns its claims.
pub(crate) fn verify_id_token(
    raw: &str,
    metadata: &Metadata,
    client_id: &str,
    nonce: &str,
    now: time::OffsetDateTime,
) -> Result<Map<String, Value>, String> {
    peek_header(raw)?;
    let token: CoreIdToken = raw
        .parse()
        .map_err(|e| format!("the id_token is malformed: {e}"))?;
    let now_utc = chrono_now(now);
    let verifier = CoreIdTokenVerifier::new_public_client(
        ClientId::new(client_id.to_owned()),
        metadata.issuer().clone(),
        metadata.jwks().clone(),
    )
    .set_allowed_algs(ALLOWED_ALGS)
    .set_time_fn(move || now_utc)
    .set_issue_time_verifier_fn(move |iat| {
        if iat.timestamp() > now.unix_timestamp() + MAX_IAT_SKEW_SECS {
            Err("the id_token was issued in the future".into())
        } else {
            Ok(())
        }
    });
    token
        .claims(&verifier, &Nonce::new(nonce.to_owned()))
        .map_err(|e| format!("the id_token was refused: {e}"))?;
    payload(raw)
}

fn chrono_now(now: time::OffsetDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(now.unix_timestamp(), now.nanosecond())
        .unwrap_or_else(chrono::Utc::now)
}
