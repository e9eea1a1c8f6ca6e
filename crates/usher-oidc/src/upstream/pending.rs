//! A sign-in sent to an upstream and not yet back: kept in the ephemeral store
//! under the digest of its `state`, bound to the browser by a cookie and to the
//! upstream it was sent to.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};
use usher_core::ports::EphemeralStore;
use usher_core::{Result, random, stash};

/// How long a browser has to come back from the upstream.
pub(crate) const PENDING_TTL: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// The browser-binding cookie (a random value per browser, not per sign-in, so
/// sign-ins started in two tabs both complete).
pub(crate) fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-usher_rp"
    } else {
        "usher_rp"
    }
}

/// What the callback needs to finish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingUpstream {
    /// The upstream the browser was sent to (mix-up defence: a response arriving
    /// at another upstream's callback is refused).
    pub upstream: String,
    /// Digest of the browser's binding cookie.
    pub browser: String,
    /// The `nonce` sent (OIDC Core §3.1.2.1).
    pub nonce: String,
    /// The PKCE verifier (RFC 7636).
    pub pkce_verifier: String,
    /// The parked login request this answers.
    pub login: Option<String>,
}

fn key(state: &str) -> String {
    format!("rp-state:{}", random::digest(state))
}

/// Parks a pending sign-in under `state`.
pub(crate) async fn park(
    store: &dyn EphemeralStore,
    state: &str,
    pending: &PendingUpstream,
) -> Result<()> {
    stash::put(store, &key(state), pending, PENDING_TTL).await
}

/// The pending sign-in of `state`, left in place: read first so that a callback
/// from another browser (someone who learned the `state`, which travels in URLs,
/// referrers and the upstream's logs) is refused without burning the victim's
/// sign-in.
pub(crate) async fn get(
    store: &dyn EphemeralStore,
    state: &str,
) -> Result<Option<PendingUpstream>> {
    stash::get(store, &key(state)).await
}

/// Takes the pending sign-in of `state` (once, atomically: a replayed callback, or
/// the second of two from the same browser, finds nothing).
pub(crate) async fn take(
    store: &dyn EphemeralStore,
    state: &str,
) -> Result<Option<PendingUpstream>> {
    stash::take(store, &key(state)).await
}

/// The browser's binding value, if it sends one.
pub(crate) fn browser_value(req: &HttpRequest, secure: bool) -> Option<String> {
    req.cookie(cookie_name(secure))
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The binding cookie: HttpOnly, SameSite=Lax (the callback is a top-level GET
/// navigation from the upstream, which Lax cookies accompany), for the whole site
/// (`__Host-` cookies must have `Path=/`), ending with the browser.
pub(crate) fn binding_cookie(value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(cookie_name(secure), value)
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .path("/")
        .finish()
}
