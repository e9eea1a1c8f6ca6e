//! What the service-provider handlers share: usher's URL, the upstream registry
//! (each upstream swapped whole when its metadata is re-read, as the SP registry
//! of the IdP side is), the ports and usher's signing keys.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use actix_web::web;
use usher_core::ports::{Clock, EphemeralStore, KeyStore};
use usher_core::{Interactions, PendingBudget};

use super::settings::{
    SamlUpstream, SamlUpstreamSettings, SettingsFiles, UpstreamConfigError, UpstreamIdentity,
};
use crate::keys::KeyCache;

/// How handlers find the state: set once the backends are open.
pub type SamlSpData = web::Data<OnceLock<Arc<SamlSpState>>>;

/// The ports the service provider works through.
#[derive(Clone)]
pub struct SamlSpDeps {
    /// usher's signing keys (AuthnRequests, metadata).
    pub keys: Arc<dyn KeyStore>,
    /// Pending requests, the assertion-ID replay cache.
    pub ephemeral: Arc<dyn EphemeralStore>,
    /// The hand-off to `/login/federated`.
    pub interactions: Interactions,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Per-address budget for pending sign-ins (charged before one is parked).
    pub budget: PendingBudget,
}

impl std::fmt::Debug for SamlSpDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SamlSpDeps")
    }
}

/// Everything a handler needs.
#[derive(Debug)]
pub struct SamlSpState {
    /// usher's public URL, without a trailing slash.
    pub public_url: String,
    upstreams: RwLock<HashMap<String, Arc<SamlUpstream>>>,
    /// Ports.
    pub deps: SamlSpDeps,
    /// Signing keys, reloaded from the key store at most every minute.
    pub keys: KeyCache,
}

impl SamlSpState {
    /// The state for `upstreams`.
    pub fn new(public_url: &str, upstreams: Vec<SamlUpstream>, deps: SamlSpDeps) -> Self {
        Self {
            public_url: public_url.trim_end_matches('/').to_owned(),
            upstreams: RwLock::new(
                upstreams
                    .into_iter()
                    .map(|u| (u.id.to_string(), Arc::new(u)))
                    .collect(),
            ),
            deps,
            keys: KeyCache::default(),
        }
    }

    /// The upstream `id`: a snapshot, unaffected by a later replacement.
    pub fn upstream(&self, id: &str) -> Option<Arc<SamlUpstream>> {
        self.upstreams
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// Registers `upstream` under its id, atomically replacing the one there
    /// (responses being handled keep the one they started with).
    pub fn replace_upstream(&self, upstream: SamlUpstream) {
        self.upstreams
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(upstream.id.to_string(), Arc::new(upstream));
    }

    /// Re-resolves an upstream from freshly read metadata (the binary's refresh
    /// task reads the file or fetches the URL on `metadata_refresh_seconds`) and
    /// swaps it in; on any error the registered upstream stays as it was (the
    /// last good metadata keeps working) and the error says why.
    pub fn reload_upstream(
        &self,
        who: &UpstreamIdentity,
        settings: &SamlUpstreamSettings,
        metadata_xml: &str,
        files: &SettingsFiles,
    ) -> Result<(), UpstreamConfigError> {
        let upstream = settings.resolve(who, Some(metadata_xml), files)?;
        self.replace_upstream(upstream);
        Ok(())
    }

    /// The ids of the registered upstreams, sorted.
    pub fn upstream_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .upstreams
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        ids.sort();
        ids
    }

    /// Whether cookies get `Secure` and the `__Host-` prefix.
    pub fn secure(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}
