//! The `refresh_token` grant (RFC 6749 §6) with rotation (RFC 9700 §4.14.2).

use actix_web::HttpResponse;

use crate::claims::Authentication;
use crate::client::Client;
use crate::error::OAuthError;
use crate::form::Form;
use crate::grant::{self, RefreshUse};
use crate::state::OidcState;

use super::issue::{self, Grant, RefreshIssue};
use super::scope;
use super::user::active_user;

/// Redeems a refresh token for new tokens and its successor.
pub async fn exchange(
    state: &OidcState,
    client: &Client,
    form: &Form,
) -> Result<HttpResponse, OAuthError> {
    let token = form
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    // Checked before the token is consumed: a bad scope must not burn it.
    if let Some((found, _)) = grant::find_refresh_token(state, token).await?
        && found.client_id == client.client_id
    {
        scope::narrow(&found.scopes, form.get("scope"))?;
    }
    let (record, next) = match grant::use_refresh_token(state, token, &client.client_id).await? {
        RefreshUse::Valid { record, next } => (record, next),
        RefreshUse::Reused => {
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used; its grant is revoked",
            ));
        }
        RefreshUse::Invalid => {
            return Err(OAuthError::invalid_grant(
                "the refresh token is invalid, expired or revoked",
            ));
        }
    };
    let scopes = scope::narrow(&record.scopes, form.get("scope"))?;
    let user = active_user(state, record.user_id).await?;
    let grant = Grant {
        client,
        user: Some(&user),
        authentication: Some(Authentication {
            auth_time: record.auth_time,
            sid: record.sid.clone(),
            amr: record.amr.clone(),
            acr: record.acr.clone(),
        }),
        scopes,
        // RFC 6749 §6: the new refresh token keeps the presented one's scope.
        refresh_scopes: record.scopes.clone(),
        nonce: None,
        jti: None,
        refresh: Some(RefreshIssue::Rotated {
            family: record.family.clone(),
            token: next,
        }),
    };
    Ok(issue::respond(state, grant).await?)
}
