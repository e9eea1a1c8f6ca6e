//! `POST /oidc/token` (RFC 6749 §3.2): a form, an authenticated client, a grant.

mod client_auth;
mod client_credentials;
mod code;
mod issue;
mod refresh;
mod scope;
mod user;

use actix_web::{HttpRequest, HttpResponse, web};

pub use client_auth::authenticate;
pub use issue::no_store;

use crate::client::GrantType;
use crate::error::{OAuthError, StateData, ready};
use crate::form::Form;

/// The token endpoint.
pub async fn token(
    data: StateData,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, OAuthError> {
    let state = ready(&data)?;
    let form = Form::read(&req, payload).await?;
    let endpoint = format!("{}/oidc/token", state.settings.issuer);
    let client = authenticate(&state, &req, &form, &endpoint).await?;
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    let grant = GrantType::parse(grant_type).ok_or_else(|| {
        OAuthError::new(
            "unsupported_grant_type",
            format!("grant_type {grant_type} is not supported"),
        )
    })?;
    // RFC 6749 §5.2 unauthorized_client: not registered for this grant.
    if !client.grant_types.contains(&grant) {
        return Err(OAuthError::new(
            "unauthorized_client",
            format!("this client may not use {grant_type}"),
        ));
    }
    match grant {
        GrantType::AuthorizationCode => code::exchange(&state, client, &form).await,
        GrantType::RefreshToken => refresh::exchange(&state, client, &form).await,
        GrantType::ClientCredentials => client_credentials::exchange(&state, client, &form).await,
    }
}
