//! The routes of the pages.

use actix_web::error::{InternalError, QueryPayloadError, UrlencodedError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::pages::{assets, consent, continue_page, federated, home, login, logout};
use crate::render::{error_page, request_id};

/// Largest form body accepted: a login form is well under 1 KiB.
const FORM_LIMIT: usize = 16 * 1024;

/// Registers `/`, `/login`, `/login/discover`, `/login/federated`, `/consent`, `/logout`, `/logout/done`, `/continue` and
/// `/static/usher.css`. Handlers read the state from
/// `web::Data<OnceLock<Arc<WebState>>>`, which the binary registers; until it is
/// set they answer 503.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        page_resource("/")
            .route(web::get().to(home::show))
            .route(web::head().to(home::show)),
    )
    .service(
        page_resource("/login")
            .route(web::get().to(login::show))
            .route(web::post().to(login::submit)),
    )
    .service(page_resource("/login/discover").route(web::post().to(login::discover)))
    .service(page_resource("/login/federated").route(web::get().to(federated::show)))
    .service(
        page_resource("/consent")
            .route(web::get().to(consent::show))
            .route(web::post().to(consent::submit)),
    )
    .service(
        page_resource("/logout")
            .route(web::get().to(logout::show))
            .route(web::post().to(logout::submit)),
    )
    .service(page_resource("/logout/done").route(web::get().to(logout::done)))
    .service(page_resource("/logout/upstream").route(web::get().to(logout::to_upstream)))
    .service(page_resource("/continue").route(web::get().to(continue_page::show)))
    .service(page_resource("/static/usher.css").route(web::get().to(assets::stylesheet)));
}

/// A resource whose malformed input gets the error page (per resource, so the
/// protocol crates keep their own JSON errors for their forms).
fn page_resource(path: &str) -> actix_web::Resource {
    web::resource(path)
        .app_data(
            web::FormConfig::default()
                .limit(FORM_LIMIT)
                .error_handler(form_error),
        )
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .default_service(web::to(method_not_allowed))
}

/// Oversized, malformed, duplicated or missing form fields: a 400 page, never a
/// 500 (and nothing is stored).
fn form_error(error: UrlencodedError, req: &HttpRequest) -> actix_web::Error {
    let (status, detail) = match error {
        UrlencodedError::Overflow { .. } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "The form sent was far larger than any of usher's forms. Go back, reload the page and try again.",
        ),
        _ => (
            StatusCode::BAD_REQUEST,
            "The form sent was incomplete or malformed. Go back, reload the page and try again.",
        ),
    };
    bad_input(error, req, status, detail)
}

fn query_error(error: QueryPayloadError, req: &HttpRequest) -> actix_web::Error {
    bad_input(
        error,
        req,
        StatusCode::BAD_REQUEST,
        "The link is incomplete or malformed. Go back to the app and start again.",
    )
}

fn bad_input<E: std::fmt::Debug + std::fmt::Display + 'static>(
    error: E,
    req: &HttpRequest,
    status: StatusCode,
    detail: &str,
) -> actix_web::Error {
    let response = error_page(
        status,
        "usher could not read this request",
        detail,
        request_id(req).as_deref(),
    );
    InternalError::from_response(error, response).into()
}

async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    error_page(
        StatusCode::METHOD_NOT_ALLOWED,
        "This page cannot be used that way",
        "Open the page from a link instead.",
        request_id(&req).as_deref(),
    )
}
