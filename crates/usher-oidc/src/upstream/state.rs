//! What the relying party's handlers share.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use actix_web::web;
use usher_core::ports::{Clock, EphemeralStore};
use usher_core::{Interactions, PendingBudget};

use super::config::OidcUpstream;
use super::provider::Provider;

/// Settings from configuration.
#[derive(Debug, Clone)]
pub struct RpSettings {
    /// usher's public URL (redirect URIs are `{public_url}/federation/{id}/oidc/callback`).
    pub public_url: String,
    /// The binding cookie is `Secure` (public URL is https).
    pub secure_cookies: bool,
}

/// The ports the relying party works through.
#[derive(Clone)]
pub struct RpDeps {
    /// Pending sign-ins.
    pub ephemeral: Arc<dyn EphemeralStore>,
    /// Parked logins (read) and federated hand-offs (written).
    pub interactions: Interactions,
    /// Time (id_token `exp` and `iat`).
    pub clock: Arc<dyn Clock>,
    /// Per-address budget for pending sign-ins (charged before one is parked).
    pub budget: PendingBudget,
}

impl std::fmt::Debug for RpDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RpDeps")
    }
}

pub(crate) struct Upstream {
    pub config: OidcUpstream,
    pub provider: Provider,
}

/// The relying party: settings, upstreams and ports.
pub struct RpState {
    pub(crate) settings: RpSettings,
    pub(crate) deps: RpDeps,
    pub(crate) upstreams: HashMap<String, Arc<Upstream>>,
}

impl std::fmt::Debug for RpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpState")
            .field("settings", &self.settings)
            .field("upstreams", &self.upstreams.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl RpState {
    /// The relying party for `upstreams`.
    pub fn new(settings: RpSettings, upstreams: Vec<OidcUpstream>, deps: RpDeps) -> Self {
        let upstreams = upstreams
            .into_iter()
            .map(|config| {
                let provider = Provider::new(&config.issuer, super::http::client(config.timeout));
                (
                    config.id.as_str().to_owned(),
                    Arc::new(Upstream { config, provider }),
                )
            })
            .collect();
        Self {
            settings,
            deps,
            upstreams,
        }
    }

    pub(crate) fn callback_url(&self, id: &str) -> String {
        format!(
            "{}/federation/{id}/oidc/callback",
            self.settings.public_url.trim_end_matches('/')
        )
    }

    /// The upstream's RP-Initiated Logout URL for a session that signed in with
    /// `id_token` (OIDC RP-Initiated Logout 1.0 §2), when it has an
    /// `end_session_endpoint`; `None` otherwise or when it cannot be read.
    pub async fn end_session_url(
        &self,
        upstream: &str,
        id_token: &str,
        post_logout_redirect_uri: Option<&str>,
        state: Option<&str>,
    ) -> Option<String> {
        let up = self.upstreams.get(upstream)?;
        let metadata = up.provider.metadata().await.ok()?;
        let endpoint = metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        let mut url = openidconnect::url::Url::parse(&endpoint).ok()?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("id_token_hint", id_token);
            q.append_pair("client_id", &up.config.client_id);
            if let Some(uri) = post_logout_redirect_uri {
                q.append_pair("post_logout_redirect_uri", uri);
            }
            if let Some(state) = state {
                q.append_pair("state", state);
            }
        }
        Some(url.into())
    }
}

/// How the binary hands the state to the handlers.
pub type RpData = web::Data<OnceLock<Arc<RpState>>>;
