//! `POST /oidc/introspect` (RFC 7662): whether a token is active, and what it is.
//! Anything invalid, expired, revoked, not ours or another client's refresh token
//! is `{"active": false}`, and nothing more (§2.2).

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::access_token;
use crate::client::{AuthMethod, Client};
use crate::error::{OAuthError, StateData, ready};
use crate::form::Form;
use crate::grant;
use crate::state::OidcState;
use crate::token::{authenticate, no_store};

/// The introspection endpoint.
pub async fn introspect(
    data: StateData,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, OAuthError> {
    let state = ready(&data)?;
    let form = Form::read(&req, payload).await?;
    let endpoint = format!("{}/oidc/introspect", state.settings.issuer);
    let client = authenticate(&state, &req, &form, &endpoint).await?;
    // RFC 7662 §2.1: the caller must be authorized; a public client proves nothing.
    if client.auth_method == AuthMethod::None {
        return Err(OAuthError::invalid_client(
            "public clients cannot introspect tokens",
        ));
    }
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let hint = form.get("token_type_hint");
    // §2.1: the hint only orders the lookups.
    let answer = if hint == Some("refresh_token") {
        match refresh(&state, client, token).await? {
            Some(a) => Some(a),
            None => access(&state, token).await?,
        }
    } else {
        match access(&state, token).await? {
            Some(a) => Some(a),
            None => refresh(&state, client, token).await?,
        }
    };
    Ok(no_store(answer.unwrap_or_else(|| json!({"active": false}))))
}

async fn access(state: &OidcState, token: &str) -> usher_core::Result<Option<Value>> {
    let Some(at) = access_token::check(state, token).await? else {
        return Ok(None);
    };
    let c = &at.claims;
    Ok(Some(json!({
        "active": true,
        "token_type": "Bearer",
        "scope": c.get("scope"),
        "client_id": c.get("client_id"),
        "sub": c.get("sub"),
        "aud": c.get("aud"),
        "iss": c.get("iss"),
        "exp": c.get("exp"),
        "iat": c.get("iat"),
        "jti": c.get("jti"),
    })))
}

async fn refresh(
    state: &OidcState,
    client: &Client,
    token: &str,
) -> usher_core::Result<Option<Value>> {
    let Some((rt, exp)) = grant::find_refresh_token(state, token).await? else {
        return Ok(None);
    };
    // Refresh tokens are shown to the client that holds them only.
    if rt.client_id != client.client_id {
        return Ok(None);
    }
    Ok(Some(json!({
        "active": true,
        "scope": rt.scopes.join(" "),
        "client_id": rt.client_id,
        "sub": rt.user_id.to_string(),
        "iss": state.settings.issuer,
        "exp": exp,
    })))
}

/// Remaining lifetime of an access token with `exp`, for the revocation list.
pub(crate) fn remaining(state: &OidcState, exp: Option<i64>) -> Duration {
    let now = state.deps.clock.now().unix_timestamp();
    let secs = exp.map_or(0, |e| (e - now).max(0));
    Duration::from_secs(secs as u64)
}
