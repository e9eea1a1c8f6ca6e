//! The remote mapping: what an app holds for one local user or group.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::ObjectRef;
use crate::ApplicationId;

/// The remote account's state as usher last left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteState {
    /// Exists and is active.
    Active,
    /// Exists, deactivated.
    Deactivated,
    /// Deleted by usher (the row stays so the report and status can say so).
    Deleted,
}

impl RemoteState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RemoteState::Active => "active",
            RemoteState::Deactivated => "deactivated",
            RemoteState::Deleted => "deleted",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => RemoteState::Active,
            "deactivated" => RemoteState::Deactivated,
            "deleted" => RemoteState::Deleted,
            _ => return None,
        })
    }
}

/// A mapping row.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteObject {
    /// The application.
    pub app: ApplicationId,
    /// The local object.
    pub object: ObjectRef,
    /// The app's id for it.
    pub remote_id: String,
    /// Its state.
    pub state: RemoteState,
    /// What was pushed last (the provisioning core's serialized record), so an
    /// update can send only the difference.
    pub pushed: serde_json::Value,
    /// SHA-256 of `pushed`, to skip an update that changes nothing.
    pub digest: String,
    /// When the change it reflects was committed in usher.
    pub changed_at: OffsetDateTime,
    /// When the app acknowledged it.
    pub acknowledged_at: OffsetDateTime,
}

/// What a finished attempt learned about the remote object, written with the
/// job's completion in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum RemoteChange {
    /// The object now exists remotely in this state, with this content.
    Upsert {
        /// The app's id for it.
        remote_id: String,
        /// Its state.
        state: RemoteState,
        /// What was pushed.
        pushed: serde_json::Value,
        /// Digest of `pushed`.
        digest: String,
    },
    /// The mapping is gone (deleted remotely by usher, or found missing).
    Forget,
}
