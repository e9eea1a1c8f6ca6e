//! `id_token_hint` (OIDC Core §3.1.2.1; RP-Initiated Logout 1.0 §2): an id_token
//! this OP issued, checked by signature against our published keys and by issuer.
//! Its expiry is not checked: a hint is typically an old id_token.

use serde_json::Value;

use crate::jose;
use crate::state::OidcState;

/// The claims of a verified hint the endpoints use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HintClaims {
    /// The user.
    pub sub: String,
    /// The clients it was issued to.
    pub aud: Vec<String>,
    /// The SSO session it came from.
    pub sid: Option<String>,
}

/// Verifies a hint; `Ok(None)` when it is not an id_token of ours (bad signature,
/// another issuer, an access or logout token, malformed).
pub(crate) async fn verify_hint(
    state: &OidcState,
    token: &str,
) -> usher_core::Result<Option<HintClaims>> {
    let keys = state.keys.verify_keys(state).await?;
    let Ok(verified) = jose::verify(token, &keys) else {
        return Ok(None);
    };
    // Our access tokens (`at+jwt`) and logout tokens (`logout+jwt`) are signed with
    // the same keys: the header type tells them apart from id_tokens.
    let typ = verified.header.get("typ").and_then(Value::as_str);
    if typ.is_some_and(|t| t != jose::TYP_ID_TOKEN) {
        return Ok(None);
    }
    let claims = &verified.claims;
    if claims.get("iss").and_then(Value::as_str) != Some(state.settings.issuer.as_str()) {
        return Ok(None);
    }
    // Logout tokens carry `events` and access tokens `client_id` + `scope`:
    // neither is an id_token, whatever its header says.
    if claims.get("events").is_some() || claims.get("scope").is_some() {
        return Ok(None);
    }
    let Some(sub) = claims.get("sub").and_then(Value::as_str) else {
        return Ok(None);
    };
    let aud = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => return Ok(None),
    };
    if aud.is_empty() {
        return Ok(None);
    }
    Ok(Some(HintClaims {
        sub: sub.to_owned(),
        aud,
        sid: claims.get("sid").and_then(Value::as_str).map(str::to_owned),
    }))
}
