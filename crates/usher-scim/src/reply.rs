//! SCIM errors as HTTP responses (RFC 7644 §3.12). The error itself (status,
//! `scimType`, detail, its JSON) is the model's [`ScimError`]; this wraps it in a
//! type of this crate so it can be actix's `ResponseError` (the orphan rule forbids
//! implementing actix's trait on the model's type here), adding the headers the
//! status calls for.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use usher_scim_model::error::{SCIM_JSON, ScimError};

/// What a handler returns: its response, or a [`ScimError`] answered as SCIM JSON.
pub(crate) type Reply = std::result::Result<HttpResponse, HttpError>;

/// A [`ScimError`] on its way out as a response; `?` makes one from a `ScimError`.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub(crate) struct HttpError(#[from] ScimError);

impl ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        // Every ScimError is built with a valid status; 500 if one ever is not.
        StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut resp = HttpResponse::build(status);
        resp.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON)));
        if status == StatusCode::UNAUTHORIZED {
            resp.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"usher-scim\""),
            ));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")));
        }
        resp.body(self.0.body().to_string())
    }
}
