//! `GET /federation/{id}/oidc/callback`: the upstream's answer, checked in order:
//! state (known, unused, this browser's, this upstream's), RFC 9207 `iss`, error,
//! code exchange with PKCE, id_token, userinfo. Then the hand-off, bound to this
//! browser's binding cookie.

use actix_web::error::{InternalError, QueryPayloadError};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use openidconnect::core::CoreClient;
use openidconnect::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, OAuth2TokenResponse, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, TokenResponse,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use usher_core::{
    BrowserBinding, ExternalIdentity, FederatedLogin, UpstreamKind, UpstreamSession, random,
};

use super::client_auth::{JWT_BEARER, assertion};
use super::config::UpstreamClientAuth;
use super::http::{Http, send};
use super::page::{page, refused, upstream_failed};
use super::pending;
use super::provider::{Metadata, describe};
use super::start::{enabled_upstream, ready, storage_error};
use super::state::{RpData, RpState, Upstream};
use super::verify::{peek_header, verify_id_token};

/// Longest `error_description` written to the log.
const MAX_DESCRIPTION: usize = 256;

#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Malformed or duplicated query parameters: a 400 page, never a 500.
pub(crate) fn query_error(error: QueryPayloadError, _req: &HttpRequest) -> actix_web::Error {
    let response = page(
        StatusCode::BAD_REQUEST,
        "usher could not read this request",
        "The link is incomplete or malformed. Go back to the app and start again.",
    );
    InternalError::from_response(error, response).into()
}

/// `GET /federation/{id}/oidc/callback`.
pub(crate) async fn callback(
    data: RpData,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    let state = match ready(&data) {
        Ok(s) => s,
        Err(page) => return *page,
    };
    let id = path.into_inner();
    let up = match enabled_upstream(&state, &id) {
        Ok(up) => up,
        Err(page) => return *page,
    };
    match finish(&state, &up, &id, &req, query.into_inner()).await {
        Ok(location) => {
            let mut response = HttpResponse::SeeOther();
            response.insert_header((header::LOCATION, location));
            response.insert_header((header::CACHE_CONTROL, "no-store"));
            response.finish()
        }
        Err(response) => *response,
    }
}

