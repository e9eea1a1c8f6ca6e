//! What the pages run on.

use std::sync::Arc;

use usher_core::ports::{AuditLog, Clock, Credentials, Directory, EphemeralStore, LogoutListener};
use usher_core::{Interactions, Sessions};

use crate::{PasswordHasher, WebSettings};

/// The ports and services the pages use; the binary picks the implementations.
pub struct WebDeps {
    /// Users.
    pub directory: Arc<dyn Directory>,
    /// Local password hashes.
    pub credentials: Arc<dyn Credentials>,
    /// Throttling counters (and, through the two services below, sessions and
    /// interactions).
    pub ephemeral: Arc<dyn EphemeralStore>,
    /// SSO sessions.
    pub sessions: Sessions,
    /// Parked login, consent and logout requests.
    pub interactions: Interactions,
    /// Told when a session ends (back-channel logout, SAML SLO).
    pub logout_listeners: Vec<Arc<dyn LogoutListener>>,
    /// Sign-ins, failures, consents and logouts are recorded here.
    pub audit: Arc<dyn AuditLog>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Password verification.
    pub hasher: Arc<PasswordHasher>,
}

impl std::fmt::Debug for WebDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebDeps")
            .field("sessions", &self.sessions)
            .field("logout_listeners", &self.logout_listeners.len())
            .field("hasher", &self.hasher)
            .finish_non_exhaustive()
    }
}

/// Settings and dependencies of the pages, shared by every worker.
#[derive(Debug)]
pub struct WebState {
    pub(crate) settings: WebSettings,
    pub(crate) deps: WebDeps,
}

impl WebState {
    /// The pages' state.
    pub fn new(settings: WebSettings, deps: WebDeps) -> Self {
        Self { settings, deps }
    }
}
