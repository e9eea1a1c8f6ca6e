//! `POST /oidc/revoke` (RFC 7009): a refresh token takes its whole family with it
//! (§2.1: "the authorization server ... SHOULD also invalidate" the grant's other
//! tokens); an access token goes on the revocation list. Unknown tokens and other
//! clients' tokens get 200 and change nothing (§2.2, §2.1).

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use crate::access_token;
use crate::error::{OAuthError, StateData, ready};
use crate::form::Form;
use crate::grant;
use crate::introspect::remaining;
use crate::token::authenticate;

/// The revocation endpoint.
pub async fn revoke(
    data: StateData,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, OAuthError> {
    let state = ready(&data)?;
    let form = Form::read(&req, payload).await?;
    let endpoint = format!("{}/oidc/revoke", state.settings.issuer);
    // §2.1: public clients may revoke their own tokens (client_id identifies them).
    let client = authenticate(&state, &req, &form, &endpoint).await?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    if let Some((rt, _)) = grant::find_refresh_token(&state, token).await? {
        if rt.client_id == client.client_id {
            grant::revoke_family(&state, &rt.family).await?;
        }
    } else if let Some(at) = access_token::check(&state, token).await?
        && at.text("client_id") == Some(client.client_id.as_str())
        && let Some(jti) = at.text("jti")
    {
        let left = remaining(&state, at.claims.get("exp").and_then(Value::as_i64));
        grant::revoke_access_token(&state, jti, left).await?;
    }
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .finish())
}
