//! The part of a leaver that is not provisioning: ending sessions.

use async_trait::async_trait;
use usher_core::{Result, UserId};

/// Ends every SSO session and refresh-token family of a user and tells the OIDC
/// apps that took part (back-channel logout). The planner calls it for each
/// deactivation or deletion before marking the event processed, so a failure is
/// retried with the event, never lost. Must be idempotent.
#[async_trait]
pub trait SessionEnder: Send + Sync {
    /// Ends them.
    async fn end_sessions(&self, user: UserId) -> Result<()>;
}
