//! The pending-state budget ([`usher_core::PendingBudget`]) at the OP and the
//! relying party: where a request comes from, and the 429 page for an address
//! that started too many sign-ins (issue 10, defect 4: flooding the ephemeral
//! store with parked requests blocks everyone's sign-in).
//!
//! The refusal is always a page, never a redirect to the client: the person at
//! the browser is the one who must wait, and the page tells them how long (see
//! docs/oidc.md).

use actix_web::HttpRequest;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use usher_core::{Exhausted, FORWARDED_FOR, PendingBudget, RequestOrigin};

use crate::authorize::page::error_page;

/// What the transport says about where `req` comes from.
pub(crate) fn origin(req: &HttpRequest) -> RequestOrigin {
    RequestOrigin::new(
        req.peer_addr().map(|a| a.ip()),
        req.headers()
            .get_all(FORWARDED_FOR)
            .map(actix_web::http::header::HeaderValue::as_bytes),
    )
}

/// Takes a token for `origin`; the response to send instead when its address
/// spent its budget (429) or the store failed. `what` names what is started,
/// for the page ("sign-ins", "sign-outs").
pub(crate) async fn spend(
    budget: &PendingBudget,
    origin: &RequestOrigin,
    what: &str,
) -> Result<(), HttpResponse> {
    match budget.charge(origin).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(exhausted)) => Err(too_many(&exhausted, what)),
        Err(e) => Err(crate::upstream::start::storage_error(&e)),
    }
}

/// The 429 page, with `Retry-After` (RFC 6585 §4).
fn too_many(exhausted: &Exhausted, what: &str) -> HttpResponse {
    if exhausted.is_first() {
        tracing::warn!(
            address = exhausted.bucket(),
            retry_after = exhausted.retry_after_secs(),
            "{}",
            Exhausted::LOG
        );
    }
    let mut response = error_page(
        StatusCode::TOO_MANY_REQUESTS,
        &exhausted.heading(what),
        Exhausted::DETAIL,
    );
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(exhausted.retry_after_secs()),
    );
    response
}
