//! What the IdP's handlers share: settings, registered SPs, the ports.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use actix_web::{HttpResponse, web};
use usher_core::ports::{
    AppGate, AuditLog, Clock, Directory, EphemeralStore, KeyStore, LogoutListener,
};
use usher_core::{Interactions, PendingBudget, Sessions};

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
    /// Per-address budget for the requests parked (without a session, or with
    /// `ForceAuthn`).
    pub budget: PendingBudget,
    /// Decides whether the user may sign in to the app behind an SP (its
    /// assignment), before a Response is issued.
    pub gate: Arc<dyn AppGate>,
    /// Where refused sign-ins are recorded.
    pub audit: Arc<dyn AuditLog>,
    /// The page for a user not assigned to the app, given its display name
    /// (`usher_web::not_assigned_page`; the IdP does not depend on usher-web).
    pub not_assigned_page: fn(&str) -> HttpResponse,
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
    /// SPs by entity id; each swapped whole when its metadata is re-read.
    sps: RwLock<HashMap<String, Arc<ServiceProvider>>>,
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
            sps: RwLock::new(
                sps.into_iter()
                    .map(|s| (s.entity_id.clone(), Arc::new(s)))
                    .collect(),
            ),
            deps,
            keys: KeyCache::default(),
        }
    }

    /// The SP registered under `entity_id`: a snapshot, unaffected by a later
    /// [`Self::replace_service_provider`].
    pub fn sp(&self, entity_id: &str) -> Option<Arc<ServiceProvider>> {
        self.sps
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(entity_id)
            .cloned()
    }

    /// Registers `sp` under its entity id, atomically replacing the SP registered
    /// there (requests already being handled keep the one they started with).
    pub fn replace_service_provider(&self, sp: ServiceProvider) {
        self.sps
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(sp.entity_id.clone(), Arc::new(sp));
    }

    /// The entity ids of the registered SPs, sorted.
    pub fn service_provider_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .sps
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        ids.sort();
        ids
    }
}
