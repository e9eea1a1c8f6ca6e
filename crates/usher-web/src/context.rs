//! The per-request context every page handler starts from.

use std::future::{Ready, ready};
use std::sync::{Arc, OnceLock};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use usher_core::{NewAuditEntry, SsoSession, session_cookie_name};

use crate::WebState;
use crate::render::{PageError, request_id};

/// How the binary hands the state to the pages: registered before the server
/// starts, filled once the database is open.
pub(crate) type StateCell = web::Data<OnceLock<Arc<WebState>>>;

/// The state and the request id.
pub(crate) struct Ctx {
    pub state: Arc<WebState>,
    pub request_id: Option<String>,
}

impl FromRequest for Ctx {
    type Error = PageError;
    type Future = Ready<Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let request_id = request_id(req);
        let state = req
            .app_data::<StateCell>()
            .and_then(|cell| cell.get())
            .cloned();
        ready(match state {
            Some(state) => Ok(Ctx { state, request_id }),
            None => Err(PageError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "usher is starting, try again in a moment",
                "usher is still opening its database. Reload this page in a few seconds.",
                request_id,
            )),
        })
    }
}

impl Ctx {
    /// An error page for this request.
    pub fn fail(&self, status: StatusCode, title: &str, detail: &str) -> PageError {
        PageError::new(status, title, detail, self.request_id.clone())
    }

    /// The error page for a failed port call.
    pub fn core(&self, error: usher_core::Error) -> PageError {
        PageError::from_core(&error, self.request_id.clone())
    }

    /// The interaction link is unknown or expired.
    pub fn expired(&self, what: &str) -> PageError {
        self.fail(
            StatusCode::BAD_REQUEST,
            &format!("This {what} link has expired"),
            "This link is no longer valid. Go back to the app and start again.",
        )
    }

    /// The browser's SSO session cookie secret, if it sends one.
    pub fn session_secret(&self, req: &HttpRequest) -> Option<String> {
        req.cookie(session_cookie_name(self.state.settings.secure_cookies))
            .map(|c| c.value().to_owned())
            .filter(|v| !v.is_empty() && v.len() <= 128)
    }

    /// The browser's live SSO session whose user can still sign in, with the
    /// cookie secret. A session of a deactivated or deleted user is ended here,
    /// in case its revocation was missed.
    pub async fn session(
        &self,
        req: &HttpRequest,
    ) -> Result<Option<(String, SsoSession)>, PageError> {
        let Some(secret) = self.session_secret(req) else {
            return Ok(None);
        };
        let deps = &self.state.deps;
        let Some(session) = deps.sessions.get(&secret).await.map_err(|e| self.core(e))? else {
            return Ok(None);
        };
        let active = match deps.directory.get_user(session.user_id).await {
            Ok(user) => user.active,
            Err(usher_core::Error::NotFound { .. }) => false,
            Err(e) => return Err(self.core(e)),
        };
        if !active {
            deps.sessions.end(&secret).await.map_err(|e| self.core(e))?;
            return Ok(None);
        }
        Ok(Some((secret, session)))
    }

    /// Appends to the audit log. A failed write is logged, not shown: the user's
    /// action already happened.
    pub async fn audit(
        &self,
        actor: String,
        action: &str,
        target: Option<String>,
        details: serde_json::Value,
    ) {
        let entry = NewAuditEntry {
            actor,
            action: action.to_owned(),
            target,
            details,
        };
        if let Err(e) = self.state.deps.audit.record(entry).await {
            tracing::error!(error = %e, action, "cannot write the audit log");
        }
    }
}

/// Checks an interaction id (`t`) before it reaches the store: ids are 43
/// characters of base64url; anything else is simply unknown.
pub(crate) fn plausible_id(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 64
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
