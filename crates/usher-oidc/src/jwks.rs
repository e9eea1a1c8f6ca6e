//! `GET /oidc/jwks` (RFC 7517 §5): the public keys of every active and still
//! published key, so tokens signed before a rotation keep verifying.

use actix_web::HttpResponse;
use serde_json::json;

use crate::discovery::cacheable;
use crate::error::{OAuthError, StateData, ready};

/// The JWK set endpoint.
pub async fn jwks(data: StateData) -> Result<HttpResponse, OAuthError> {
    let state = ready(&data)?;
    let keys: Vec<_> = state
        .keys
        .published(&state)
        .await?
        .iter()
        .map(|k| k.jwk.clone())
        .collect();
    Ok(cacheable(json!({ "keys": keys })))
}
