//! AuthnRequests usher sent and is waiting for, bound to the browser that sent
//! them: a random cookie names the browser, and a pending request is stored
//! under a key made of the upstream, the cookie's digest and the request ID, so
//! a response whose InResponseTo belongs to another browser finds nothing (the
//! victim's session cannot be completed by the attacker's browser or the other
//! way round: login CSRF and session swapping). Each pending request is taken
//! once.
//!
//! The response arrives by a cross-site POST from the IdP, which browsers send
//! with `SameSite=None` cookies only, and those must be `Secure`; so under https
//! the cookie is `__Host-usher_saml_sp; Secure; SameSite=None`. Under plain http
//! (development) it is `usher_saml_sp; SameSite=Lax`, which reaches the ACS only
//! when the IdP is on the same site (e.g. both on localhost).

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};
use usher_core::{Result, random, stash};

use super::state::SamlSpState;

/// Cookie name under https.
pub const SECURE_COOKIE: &str = "__Host-usher_saml_sp";
/// Cookie name under http.
pub const PLAIN_COOKIE: &str = "usher_saml_sp";

/// What is remembered about a sent AuthnRequest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRequest {
    /// The upstream it went to.
    pub upstream: String,
    /// Its `ID` (the expected InResponseTo).
    pub request_id: String,
    /// The RelayState sent with it (must come back unchanged, Bindings §3.5.3).
    pub relay_state: String,
    /// The parked login request this sign-in answers.
    pub login: Option<String>,
}

/// The cookie's name.
pub fn cookie_name(state: &SamlSpState) -> &'static str {
    if state.secure() {
        SECURE_COOKIE
    } else {
        PLAIN_COOKIE
    }
}

/// This browser's value, if it has one that looks like ours.
pub fn browser(state: &SamlSpState, req: &HttpRequest) -> Option<String> {
    let c = req.cookie(cookie_name(state))?;
    let v = c.value();
    (v.len() == 43
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then(|| v.to_owned())
}

/// The browser's value, or a new one with the cookie to set.
pub fn browser_or_new(
    state: &SamlSpState,
    req: &HttpRequest,
) -> Result<(String, Option<Cookie<'static>>)> {
    if let Some(v) = browser(state, req) {
        return Ok((v, None));
    }
    let v = random::token()?;
    let cookie = Cookie::build(cookie_name(state), v.clone())
        .path("/")
        .http_only(true)
        .secure(state.secure())
        .same_site(if state.secure() {
            SameSite::None
        } else {
            SameSite::Lax
        })
        .finish();
    Ok((v, Some(cookie)))
}

fn key(upstream: &str, browser: &str, request_id: &str) -> String {
    format!(
        "saml-sp-req:{upstream}:{}:{}",
        random::digest(browser),
        random::digest(request_id)
    )
}

/// Stores `pending` for `browser`.
pub async fn put(state: &SamlSpState, browser: &str, pending: &PendingRequest) -> Result<()> {
    stash::put(
        &*state.deps.ephemeral,
        &key(&pending.upstream, browser, &pending.request_id),
        pending,
        usher_core::INTERACTION_TTL,
    )
    .await
}

/// Takes the pending request `request_id` of `browser` at `upstream`, once.
pub async fn take(
    state: &SamlSpState,
    upstream: &str,
    browser: &str,
    request_id: &str,
) -> Result<Option<PendingRequest>> {
    stash::take(&*state.deps.ephemeral, &key(upstream, browser, request_id)).await
}
