//! One outbound attempt, as the provisioning report shows it.

use serde::{Deserialize, Serialize};

use super::ObjectRef;
use crate::ApplicationId;

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptResult {
    /// The app acknowledged the change.
    Success,
    /// Nothing needed sending (already in the desired state).
    NoChange,
    /// Failed; the job will be tried again.
    Retry,
    /// Failed for good (or out of attempts); the job is parked.
    Failed,
    /// The operation is switched off for this app.
    Skipped,
}

impl AttemptResult {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptResult::Success => "success",
            AttemptResult::NoChange => "no_change",
            AttemptResult::Retry => "retry",
            AttemptResult::Failed => "failed",
            AttemptResult::Skipped => "skipped",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "success" => AttemptResult::Success,
            "no_change" => AttemptResult::NoChange,
            "retry" => AttemptResult::Retry,
            "failed" => AttemptResult::Failed,
            "skipped" => AttemptResult::Skipped,
            _ => return None,
        })
    }
}

/// A report row for one call (or decision) on one object in one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The application.
    pub app: ApplicationId,
    /// The object.
    pub object: ObjectRef,
    /// Its name in words (username, group name).
    pub label: String,
    /// What was tried (`create`, `update`, `deactivate`, `reactivate`, `delete`,
    /// `adopt`, `add_members`, ...).
    pub operation: String,
    /// How it ended.
    pub result: AttemptResult,
    /// The app's own error code (SCIM `scimType`, Slack `email_taken`).
    pub remote_code: Option<String>,
    /// What happened, in words.
    pub message: Option<String>,
    /// The HTTP status, when there was one.
    pub http_status: Option<u16>,
    /// How long the call took.
    pub duration_ms: u64,
    /// Which attempt of the job this was.
    pub attempt: u32,
}

/// An attempt as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptEntry {
    /// Increasing id.
    pub id: i64,
    /// When it ended.
    pub at: time::OffsetDateTime,
    /// What it was.
    pub attempt: Attempt,
}

/// Which attempts to read: every given filter applies; oldest first unless
/// `newest_first`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptQuery {
    /// About this object (a user's rows: `ObjectRef::User`).
    pub object: Option<ObjectRef>,
    /// In this application.
    pub app: Option<ApplicationId>,
    /// With this result.
    pub result: Option<AttemptResult>,
    /// At or after.
    pub since: Option<time::OffsetDateTime>,
    /// Before.
    pub until: Option<time::OffsetDateTime>,
    /// The latest rows first (the last success, the last error).
    pub newest_first: bool,
    /// At most this many (capped like every page).
    pub limit: u32,
}
