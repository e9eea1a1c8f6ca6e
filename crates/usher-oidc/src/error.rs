//! OAuth error responses (RFC 6749 §5.2, RFC 6750 §3, RFC 7662, RFC 7009): a code,
//! a description, a status, as JSON with `Cache-Control: no-store`.

use std::sync::{Arc, OnceLock};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError, web};
use serde_json::json;

use crate::state::OidcState;

/// How handlers find the OP's state: set once the backends are open.
pub type StateData = web::Data<OnceLock<Arc<OidcState>>>;

/// The state, or `temporarily_unavailable` (503) until the binary has set it.
pub fn ready(data: &StateData) -> Result<Arc<OidcState>, OAuthError> {
    data.get().cloned().ok_or_else(|| {
        OAuthError::new(
            "temporarily_unavailable",
            "the server is starting; try again shortly",
        )
        .status(StatusCode::SERVICE_UNAVAILABLE)
    })
}

/// How the client tried to authenticate, for the `WWW-Authenticate` challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Challenge {
    None,
    /// RFC 6749 §5.2: `invalid_client` after HTTP Basic → 401 with a Basic challenge.
    Basic,
    /// RFC 6750 §3: a bearer-token error.
    Bearer,
}

/// An OAuth error response.
#[derive(Debug, Clone)]
pub struct OAuthError {
    /// The error code (`invalid_request`, `invalid_grant`, ...).
    pub code: &'static str,
    /// Human-readable detail for the client's developer (never internals).
    pub description: String,
    /// HTTP status.
    pub status: StatusCode,
    challenge: Challenge,
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl OAuthError {
    /// An error with the status RFC 6749 §5.2 gives its code.
    pub fn new(code: &'static str, description: impl Into<String>) -> Self {
        let status = match code {
            "invalid_client" | "invalid_token" => StatusCode::UNAUTHORIZED,
            "insufficient_scope" => StatusCode::FORBIDDEN,
            "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        Self {
            code,
            description: description.into(),
            status,
            challenge: Challenge::None,
        }
    }

    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }

    /// `invalid_client` (401).
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new("invalid_client", description)
    }

    /// `invalid_grant`.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }

    /// `invalid_token` (401, RFC 6750 §3.1), with a Bearer challenge.
    pub fn invalid_token(description: impl Into<String>) -> Self {
        Self::new("invalid_token", description).bearer()
    }

    /// Another status.
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Answer with `WWW-Authenticate: Basic realm="usher"` (the client used Basic).
    pub fn basic(mut self) -> Self {
        self.challenge = Challenge::Basic;
        self
    }

    /// Answer with a `WWW-Authenticate: Bearer` challenge (RFC 6750 §3).
    pub fn bearer(mut self) -> Self {
        self.challenge = Challenge::Bearer;
        self
    }
}

impl From<usher_core::Error> for OAuthError {
    fn from(e: usher_core::Error) -> Self {
        if e.is_retryable() {
            tracing::warn!(error = %e, "storage unavailable");
            OAuthError::new(
                "temporarily_unavailable",
                "a backend is unavailable; try again shortly",
            )
        } else {
            tracing::error!(error = %e, "internal error");
            OAuthError::new("server_error", "the server failed to handle the request")
        }
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        match self.challenge {
            Challenge::None => {}
            Challenge::Basic => {
                res.insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="usher""#));
            }
            Challenge::Bearer => {
                // RFC 6750 §3: no error code when the request carried no token.
                let value = if self.code == "invalid_request" && self.description.is_empty() {
                    r#"Bearer realm="usher""#.to_owned()
                } else {
                    format!(
                        r#"Bearer realm="usher", error="{}", error_description="{}""#,
                        self.code,
                        self.description.replace(['"', '\\'], "'")
                    )
                };
                if let Ok(v) = HeaderValue::from_str(&value) {
                    res.insert_header((header::WWW_AUTHENTICATE, v));
                }
            }
        }
        res.json(json!({"error": self.code, "error_description": self.description}))
    }
}
