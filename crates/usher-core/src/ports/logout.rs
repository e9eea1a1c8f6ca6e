use async_trait::async_trait;

use crate::{Participant, SsoSession};

/// Told when an SSO session ends, to propagate the logout to the apps that took
/// part (OIDC back-channel logout, SAML LogoutRequests). Implemented by protocol
/// crates; called by whoever ends the session (the logout page, deprovisioning).
/// Must not block the user: slow or failing apps are retried in the background.
#[async_trait]
pub trait LogoutListener: Send + Sync {
    /// A session ended; `participants` are the apps it served.
    async fn session_ended(&self, session: &SsoSession, participants: &[Participant]);
}
