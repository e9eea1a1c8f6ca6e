//! The pending-state budget ([`usher_core::PendingBudget`]) at the IdP and the
//! service provider: where a request comes from, and the 429 page for an address
//! that started too many sign-ins (issue 10, defect 4: flooding the ephemeral
//! store with parked requests blocks everyone's sign-in). Always a page: a
//! refusal that is about the person's network posts nothing to any ACS.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use usher_core::{Exhausted, FORWARDED_FOR, PendingBudget, RequestOrigin};

use crate::page;

/// Takes a token for the address `req` comes from; the response to send
/// instead when that address spent its budget (429) or the store failed.
/// `what` names what is started, for the page ("sign-ins", "sign-outs").
pub(crate) async fn spend(
    budget: &PendingBudget,
    req: &HttpRequest,
    what: &str,
) -> Result<(), HttpResponse> {
    let origin = RequestOrigin::new(
        req.peer_addr().map(|a| a.ip()),
        req.headers()
            .get_all(FORWARDED_FOR)
            .map(actix_web::http::header::HeaderValue::as_bytes),
    );
    match budget.charge(&origin).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(exhausted)) => Err(too_many(&exhausted, what)),
        Err(e) => Err(crate::sso::internal_error("the pending budget failed", &e)),
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
    let mut response = page::error_page(
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
