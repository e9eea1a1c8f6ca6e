//! What went wrong at the target, in a form the job queue can act on and the
//! provisioning report can show.

use std::time::Duration;

use thiserror::Error;

use crate::RemoteId;

/// The result of a connector operation.
pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;

/// What kind of failure, which decides what the job queue does next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The target asked usher to slow down (HTTP 429, Slack `ratelimited`): no
    /// request to this target before `retry_after` has passed.
    RateLimited {
        /// How long to wait, from `Retry-After` (to the second).
        retry_after: Duration,
    },
    /// A transient failure (5xx, timeout, connection refused, a garbled answer):
    /// try this object again later, with backoff.
    Retryable {
        /// Not before this, when the target said (`Retry-After` on a 503).
        retry_after: Option<Duration>,
    },
    /// The object already exists on the target (HTTP 409, SCIM `uniqueness`,
    /// Slack `email_taken`). The core looks it up and adopts it.
    Conflict {
        /// The existing object's id, when the answer named it.
        existing: Option<RemoteId>,
    },
    /// The object is not on the target (HTTP 404). The core re-creates or reports,
    /// per app.
    NotFound,
    /// The target refuses this object as it is (a userName it does not accept):
    /// permanent for this object until its data changes; the others go on.
    Invalid {
        /// The target attribute at fault, as the mapping names it.
        field: String,
        /// Why, in words.
        reason: String,
    },
    /// The credentials are refused (HTTP 401/403, Slack `invalid_auth`): nothing
    /// will succeed on this target until an administrator fixes them.
    Unauthorized,
    /// The target cannot be used as configured (wrong base URL, TLS verification
    /// failed, an operation it does not support): nothing will succeed on it
    /// until an administrator acts.
    Fatal,
}

/// Whom a failure concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorScope {
    /// This user or group only: the target's other jobs go on.
    Object,
    /// The whole target: its jobs wait (none lost) and the app is reported failing.
    Target,
}

/// A failed connector operation: its kind, the target's own code and status, and
/// a sentence for the report (`Display` prints the sentence).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct ConnectorError {
    kind: ErrorKind,
    message: String,
    remote_code: Option<String>,
    http_status: Option<u16>,
}

impl ConnectorError {
    /// An error of this kind; `message` is one sentence for the provisioning
    /// report, naming what failed ("the target refused userName \"a b\": spaces are
    /// not allowed"), never a stack trace or a raw body.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            remote_code: None,
            http_status: None,
        }
    }

    /// [`ErrorKind::RateLimited`].
    pub fn rate_limited(retry_after: Duration, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::RateLimited { retry_after }, message)
    }

    /// [`ErrorKind::Retryable`].
    pub fn retryable(retry_after: Option<Duration>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Retryable { retry_after }, message)
    }

    /// [`ErrorKind::Conflict`].
    pub fn conflict(existing: Option<RemoteId>, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict { existing }, message)
    }

    /// [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// [`ErrorKind::Invalid`].
    pub fn invalid(
        field: impl Into<String>,
        reason: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let kind = ErrorKind::Invalid {
            field: field.into(),
            reason: reason.into(),
        };
        Self::new(kind, message)
    }

    /// [`ErrorKind::Unauthorized`].
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, message)
    }

    /// [`ErrorKind::Fatal`].
    pub fn fatal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Fatal, message)
    }

    /// With the target's own code (SCIM `scimType`, a Slack error string).
    pub fn with_remote_code(mut self, code: impl Into<String>) -> Self {
        self.remote_code = Some(code.into());
        self
    }

    /// With the HTTP status of the answer.
    pub fn with_http_status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The sentence for the report.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The target's own code, if it gave one.
    pub fn remote_code(&self) -> Option<&str> {
        self.remote_code.as_deref()
    }

    /// The HTTP status, if there was an answer.
    pub fn http_status(&self) -> Option<u16> {
        self.http_status
    }

    /// Whether the same request may succeed later without anyone acting: rate
    /// limits and transient failures. A conflict is not (the core resolves it by
    /// adopting); neither is anything an administrator must fix.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::RateLimited { .. } | ErrorKind::Retryable { .. }
        )
    }

    /// The earliest time to try again, when the target said.
    pub fn retry_after(&self) -> Option<Duration> {
        match &self.kind {
            ErrorKind::RateLimited { retry_after } => Some(*retry_after),
            ErrorKind::Retryable { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// Whether this concerns the object alone or the whole target. A rate limit
    /// is the target's (every request to it must wait), as are refused
    /// credentials and an unusable target.
    pub fn scope(&self) -> ErrorScope {
        match self.kind {
            ErrorKind::RateLimited { .. } | ErrorKind::Unauthorized | ErrorKind::Fatal => {
                ErrorScope::Target
            }
            ErrorKind::Retryable { .. }
            | ErrorKind::Conflict { .. }
            | ErrorKind::NotFound
            | ErrorKind::Invalid { .. } => ErrorScope::Object,
        }
    }
}
