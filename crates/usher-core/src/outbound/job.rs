//! Jobs: one (application, object) to bring to a desired state.
//!
//! The planner computes the desired state and enqueues a job in the same
//! transaction that marks the causing events processed. There is at most one
//! pending and one in-flight job per (application, object): a newer plan replaces
//! the pending one (coalescing), so a worker always pushes the latest state and an
//! object's changes reach the app in order.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{ApplicationId, Error, GroupId, Result, UserId};

/// The local object a job or a remote mapping is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum ObjectRef {
    /// A user.
    User(UserId),
    /// A group.
    Group(GroupId),
}

impl ObjectRef {
    /// The stored kind (`user`, `group`).
    pub fn kind(&self) -> &'static str {
        match self {
            ObjectRef::User(_) => "user",
            ObjectRef::Group(_) => "group",
        }
    }

    /// The id as text.
    pub fn id_string(&self) -> String {
        match self {
            ObjectRef::User(id) => id.to_string(),
            ObjectRef::Group(id) => id.to_string(),
        }
    }

    /// Rebuilds a reference from its stored kind and id.
    pub fn parse(kind: &str, id: &str) -> Result<Self> {
        let uuid = uuid::Uuid::parse_str(id)
            .map_err(|_| Error::Internal(format!("stored {kind} id {id:?} is not a uuid")))?;
        match kind {
            "user" => Ok(ObjectRef::User(UserId(uuid))),
            "group" => Ok(ObjectRef::Group(GroupId(uuid))),
            other => Err(Error::Internal(format!("unknown object kind {other:?}"))),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind(), self.id_string())
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its `next_run_at`.
    Pending,
    /// Leased by a worker until `lease_expires_at`.
    InFlight,
    /// Gave up after its attempts or on a permanent error; waits for an admin
    /// (`usher provisioning retry --parked`) or a newer plan for the same object.
    Parked,
}

impl JobState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::InFlight => "in_flight",
            JobState::Parked => "parked",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => JobState::Pending,
            "in_flight" => JobState::InFlight,
            "parked" => JobState::Parked,
            _ => return None,
        })
    }
}

/// A job the planner enqueues.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// The application.
    pub app: ApplicationId,
    /// The object.
    pub object: ObjectRef,
    /// The desired state, as the provisioning core serializes it (opaque here).
    pub desired: serde_json::Value,
    /// How the report names the object (username, group name), kept when the
    /// object is deleted.
    pub label: String,
    /// The event kind that caused it (`user_deactivated`, `sync`).
    pub cause: String,
    /// When the causing change was committed; a replaced pending job keeps the
    /// older time, so propagation latency counts from the first change.
    pub changed_at: OffsetDateTime,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Stable id.
    pub id: i64,
    /// The application.
    pub app: ApplicationId,
    /// The object.
    pub object: ObjectRef,
    /// The desired state.
    pub desired: serde_json::Value,
    /// The report's name for the object.
    pub label: String,
    /// What caused it.
    pub cause: String,
    /// Where it is.
    pub state: JobState,
    /// Attempts so far (a claim counts one).
    pub attempts: u32,
    /// Not before.
    pub next_run_at: OffsetDateTime,
    /// The worker holding it.
    pub lease_owner: Option<String>,
    /// Until when.
    pub lease_expires_at: Option<OffsetDateTime>,
    /// The last failure in words.
    pub last_error: Option<String>,
    /// When the causing change was committed.
    pub changed_at: OffsetDateTime,
    /// When enqueued.
    pub created_at: OffsetDateTime,
}

/// One application's queue at a glance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStatus {
    /// Jobs waiting.
    pub pending: u64,
    /// Jobs leased.
    pub in_flight: u64,
    /// Jobs parked.
    pub parked: u64,
    /// The oldest change still waiting (pending or in flight).
    pub oldest_change: Option<OffsetDateTime>,
}
