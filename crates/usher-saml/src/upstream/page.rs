//! Refusal pages of the service provider: they name the upstream, say what went
//! wrong in words for a person, and log the detail for the administrator.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

use super::error::Rejection;
use super::settings::SamlUpstream;
use crate::page;

/// Answers `rejection` for upstream `id` with a page, and logs `detail`.
pub fn refuse(
    id: &str,
    upstream: Option<&SamlUpstream>,
    rejection: &Rejection,
    detail: &str,
) -> HttpResponse {
    let status = rejection.status();
    if status.is_server_error() {
        tracing::error!(upstream = %id, reason = %rejection, %detail, "SAML upstream sign-in failed");
    } else {
        tracing::warn!(upstream = %id, reason = %rejection, %detail, "SAML upstream sign-in refused");
    }
    let name = upstream.map_or(id, |u| u.display_name.as_str());
    page::error_page(
        status,
        &format!("Sign-in with {name} failed"),
        &format!("{}.", capitalized(&rejection.to_string())),
    )
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Before the backends are open.
pub fn not_ready() -> HttpResponse {
    page::error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Not ready yet",
        "The sign-in service is starting.",
    )
}
