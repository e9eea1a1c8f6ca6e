//! The pages, one module each.

pub(crate) mod assets;
pub(crate) mod consent;
pub(crate) mod continue_page;
pub(crate) mod federated;
pub(crate) mod home;
pub(crate) mod login;
pub(crate) mod logout;
pub(crate) mod realm;

use actix_web::http::StatusCode;

use crate::context::Ctx;
use crate::redirect::{encode_component, is_same_origin_path};
use crate::render::PageError;

/// The answer to a POST whose CSRF token is missing or wrong.
pub(crate) fn csrf_refused(ctx: &Ctx) -> PageError {
    ctx.fail(
        StatusCode::FORBIDDEN,
        "This form could not be accepted",
        "For your security, usher only accepts forms sent from its own pages. Go back, \
         reload the page and try again.",
    )
}

/// Checks a parked `resume_url` is a path on usher before sending anyone there
/// (open-redirect defence: a parked URL is written by a front-end, but a bug there
/// must not turn the login page into a redirector).
pub(crate) fn checked_resume<'a>(ctx: &Ctx, resume_url: &'a str) -> Result<&'a str, PageError> {
    if is_same_origin_path(resume_url) {
        Ok(resume_url)
    } else {
        tracing::error!("refusing a parked interaction whose resume_url is not a path on usher");
        Err(ctx.fail(
            StatusCode::BAD_REQUEST,
            "This link cannot be used",
            "The app sent you here with an invalid return address. Go back to the app and \
             start again; if it keeps happening, tell your administrator.",
        ))
    }
}

/// Where a successful form POST sends the browser when the next hop may leave usher.
///
/// Browsers apply the page's CSP `form-action` to every redirect that follows a
/// form submission (CSP3 §6.3.1; Chrome enforces it), and `resume_url` answers with
/// a redirect to the app's `redirect_uri`, an origin `form-action 'self'` does not
/// allow. So the POST answers 303 to `/continue`, a page on usher that moves on
/// with `<meta http-equiv="refresh">`: a new navigation, not a form submission, so
/// the app's redirect is no longer checked against `form-action`.
pub(crate) fn continue_to(resume_url: &str) -> String {
    format!("/continue?to={}", encode_component(resume_url))
}
