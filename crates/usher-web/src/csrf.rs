//! Cross-site request forgery defence for the forms (double-submit cookie).
//!
//! Each form carries a random token that is also in an HttpOnly, SameSite=Strict
//! cookie; a POST must bring both, equal. A forged cross-site POST (including
//! login CSRF, which would sign the victim into the attacker's account) brings
//! neither the cookie (SameSite) nor the token (the attacker cannot read the
//! page). Under https the cookie name has the `__Host-` prefix, so a sibling
//! subdomain cannot plant a cookie of its own choosing (RFC 6265bis §4.1.3.2);
//! browsers refuse `__Host-` cookies without `Secure`, hence the plain name over
//! http.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use usher_core::random;

use crate::WebSettings;

fn cookie_name(settings: &WebSettings) -> &'static str {
    if settings.secure_cookies {
        "__Host-usher_csrf"
    } else {
        "usher_csrf"
    }
}

fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The token for a form: the browser's current one (so several tabs keep working),
/// or a new one with the cookie to set.
pub(crate) fn token(
    req: &HttpRequest,
    settings: &WebSettings,
) -> usher_core::Result<(String, Option<Cookie<'static>>)> {
    if let Some(existing) = req
        .cookie(cookie_name(settings))
        .map(|c| c.value().to_owned())
        .filter(|v| well_formed(v))
    {
        return Ok((existing, None));
    }
    let token = random::token()?;
    let cookie = Cookie::build(cookie_name(settings), token.clone())
        .http_only(true)
        .secure(settings.secure_cookies)
        .same_site(SameSite::Strict)
        .path("/")
        .finish();
    Ok((token, Some(cookie)))
}

/// True when the form's token matches the cookie (compared in constant time, so
/// response times reveal nothing about the cookie). Also refuses requests a
/// browser marks as cross-site (Fetch Metadata, `Sec-Fetch-Site`), as a second
/// line behind the token.
pub(crate) fn verify(req: &HttpRequest, settings: &WebSettings, form_token: &str) -> bool {
    if req
        .headers()
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return false;
    }
    let Some(cookie) = req.cookie(cookie_name(settings)) else {
        return false;
    };
    well_formed(cookie.value())
        && random::constant_time_eq(cookie.value().as_bytes(), form_token.as_bytes())
}
