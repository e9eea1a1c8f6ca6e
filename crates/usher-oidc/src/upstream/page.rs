//! Error pages of federated sign-in: they name the upstream and say what to do;
//! the details go to the log (with the upstream id), never to the page.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

use crate::authorize::page::error_page;

/// A failure that is the upstream's (down, slow, garbage): 502.
pub(crate) fn upstream_failed(id: &str, name: &str, detail: &str) -> HttpResponse {
    tracing::warn!(
        upstream = id,
        error = detail,
        "a sign-in through an upstream IdP failed"
    );
    error_page(
        StatusCode::BAD_GATEWAY,
        &format!("Signing in through {name} did not work"),
        &format!(
            "usher could not complete the sign-in with {name}: the identity provider did not \
             answer as expected. Try again in a moment; if it keeps happening, tell your \
             administrator (the details are in usher's log)."
        ),
    )
}

/// A response usher refuses (forged, replayed, for someone else): 400.
pub(crate) fn refused(id: &str, name: &str, detail: &str) -> HttpResponse {
    tracing::warn!(
        upstream = id,
        error = detail,
        "refused a response from an upstream IdP"
    );
    error_page(
        StatusCode::BAD_REQUEST,
        &format!("The sign-in through {name} could not be accepted"),
        &format!(
            "The answer from {name} could not be verified, or this sign-in link was already \
             used or started in another browser. Go back to the app and sign in again."
        ),
    )
}

/// Any other page.
pub(crate) fn page(status: StatusCode, heading: &str, detail: &str) -> HttpResponse {
    error_page(status, heading, detail)
}
