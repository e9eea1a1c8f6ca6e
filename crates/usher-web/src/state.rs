//! What the pages run on.

use std::sync::Arc;

use usher_core::jit::Provisioner;
use usher_core::ports::{AuditLog, Clock, Credentials, Directory, EphemeralStore, LogoutListener};
use usher_core::{Interactions, Sessions, UpstreamProfile};

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

/// Upstream IdPs, for the login page (buttons, home-realm discovery) and
/// `/login/federated` (JIT).
#[derive(Debug, Clone)]
pub struct Federation {
    /// Every configured upstream, enabled or not, in button order.
    pub upstreams: Vec<UpstreamProfile>,
    /// Runs JIT provisioning and records the report.
    pub provisioner: Provisioner,
    /// Signs the browser out at the upstream when its usher session ends.
    pub upstream_logout: Option<Arc<dyn UpstreamLogout>>,
}

impl Federation {
    /// The upstream with this id.
    pub fn upstream(&self, id: &str) -> Option<&UpstreamProfile> {
        self.upstreams.iter().find(|u| u.id.as_str() == id)
    }
}

/// Where to send the browser to end its session at the upstream IdP
/// (RP-initiated logout), implemented by the protocol crates.
#[async_trait::async_trait]
pub trait UpstreamLogout: Send + Sync {
    /// The upstream's logout URL for a session that signed in through it, or
    /// `None` when it has none. `then`: where the upstream may send the browser
    /// afterwards (usher's `/logout/done`, to register at the upstream), with
    /// `state` echoed.
    async fn logout_url(
        &self,
        upstream: &usher_core::UpstreamId,
        session: &usher_core::UpstreamSession,
        then: &str,
        state: Option<&str>,
    ) -> Option<String>;
}

/// Settings and dependencies of the pages, shared by every worker.
#[derive(Debug)]
pub struct WebState {
    pub(crate) settings: WebSettings,
    pub(crate) deps: WebDeps,
    pub(crate) federation: Option<Federation>,
}

impl WebState {
    /// The pages' state.
    pub fn new(settings: WebSettings, deps: WebDeps) -> Self {
        Self {
            settings,
            deps,
            federation: None,
        }
    }

    /// The pages with upstream IdPs.
    pub fn with_federation(mut self, federation: Federation) -> Self {
        self.federation = Some(federation);
        self
    }
}

impl std::fmt::Debug for dyn UpstreamLogout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpstreamLogout")
    }
}
