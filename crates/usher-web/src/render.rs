//! Turning templates into responses, and the error page.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::headers;

/// Renders a page with the security headers.
pub(crate) fn page<T: Template>(status: StatusCode, template: &T) -> HttpResponse {
    page_with(status, template, None)
}

/// Renders a page whose `form-action` also allows `extra_form_action`.
pub(crate) fn page_with<T: Template>(
    status: StatusCode,
    template: &T,
    extra_form_action: Option<&str>,
) -> HttpResponse {
    match template.render() {
        Ok(body) => {
            let mut builder = HttpResponse::build(status);
            headers::secure(&mut builder, extra_form_action);
            builder
                .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
                .body(body)
        }
        Err(e) => {
            tracing::error!(error = %e, "a page template failed to render");
            let mut builder = HttpResponse::InternalServerError();
            headers::secure(&mut builder, None);
            builder
                .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
                .body("usher could not render this page; please try again.")
        }
    }
}

/// A `303 See Other` (RFC 9110 §15.4.4: after a POST, the browser GETs the target
/// and a reload does not resubmit the form).
pub(crate) fn see_other(location: &str) -> HttpResponse {
    let mut builder = HttpResponse::SeeOther();
    headers::secure(&mut builder, None);
    builder.insert_header((header::LOCATION, location)).finish()
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorTemplate<'a> {
    title: &'a str,
    detail: &'a str,
    status: u16,
    request_id: Option<&'a str>,
}

/// The error page: what happened (`title`), what to do next (`detail`) and the
/// request id to quote to an administrator.
pub fn error_page(
    status: StatusCode,
    title: &str,
    detail: &str,
    request_id: Option<&str>,
) -> HttpResponse {
    page(
        status,
        &ErrorTemplate {
            title,
            detail,
            status: status.as_u16(),
            request_id,
        },
    )
}

/// The page a signed-in user sees when the application they are signing in to is
/// not assigned to them (403): it names the app and says whom to ask. The OIDC and
/// SAML front-ends show it instead of answering the app, because neither the user
/// nor the app can fix it there (Entra ID and Okta show a page too). The binary
/// hands this function to them, so they look like every other usher page without
/// depending on this crate.
pub fn not_assigned_page(app: &str) -> HttpResponse {
    error_page(
        StatusCode::FORBIDDEN,
        &format!("You are not assigned to {app}"),
        &format!("Ask your administrator to give you access to {app}."),
        None,
    )
}

/// A request that ends on the error page.
#[derive(Debug)]
pub(crate) struct PageError {
    pub status: StatusCode,
    pub title: String,
    pub detail: String,
    pub request_id: Option<String>,
    /// Seconds for `Retry-After` (RFC 6585 §4, RFC 9110 §10.2.3).
    pub retry_after: Option<u64>,
}

impl PageError {
    pub fn new(
        status: StatusCode,
        title: impl Into<String>,
        detail: impl Into<String>,
        request_id: Option<String>,
    ) -> Self {
        Self {
            status,
            title: title.into(),
            detail: detail.into(),
            request_id,
            retry_after: None,
        }
    }

    /// A failure of a port: storage down (retryable) or a bug. Logged here; the
    /// page says only what the user can do.
    pub fn from_core(error: &usher_core::Error, request_id: Option<String>) -> Self {
        if error.is_retryable() {
            tracing::warn!(error = %error, "a page could not reach storage");
            Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "usher is temporarily unavailable",
                "usher cannot reach its storage right now. Try again in a moment.",
                request_id,
            )
        } else {
            tracing::error!(error = %error, "a page failed");
            Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side",
                "Try again; if it keeps happening, tell your administrator and quote the request id below.",
                request_id,
            )
        }
    }
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.title)
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = error_page(
            self.status,
            &self.title,
            &self.detail,
            self.request_id.as_deref(),
        );
        if let Some(seconds) = self.retry_after
            && let Ok(value) = header::HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// The request id set by the binary's middleware, if it looks like one (it is
/// shown on pages; anything long or odd is dropped rather than echoed).
pub(crate) fn request_id(req: &actix_web::HttpRequest) -> Option<String> {
    let id = req.headers().get("x-request-id")?.to_str().ok()?;
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    ok.then(|| id.to_owned())
}
