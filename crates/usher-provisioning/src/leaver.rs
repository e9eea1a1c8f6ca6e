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

/// The [`SessionEnder`] over usher's SSO sessions: every session and
/// refresh-token family ends, and each ended session is handed to the logout
/// listeners (back-channel logout to the OIDC apps that took part).
#[derive(Clone)]
pub struct SessionsEnder {
    sessions: usher_core::Sessions,
    listeners: Vec<std::sync::Arc<dyn usher_core::ports::LogoutListener>>,
}

impl std::fmt::Debug for SessionsEnder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionsEnder")
            .field("listeners", &self.listeners.len())
            .finish_non_exhaustive()
    }
}

impl SessionsEnder {
    /// Over `sessions`, telling `listeners`.
    pub fn new(
        sessions: usher_core::Sessions,
        listeners: Vec<std::sync::Arc<dyn usher_core::ports::LogoutListener>>,
    ) -> Self {
        Self {
            sessions,
            listeners,
        }
    }
}

#[async_trait]
impl SessionEnder for SessionsEnder {
    async fn end_sessions(&self, user: UserId) -> Result<()> {
        let ended = self
            .sessions
            .end_all_for_user(user, &self.listeners)
            .await?;
        tracing::info!(user = %user, sessions = ended, "leaver: sessions ended");
        Ok(())
    }
}