async fn finish(
    state: &RpState,
    up: &Upstream,
    id: &str,
    req: &HttpRequest,
    query: CallbackQuery,
) -> Result<String, Box<HttpResponse>> {
    let name = up.config.display_name.as_str();
    let refuse = |why: &str| refused(id, name, why);
    let state_param = query
        .state
        .as_deref()
        .filter(|s| !s.is_empty() && s.len() <= 256)
        .ok_or_else(|| refuse("the callback has no state"))?;
    // Read, not taken, until the checks below pass: a callback that fails them
    // must not burn the sign-in of the browser it belongs to.
    let pending = pending::get(&*state.deps.ephemeral, state_param)
        .await
        .map_err(|e| storage_error(&e))?
        .ok_or_else(|| refuse("unknown, expired or already used state"))?;
    // Login CSRF (RFC 6749 §10.12): the state must have been issued to this
    // browser, not injected from another session.
    let browser = pending::browser_value(req, state.settings.secure_cookies)
        .map(|v| random::digest(&v))
        .unwrap_or_default();
    if !random::constant_time_eq(browser.as_bytes(), pending.browser.as_bytes()) {
        return Err(Box::new(refuse("the state was issued to another browser")));
    }
    // Mix-up (RFC 9700 §4.4): a response for one upstream delivered to another's
    // callback.
    if pending.upstream != id {
        return Err(Box::new(refuse(&format!(
            "mix-up: the state was issued for upstream {:?}, the response arrived at {id:?}",
            pending.upstream
        ))));
    }
    // Taken once, atomically: a replayed callback, or the second of two from this
    // browser, finds nothing.
    let pending = pending::take(&*state.deps.ephemeral, state_param)
        .await
        .map_err(|e| storage_error(&e))?
        .ok_or_else(|| refuse("unknown, expired or already used state"))?;
    let metadata = up
        .provider
        .metadata()
        .await
        .map_err(|e| upstream_failed(id, name, &e.to_string()))?;
    // RFC 9207 §2.4: `iss`, when sent, must be this upstream's issuer; an OP that
    // announces it always sends it.
    let issuer = metadata.issuer().as_str();
    match query.iss.as_deref() {
        Some(iss) if iss != issuer => {
            return Err(Box::new(refuse(&format!(
                "mix-up: the response's iss {iss:?} is not the issuer {issuer:?}"
            ))));
        }
        None if metadata
            .additional_metadata()
            .authorization_response_iss_parameter_supported
            == Some(true) =>
        {
            return Err(Box::new(refuse(
                "the response has no iss though the upstream announces it",
            )));
        }
        _ => {}
    }
    if let Some(error) = query.error.as_deref() {
        let description: String = query
            .error_description
            .as_deref()
            .unwrap_or_default()
            .chars()
            .take(MAX_DESCRIPTION)
            .collect();
        tracing::info!(
            upstream = id,
            error,
            description,
            "an upstream IdP did not sign the user in"
        );
        let detail = if error == "access_denied" {
            format!(
                "{name} did not sign you in (the sign-in was cancelled or refused there). Go back to the app and try again."
            )
        } else {
            format!(
                "{name} answered with the error \"{}\". Go back to the app and try again; if it keeps happening, tell your administrator.",
                error.chars().take(64).collect::<String>()
            )
        };
        return Err(Box::new(page(
            StatusCode::BAD_REQUEST,
            &format!("Signing in through {name} did not complete"),
            &detail,
        )));
    }
    let code = query
        .code
        .filter(|c| !c.is_empty() && c.len() <= 4096)
        .ok_or_else(|| refuse("the callback has neither a code nor an error"))?;

    let (raw_id_token, access_token) =
        exchange(state, up, id, &metadata, code, pending.pkce_verifier).await?;
    let kid = peek_header(&raw_id_token).map_err(|e| refuse(&e))?.kid;
    let metadata = up
        .provider
        .refresh_keys_for(metadata, kid.as_deref())
        .await
        .map_err(|e| upstream_failed(id, name, &e.to_string()))?;
    let now = state.deps.clock.now();
    let mut claims = verify_id_token(
        &raw_id_token,
        &metadata,
        &up.config.client_id,
        &pending.nonce,
        now,
    )
    .map_err(|e| refuse(&e))?;
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| refuse("the id_token has no sub"))?
        .to_owned();
    if up.config.userinfo
        && let Some(endpoint) = metadata.userinfo_endpoint()
    {
        let info = userinfo(up, endpoint.url().as_str(), &access_token)
            .await
            .map_err(|e| upstream_failed(id, name, &e))?;
        // OIDC Core §5.3.4: a userinfo response for another subject is a token
        // substitution; nothing of it may be used.
        if info.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
            return Err(Box::new(refuse(
                "the userinfo sub is not the id_token's sub",
            )));
        }
        for (k, v) in info {
            claims.entry(k).or_insert(v);
        }
    }
    let identity = identity(id, subject, claims, raw_id_token)?;
    // Login CSRF at the hand-off (issue 10): only the browser checked above may
    // redeem `/login/federated?t=`, by the same binding cookie.
    let browser = BrowserBinding::from_digest(
        pending::cookie_name(state.settings.secure_cookies),
        &pending.browser,
    )
    .map_err(|_| refuse("this browser sent no binding cookie"))?;
    let handoff = FederatedLogin {
        identity,
        login: pending.login,
        browser,
    };
    let t = state
        .deps
        .interactions
        .start_federated(&handoff)
        .await
        .map_err(|e| storage_error(&e))?;
    Ok(format!("/login/federated?t={t}"))
}

