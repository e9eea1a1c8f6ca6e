//! Headers on every page.

use actix_web::HttpResponseBuilder;
use actix_web::http::header;

/// The policy of every page. No scripts at all (`default-src 'none'`), styles only
/// from `/static/usher.css`, forms only to usher (`form-action`: an injected form
/// cannot post a password elsewhere), never framed (`frame-ancestors 'none'`:
/// clickjacking), no `<base>` rewriting of relative URLs.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers; `extra_form_action` widens `form-action` by one
/// origin (the app a logout form redirects to: browsers apply `form-action` to the
/// redirects that follow a form submission too).
pub(crate) fn secure(builder: &mut HttpResponseBuilder, extra_form_action: Option<&str>) {
    let csp = match extra_form_action {
        Some(origin) => CSP.replace(
            "form-action 'self'",
            &format!("form-action 'self' {origin}"),
        ),
        None => CSP.to_owned(),
    };
    builder
        .insert_header((header::CONTENT_SECURITY_POLICY, csp))
        // For browsers without CSP level 2.
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        // Sign-in links carry interaction ids; never leak them to other sites.
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        // Pages show who is signed in and carry CSRF tokens: never cache them.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
}
