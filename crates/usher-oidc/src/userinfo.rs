//! `GET|POST /oidc/userinfo` (OIDC Core §5.3): the user's claims for the scopes of
//! a bearer access token.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;
use usher_core::{Error, UserId};

use crate::access_token;
use crate::claims;
use crate::error::{OAuthError, StateData, ready};
use crate::form::Form;

/// RFC 6750 §2.1: `Authorization: Bearer <token>`.
fn header_token(req: &HttpRequest) -> Result<Option<String>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| OAuthError::invalid_request("malformed Authorization header").bearer())?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(OAuthError::invalid_request("the Authorization header must be Bearer").bearer()),
    }
}

fn has_form_body(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

/// The UserInfo endpoint.
pub async fn userinfo(
    data: StateData,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, OAuthError> {
    let state = ready(&data)?;
    let from_header = header_token(&req)?;
    // RFC 6750 §2.2: the form body, only with POST and the form content type.
    let from_body = if req.method() == actix_web::http::Method::POST && has_form_body(&req) {
        Form::read(&req, payload)
            .await
            .map_err(|e| e.bearer())?
            .get("access_token")
            .map(str::to_owned)
    } else {
        None
    };
    // RFC 6750 §2: clients MUST NOT use more than one method per request; the
    // query string (§2.3) is not accepted.
    let token = match (from_header, from_body) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "the access token was sent in the header and in the body",
            )
            .bearer());
        }
        (Some(t), None) | (None, Some(t)) => t,
        // RFC 6750 §3.1: no token, no error code in the challenge.
        (None, None) => {
            return Err(OAuthError::new("invalid_request", "")
                .status(actix_web::http::StatusCode::UNAUTHORIZED)
                .bearer());
        }
    };
    let Some(at) = access_token::check(&state, &token).await? else {
        return Err(OAuthError::invalid_token(
            "the access token is invalid, expired or revoked",
        ));
    };
    // A client_credentials token names no user.
    let user_id = at
        .text("sub")
        .and_then(|s| s.parse::<uuid::Uuid>().ok())
        .map(UserId)
        .ok_or_else(|| OAuthError::invalid_token("the access token names no user"))?;
    let scopes = at.scopes();
    if !scopes.iter().any(|s| s == "openid") {
        return Err(OAuthError::new("insufficient_scope", "the openid scope is required").bearer());
    }
    let user = match state.deps.directory.get_user(user_id).await {
        Ok(u) if u.active => u,
        Ok(_) | Err(Error::NotFound { .. }) => {
            return Err(OAuthError::invalid_token("the user is no longer active"));
        }
        Err(e) => return Err(e.into()),
    };
    let claims = claims::user_claims(&state, &user, &scopes).await?;
    Ok(crate::token::no_store(Value::Object(claims)))
}