/// The code exchange (RFC 6749 §4.1.3 with RFC 7636 §4.5); returns the raw
/// id_token and the access token.
async fn exchange(
    state: &RpState,
    up: &Upstream,
    id: &str,
    metadata: &Metadata,
    code: String,
    verifier: String,
) -> Result<(String, String), Box<HttpResponse>> {
    let name = up.config.display_name.as_str();
    let failed = |why: String| upstream_failed(id, name, &why);
    let redirect = RedirectUrl::new(state.callback_url(id)).map_err(|e| failed(e.to_string()))?;
    let secret = match &up.config.auth {
        UpstreamClientAuth::SecretBasic(s) | UpstreamClientAuth::SecretPost(s) => {
            Some(ClientSecret::new(s.clone()))
        }
        UpstreamClientAuth::PrivateKeyJwt(_) => None,
    };
    let mut client = CoreClient::from_provider_metadata(
        metadata.clone(),
        ClientId::new(up.config.client_id.clone()),
        secret,
    )
    .set_redirect_uri(redirect);
    if matches!(up.config.auth, UpstreamClientAuth::SecretPost(_)) {
        client = client.set_auth_type(AuthType::RequestBody);
    }
    let mut request = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| failed(format!("the upstream has no token endpoint: {e}")))?
        .set_pkce_verifier(PkceCodeVerifier::new(verifier));
    if let UpstreamClientAuth::PrivateKeyJwt(key) = &up.config.auth {
        let endpoint = metadata
            .token_endpoint()
            .map(|u| u.as_str().to_owned())
            .unwrap_or_default();
        let jwt = assertion(
            key,
            &up.config.client_id,
            &endpoint,
            state.deps.clock.now().unix_timestamp(),
        )
        .map_err(|e| failed(e.to_string()))?;
        request = request
            .add_extra_param("client_assertion_type", JWT_BEARER)
            .add_extra_param("client_assertion", jwt);
    }
    let http = Http(&up.provider.http);
    let response = request.request_async(&http).await.map_err(|e| match &e {
        // The upstream refused the code (reused, expired, wrong verifier or client).
        RequestTokenError::ServerResponse(r) => refused(
            id,
            name,
            &format!("the token endpoint refused the code: {}", r.error()),
        ),
        _ => failed(format!("the token request failed: {}", describe(&e))),
    })?;
    let id_token = response
        .id_token()
        .ok_or_else(|| failed("the token response has no id_token".into()))?
        .to_string();
    Ok((id_token, response.access_token().secret().clone()))
}

/// Reads userinfo (OIDC Core §5.3) as JSON.
async fn userinfo(
    up: &Upstream,
    endpoint: &str,
    access_token: &str,
) -> Result<Map<String, Value>, String> {
    let request = openidconnect::http::Request::builder()
        .method("GET")
        .uri(endpoint)
        .header(
            header::AUTHORIZATION.as_str(),
            format!("Bearer {access_token}"),
        )
        .header(header::ACCEPT.as_str(), "application/json")
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let response = send(&up.provider.http, request)
        .await
        .map_err(|e| format!("the userinfo request failed: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("userinfo answered {}", response.status()));
    }
    serde_json::from_slice(response.body()).map_err(|_| {
        "userinfo did not answer with a JSON object (signed userinfo is not supported)".into()
    })
}

/// The verified identity, for `/login/federated`.
fn identity(
    id: &str,
    subject: String,
    claims: Map<String, Value>,
    raw_id_token: String,
) -> Result<ExternalIdentity, Box<HttpResponse>> {
    let upstream = usher_core::UpstreamId::parse(id).map_err(|e| {
        page(
            StatusCode::NOT_FOUND,
            "This sign-in option does not exist",
            &e.to_string(),
        )
    })?;
    let email = claims
        .get("email")
        .and_then(Value::as_str)
        .map(str::to_owned);
    // OIDC Core §5.1: `email_verified` is a boolean; absent counts as false.
    // (A few IdPs send the string "true"; that is accepted as true.)
    let email_verified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    let authn_methods = claims
        .get("amr")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let sid = claims.get("sid").and_then(Value::as_str).map(str::to_owned);
    Ok(ExternalIdentity {
        upstream,
        kind: UpstreamKind::Oidc,
        subject,
        email,
        email_verified,
        attributes: claims,
        authn_methods,
        upstream_session: Some(UpstreamSession::Oidc {
            id_token: raw_id_token,
            sid,
        }),
    })
}
