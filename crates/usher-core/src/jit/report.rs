//! The provisioning report: one row per JIT decision, queried by user, upstream
//! and time span (`usher report`, later the admin API and console).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{UpstreamId, UserId};

/// What a federated sign-in did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JitOutcome {
    /// A user was created and linked.
    Created,
    /// A linked user signed in and `force` sync changed its fields or groups.
    Updated,
    /// The identity was linked to an existing user (by verified email).
    Linked,
    /// A linked user signed in; nothing changed.
    SignedIn,
    /// The sign-in was refused; nothing changed.
    Denied,
}

impl JitOutcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JitOutcome::Created => "created",
            JitOutcome::Updated => "updated",
            JitOutcome::Linked => "linked",
            JitOutcome::SignedIn => "signed_in",
            JitOutcome::Denied => "denied",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "created" => JitOutcome::Created,
            "updated" => JitOutcome::Updated,
            "linked" => JitOutcome::Linked,
            "signed_in" => JitOutcome::SignedIn,
            "denied" => JitOutcome::Denied,
            _ => return None,
        })
    }
}

/// A report row to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewReportEntry {
    /// The upstream.
    pub upstream: UpstreamId,
    /// The upstream's subject.
    pub subject: String,
    /// The usher user, when there is one.
    pub user_id: Option<UserId>,
    /// What happened.
    pub outcome: JitOutcome,
    /// Why (the denial code and message, or what changed).
    pub reason: Option<String>,
    /// The browser's address.
    pub client_ip: Option<String>,
}

/// A report row as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportEntry {
    /// Increasing id.
    pub id: i64,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The upstream.
    pub upstream: UpstreamId,
    /// The upstream's subject.
    pub subject: String,
    /// The usher user, when there is one.
    pub user_id: Option<UserId>,
    /// What happened.
    pub outcome: JitOutcome,
    /// Why.
    pub reason: Option<String>,
    /// The browser's address.
    pub client_ip: Option<String>,
}

/// Which rows to read: every given filter applies; oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportQuery {
    /// Rows about this user.
    pub user: Option<UserId>,
    /// Rows about this upstream.
    pub upstream: Option<UpstreamId>,
    /// At or after.
    pub since: Option<OffsetDateTime>,
    /// Before.
    pub until: Option<OffsetDateTime>,
    /// At most this many (capped like every page).
    pub limit: u32,
}
