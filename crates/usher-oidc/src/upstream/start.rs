//! `GET /federation/{id}/oidc/start?t=LOGIN`: off to the upstream.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow, CoreClient};
use openidconnect::{ClientId, CsrfToken, Nonce, PkceCodeChallenge, RedirectUrl, Scope};
use serde::Deserialize;
use usher_core::{LoginRequest, random};

use super::page::{page, upstream_failed};
use super::pending::{self, PendingUpstream};
use super::state::{RpData, RpState, Upstream};

/// Longest `login_hint` passed on to the upstream.
const MAX_HINT_LEN: usize = 320;

#[derive(Deserialize)]
pub(crate) struct StartQuery {
    t: Option<String>,
}

/// The relying party's state, or a 503 page while usher starts.
pub(crate) fn ready(data: &RpData) -> Result<std::sync::Arc<RpState>, Box<HttpResponse>> {
    data.get().cloned().ok_or_else(|| {
        Box::new(page(
            StatusCode::SERVICE_UNAVAILABLE,
            "usher is starting, try again in a moment",
            "usher is still opening its database. Reload this page in a few seconds.",
        ))
    })
}

/// The upstream named in the path, enabled; or the page that says why not.
pub(crate) fn enabled_upstream(
    state: &RpState,
    id: &str,
) -> Result<std::sync::Arc<Upstream>, Box<HttpResponse>> {
    let Some(up) = state.upstreams.get(id).cloned() else {
        return Err(Box::new(page(
            StatusCode::NOT_FOUND,
            "This sign-in option does not exist",
            "The link names an identity provider usher does not know. Go back and choose \
             another way to sign in.",
        )));
    };
    if !up.config.enabled {
        tracing::info!(
            upstream = id,
            "refused a sign-in through a disabled upstream"
        );
        return Err(Box::new(page(
            StatusCode::FORBIDDEN,
            &format!(
                "Signing in through {} is turned off",
                up.config.display_name
            ),
            "Your administrator has turned this sign-in option off. Go back and choose \
             another way to sign in.",
        )));
    }
    Ok(up)
}

fn plausible(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 64
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn expired() -> HttpResponse {
    page(
        StatusCode::BAD_REQUEST,
        "This sign-in link has expired",
        "This link is no longer valid. Go back to the app and start again.",
    )
}

/// `GET /federation/{id}/oidc/start`.
pub(crate) async fn start(
    data: RpData,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<StartQuery>,
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
    let name = up.config.display_name.as_str();
    let login: Option<LoginRequest> = match query.t.as_deref() {
        None => None,
        Some(t) if !plausible(t) => return expired(),
        Some(t) => match state.deps.interactions.login(t).await {
            Ok(Some(login)) => Some(login),
            Ok(None) => return expired(),
            Err(e) => return storage_error(&e),
        },
    };
    // The app's list of allowed upstreams (checked again by /login/federated).
    if let Some(allowed) = login.as_ref().and_then(|l| l.allowed_upstreams.as_ref())
        && !allowed.iter().any(|a| a == &id)
    {
        return page(
            StatusCode::FORBIDDEN,
            &format!("This app does not accept sign-ins through {name}"),
            "Go back and choose another way to sign in.",
        );
    }
    // Issue 10, defect 4: anyone can start a federated sign-in, and each start
    // parks a pending request for 10 minutes; the address pays for it first
    // (a replayed `t` is charged too, or one ticket would start unlimited ones).
    if let Err(refused) =
        crate::budget::spend(&state.deps.budget, &crate::budget::origin(&req), "sign-ins").await
    {
        return refused;
    }
    let metadata = match up.provider.metadata().await {
        Ok(m) => m,
        Err(e) => return upstream_failed(&id, name, &e.to_string()),
    };
    let redirect = match RedirectUrl::new(state.callback_url(&id)) {
        Ok(r) => r,
        Err(e) => return upstream_failed(&id, name, &format!("bad callback URL: {e}")),
    };
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(up.config.client_id.clone()),
        None,
    )
    .set_redirect_uri(redirect);
    let (Ok(state_token), Ok(nonce), Ok(fresh_browser)) =
        (random::token(), random::token(), random::token())
    else {
        return storage_error(&usher_core::Error::Internal("random source failed".into()));
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (state_for_url, nonce_for_url) = (state_token.clone(), nonce.clone());
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state_for_url),
            move || Nonce::new(nonce_for_url),
        )
        .set_pkce_challenge(challenge);
    for scope in up.config.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    if let Some(login) = &login {
        if let Some(hint) = login
            .login_hint
            .as_deref()
            .filter(|h| h.len() <= MAX_HINT_LEN)
        {
            request = request.add_extra_param("login_hint", hint.to_owned());
        }
        // The app asked for a fresh sign-in (prompt=login, max_age, ForceAuthn):
        // so does usher, of the upstream.
        if login.force_login {
            request = request.add_prompt(CoreAuthPrompt::Login);
        }
    }
    let (url, _, _) = request.url();

    let secure = state.settings.secure_cookies;
    let existing = pending::browser_value(&req, secure);
    let browser = existing.clone().unwrap_or(fresh_browser);
    let pending = PendingUpstream {
        upstream: id.clone(),
        browser: random::digest(&browser),
        nonce,
        pkce_verifier: verifier.secret().clone(),
        login: query.t.clone(),
    };
    if let Err(e) = pending::park(&*state.deps.ephemeral, &state_token, &pending).await {
        return storage_error(&e);
    }
    let mut response = HttpResponse::SeeOther();
    response.insert_header((header::LOCATION, url.to_string()));
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if existing.is_none() {
        response.cookie(pending::binding_cookie(browser, secure));
    }
    response.finish()
}

/// Storage unreachable (503) or a bug (500), logged.
pub(crate) fn storage_error(e: &usher_core::Error) -> HttpResponse {
    tracing::error!(error = %e, "federated sign-in could not use storage");
    let status = if e.is_retryable() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    page(
        status,
        "usher is temporarily unavailable",
        "usher cannot reach its storage right now. Try again in a moment.",
    )
}
