//! What the IdP's handlers share: settings, registered SPs, the ports.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use actix_web::web;
use usher_core::ports::{Clock, Directory, EphemeralStore, KeyStore, LogoutListener};
use usher_core::{Interactions, Sessions};

use crate::keys::KeyCache;
use crate::sp::ServiceProvider;

/// How handlers find the IdP's state: set once the backends are open.
pub type SamlData = web::Data<OnceLock<Arc<SamlState>>>;

/// IdP settings from configuration.
#[derive(Debug, Clone)]
pub struct SamlSettings {
    /// usher's public URL, without a trailing slash.
    pub public_url: String,
    /// `WantAuthnRequestsSigned` in the metadata: every request must be signed.
    pub want_authn_requests_signed: bool,
}

impl SamlSettings {
    /// The IdP's entity id.
    pub fn entity_id(&self) -> String {
        format!("{}/saml/metadata", self.public_url)
    }

    /// The SSO endpoint (both bindings).
    pub fn sso_url(&self) -> String {
        format!("{}/saml/sso", self.public_url)
    }

    /// The name of the SSO session cookie the pages set (`__Host-` under https).
    pub fn session_cookie(&self) -> &'static str {
        usher_core::session_cookie_name(self.public_url.starts_with("https://"))
    }
}

/// The ports the IdP works through; the binary picks the implementations.
#[derive(Clone)]
pub struct SamlDeps {
    /// Users and groups.
    pub directory: Arc<dyn Directory>,
    /// Signing keys.
    pub keys: Arc<dyn KeyStore>,
    /// Pending requests, the request-ID replay cache.
    pub ephemeral: Arc<dyn EphemeralStore>,
    /// SSO sessions.
    pub sessions: Sessions,
    /// Login hand-off to the pages.
    pub interactions: Interactions,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Told when an SP's LogoutRequest ends a session, to reach the other apps.
    pub logout_listeners: Vec<Arc<dyn LogoutListener>>,
}

impl std::fmt::Debug for SamlDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SamlDeps")
    }
}

/// Everything a handler needs.
#[derive(Debug)]
pub struct SamlState {
    /// Settings.
    pub settings: SamlSettings,
    /// SPs by entity id.
    pub sps: HashMap<String, ServiceProvider>,
    /// Ports.
    pub deps: SamlDeps,
    /// Signing keys, reloaded from the key store at most every minute.
    pub keys: KeyCache,
}

impl SamlState {
    /// The state for `settings`, `sps` and `deps`.
    pub fn new(settings: SamlSettings, sps: Vec<ServiceProvider>, deps: SamlDeps) -> Self {
        Self {
            settings,
            sps: sps.into_iter().map(|s| (s.entity_id.clone(), s)).collect(),
            deps,
            keys: KeyCache::default(),
        }
    }

    /// The SP registered under `entity_id`.
    pub fn sp(&self, entity_id: &str) -> Option<&ServiceProvider> {
        self.sps.get(entity_id)
    }
}
