//! The SSO session cookie.

use actix_web::HttpResponse;
use actix_web::cookie::{Cookie, SameSite};
use usher_core::session_cookie_name;

/// The session cookie: HttpOnly (no script can read it), Secure under https,
/// SameSite=Lax (sent on top-level navigations from apps, which SSO needs, but not
/// on cross-site POSTs or subresources), for the whole site, and without Max-Age so
/// it dies with the browser; the server-side session has its own timeouts.
pub(crate) fn session(secret: String, secure: bool) -> Cookie<'static> {
    Cookie::build(session_cookie_name(secure), secret)
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .path("/")
        .finish()
}

/// Tells the browser to drop the session cookie.
pub(crate) fn clear_session(secure: bool) -> Cookie<'static> {
    let mut cookie = session(String::new(), secure);
    cookie.make_removal();
    cookie
}

/// Adds cookies to a response (a cookie that cannot be encoded is logged).
pub(crate) fn add(response: &mut HttpResponse, cookies: impl IntoIterator<Item = Cookie<'static>>) {
    for cookie in cookies {
        if let Err(e) = response.add_cookie(&cookie) {
            tracing::error!(error = %e, name = cookie.name(), "cannot set a cookie");
        }
    }
}
