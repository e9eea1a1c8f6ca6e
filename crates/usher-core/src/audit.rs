//! The audit log: who did what to the broker's configuration and secrets.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// An audit record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Monotonic id.
    pub id: i64,
    /// When it happened.
    pub at: OffsetDateTime,
    /// Who did it (`cli`, `admin:alice`, `scim:entra`, `system`).
    pub actor: String,
    /// What was done (`keys.rotate`, `user.create`, ...).
    pub action: String,
    /// What it was done to (a key id, a user id), if anything.
    pub target: Option<String>,
    /// Extra context; never secrets.
    pub details: serde_json::Value,
}

/// What it takes to record an audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub target: Option<String>,
    /// Context; never secrets.
    pub details: serde_json::Value,
}
