//! The `client_credentials` grant (RFC 6749 §4.4): an access token for the client
//! itself, `sub` = client_id, no id_token, no refresh token (§4.4.3).

use actix_web::HttpResponse;

use crate::client::{AuthMethod, Client};
use crate::error::OAuthError;
use crate::form::Form;
use crate::state::OidcState;

use super::issue::{self, Grant};
use super::scope;

/// Issues the client's access token.
pub async fn exchange(
    state: &OidcState,
    client: &Client,
    form: &Form,
) -> Result<HttpResponse, OAuthError> {
    // RFC 6749 §4.4: confidential clients only.
    if client.auth_method == AuthMethod::None {
        return Err(OAuthError::new(
            "unauthorized_client",
            "public clients cannot use client_credentials",
        ));
    }
    // The OP's scopes are about users; API scopes come with resource servers.
    if let Some(s) = scope::parse(form.get("scope")).first() {
        return Err(OAuthError::new(
            "invalid_scope",
            format!("scope {s} cannot be granted to a client"),
        ));
    }
    let grant = Grant {
        client,
        user: None,
        authentication: None,
        scopes: Vec::new(),
        refresh_scopes: Vec::new(),
        nonce: None,
        jti: None,
        refresh: None,
    };
    Ok(issue::respond(state, grant).await?)
}
