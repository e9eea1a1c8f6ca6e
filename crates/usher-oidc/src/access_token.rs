//! Checking one of our own JWT access tokens (RFC 9068 §4): our signature, `typ`
//! `at+jwt`, our issuer, not expired, not revoked.

use serde_json::Value;

use crate::grant;
use crate::jose;
use crate::state::OidcState;

/// The claims of a valid access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// All its claims.
    pub claims: Value,
}

impl AccessToken {
    /// A string claim.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// Its scopes.
    pub fn scopes(&self) -> Vec<String> {
        self.text("scope")
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// The token's claims when it is a valid, unrevoked access token we issued;
/// `None` otherwise (the reason is logged at debug level only).
pub async fn check(state: &OidcState, token: &str) -> usher_core::Result<Option<AccessToken>> {
    let keys = state.keys.verify_keys(state).await?;
    let verified = match jose::verify(token, &keys) {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!(error = %e, "access token refused");
            return Ok(None);
        }
    };
    // RFC 9068 §4: typ must be at+jwt, so an id_token is never taken for an
    // access token.
    let typ = verified.header.get("typ").and_then(Value::as_str);
    if !typ.is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    }) {
        return Ok(None);
    }
    let claims = verified.claims;
    if claims.get("iss").and_then(Value::as_str) != Some(state.settings.issuer.as_str()) {
        return Ok(None);
    }
    let now = state.deps.clock.now().unix_timestamp();
    if claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_none_or(|exp| now >= exp)
    {
        return Ok(None);
    }
    let Some(jti) = claims.get("jti").and_then(Value::as_str) else {
        return Ok(None);
    };
    if grant::access_token_revoked(state, jti).await? {
        return Ok(None);
    }
    Ok(Some(AccessToken { claims }))
}
