//! The protocol front-ends and pages, built once the backends are open. Until then
//! their handlers find no state and answer 503, like `/readyz`.

use std::sync::{Arc, OnceLock};

use actix_web::web;
use usher_core::jit::Provisioner;
use usher_core::ports::{AppGate, Clock, LogoutListener, ScimClients, SystemClock};
use usher_core::{AssignmentGate, Interactions, PendingBudget, SessionPolicy, Sessions};
use usher_oidc::upstream::{RpDeps, RpSettings, RpState};
use usher_oidc::{OidcDeps, OidcSettings, OidcState};
use usher_provisioning::{FirstSignInGate, SessionsEnder};
use usher_saml::{SamlDeps, SamlSettings, SamlSpDeps, SamlSpState, SamlState};
use usher_web::{
    Federation, PasswordHasher, ThrottlePolicy, UpstreamLogout, WebDeps, WebSettings, WebState,
};

use crate::backends::Backends;
use crate::config::Config;
use crate::metadata_refresh;
use crate::{accounts, apps};

/// The shared slots the handlers read their state from.
#[derive(Debug, Clone)]
pub struct Frontends {
    /// The OpenID Provider.
    pub oidc: web::Data<OnceLock<Arc<OidcState>>>,
    /// The pages.
    pub web: web::Data<OnceLock<Arc<WebState>>>,
    /// The SAML IdP.
    pub saml: usher_saml::SamlData,
    /// The relying party for upstream OpenID Providers.
    pub rp: usher_oidc::upstream::RpData,
    /// The service provider for upstream SAML IdPs.
    pub saml_sp: usher_saml::SamlSpData,
    /// The SCIM service.
    pub scim: usher_scim::ScimData,
    /// Outbound provisioning's loops, once started (stopped at shutdown so their
    /// leases go back at once).
    pub provisioning: Arc<std::sync::Mutex<Option<usher_provisioning::Handle>>>,
}

impl Frontends {
    /// Empty slots.
    pub fn new() -> Self {
        Self {
            oidc: web::Data::new(OnceLock::new()),
            web: web::Data::new(OnceLock::new()),
            saml: web::Data::new(OnceLock::new()),
            rp: web::Data::new(OnceLock::new()),
            saml_sp: web::Data::new(OnceLock::new()),
            scim: web::Data::new(OnceLock::new()),
            provisioning: Arc::new(std::sync::Mutex::new(None)),
        }
    }

    /// Builds the front-ends over `backends`, brings the accounts and applications
    /// declared in the configuration in line, and fills the slots.
    pub async fn open(&self, config: &Config, backends: &Backends) -> usher_core::Result<()> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        // Applications' connector settings are sealed under the master key.
        let store = Arc::new(
            backends
                .database
                .store()
                .with_master_key(backends.master.clone()),
        );
        let outbox: Arc<dyn usher_core::ports::Outbox> = store.clone();
        let report: Arc<dyn usher_core::ports::RemoteObjects> = store.clone();
        let hasher = Arc::new(hasher(config));
        accounts::sync(&config.users, &*store, &*store, &hasher).await?;
        apps::sync(config, &*store, &*store).await?;
        let gate: Arc<dyn AppGate> = Arc::new(FirstSignInGate::new(
            AssignmentGate::new(store.clone()),
            store.clone(),
            store.clone(),
            store.clone(),
            clock.clone(),
        ));

        let sessions = Sessions::new(
            backends.ephemeral.clone(),
            backends.refresh_tokens.clone(),
            clock.clone(),
            SessionPolicy {
                idle_timeout: config.sessions.idle_timeout,
                absolute_timeout: config.sessions.absolute_timeout,
            },
        );
        let interactions = Interactions::new(
            backends.ephemeral.clone(),
            backends.consents.clone(),
            clock.clone(),
        );
        // One budget for every front-end: an address's sign-ins through the OP, the
        // IdP and the upstreams all count toward the same limit.
        let budget = PendingBudget::new(
            backends.ephemeral.clone(),
            clock.clone(),
            config
                .pending_sign_ins
                .policy()
                .map_err(|e| usher_core::Error::Invalid(e.to_string()))?,
            config.server.trusted_proxies.clone(),
        );
        let secure_cookies = config.server.public_url.starts_with("https://");
        let oidc = Arc::new(OidcState::new(
            OidcSettings {
                issuer: config.server.public_url.trim_end_matches('/').to_owned(),
                lifetimes: config.oidc.lifetimes(),
                secure_cookies,
            },
            config
                .oidc
                .clients()
                .map_err(|e| usher_core::Error::Invalid(e.to_string()))?
                .into_iter()
                .map(|c| (c.client_id.clone(), c))
                .collect(),
            OidcDeps {
                directory: store.clone(),
                keys: backends.keys.clone(),
                ephemeral: backends.ephemeral.clone(),
                refresh_tokens: backends.refresh_tokens.clone(),
                sessions: sessions.clone(),
                interactions: interactions.clone(),
                clock: clock.clone(),
                budget: budget.clone(),
                gate: gate.clone(),
                audit: store.clone(),
                not_assigned_page: usher_web::not_assigned_page,
            },
        ));
        let backchannel: Arc<dyn LogoutListener> =
            Arc::new(usher_oidc::BackchannelLogout::new(oidc.clone()));
        let declarations = config
            .saml
            .declarations()
            .map_err(|e| usher_core::Error::Invalid(e.to_string()))?;
        let mut sps = config
            .saml
            .service_providers()
            .map_err(|e| usher_core::Error::Invalid(e.to_string()))?;
        let metadata_client = metadata_refresh::client();
        sps.extend(metadata_refresh::first_load(&metadata_client, &declarations).await);
        let saml = Arc::new(SamlState::new(
            SamlSettings {
                public_url: config.server.public_url.trim_end_matches('/').to_owned(),
                want_authn_requests_signed: config.saml.want_authn_requests_signed,
            },
            sps,
            SamlDeps {
                directory: store.clone(),
                keys: backends.keys.clone(),
                ephemeral: backends.ephemeral.clone(),
                sessions: sessions.clone(),
                interactions: interactions.clone(),
                clock: clock.clone(),
                logout_listeners: vec![backchannel.clone()],
                budget: budget.clone(),
                gate,
                audit: store.clone(),
                not_assigned_page: usher_web::not_assigned_page,
            },
        ));
        let profiles = crate::config::upstream_profiles(&config.upstreams)
            .map_err(|e| usher_core::Error::Invalid(e.to_string()))?;
        let rp = Arc::new(RpState::new(
            RpSettings {
                public_url: config.server.public_url.trim_end_matches('/').to_owned(),
                secure_cookies,
            },
            crate::config::oidc_upstreams(&config.upstreams)
                .map_err(|e| usher_core::Error::Invalid(e.to_string()))?,
            RpDeps {
                ephemeral: backends.ephemeral.clone(),
                interactions: interactions.clone(),
                clock: clock.clone(),
                budget: budget.clone(),
            },
        ));
        let (mut saml_upstreams, saml_declarations) =
            crate::config::saml_upstreams(&config.upstreams, &config.server.public_url)
                .map_err(|e| usher_core::Error::Invalid(e.to_string()))?;
        saml_upstreams.extend(
            metadata_refresh::first_load_upstreams(&metadata_client, &saml_declarations).await,
        );
        let saml_sp = Arc::new(SamlSpState::new(
            &config.server.public_url,
            saml_upstreams,
            SamlSpDeps {
                keys: backends.keys.clone(),
                ephemeral: backends.ephemeral.clone(),
                interactions: interactions.clone(),
                clock: clock.clone(),
                budget,
            },
        ));
        let federation = Federation {
            upstreams: profiles,
            provisioner: Provisioner::new(store.clone(), store.clone()),
            upstream_logout: Some(Arc::new(OidcUpstreamLogout(rp.clone()))),
        };
        for (name, token) in config
            .scim
            .clients()
            .map_err(|e| usher_core::Error::Invalid(e.to_string()))?
        {
            store
                .put_config_scim_client(
                    &name,
                    &usher_core::random::digest(token.expose()),
                    accounts::ACTOR,
                )
                .await?;
        }
        let known: Vec<String> = store
            .scim_clients()
            .await?
            .into_iter()
            .map(|c| c.name)
            .collect();
        crate::config::check_scim_clients(&federation.upstreams, &known)
            .map_err(|e| usher_core::Error::Invalid(e.to_string()))?;
        let scim = Arc::new(usher_scim::ScimState::new(
            usher_scim::ScimSettings {
                base_url: format!(
                    "{}{}",
                    config.server.public_url.trim_end_matches('/'),
                    usher_scim::BASE_PATH
                ),
                max_results: config.scim.max_results,
                max_payload: config.scim.max_payload_bytes,
                max_bulk_operations: config.scim.max_bulk_operations,
            },
            usher_scim::ScimDeps {
                directory: store.clone(),
                clients: store.clone(),
                sessions: sessions.clone(),
                logout_listeners: vec![backchannel.clone()],
                clock: clock.clone(),
            },
        ));
        let provisioning = crate::provisioning::start(
            &backends.database,
            &store,
            SessionsEnder::new(sessions.clone(), vec![backchannel.clone()]),
        )
        .map_err(|e| usher_core::Error::Invalid(e.to_string()))?;
        *self.provisioning.lock().unwrap_or_else(|p| p.into_inner()) = Some(provisioning);
        let pages = WebState::new(
            WebSettings {
                public_url: config.server.public_url.clone(),
                secure_cookies,
                trusted_proxies: config.server.trusted_proxies.clone(),
                throttle: ThrottlePolicy {
                    per_account_and_ip: config.login_throttle.per_account_and_ip,
                    per_account: config.login_throttle.per_account,
                    per_ip: config.login_throttle.per_ip,
                    window: config.login_throttle.window,
                },
            },
            WebDeps {
                directory: store.clone(),
                credentials: store.clone(),
                ephemeral: backends.ephemeral.clone(),
                sessions,
                interactions,
                logout_listeners: vec![backchannel],
                audit: store,
                clock,
                hasher,
            },
        )
        .with_federation(federation);
        if self.oidc.set(oidc).is_ok() {
            crate::purge::spawn(
                backends.consents.clone(),
                backends.refresh_tokens.clone(),
                (outbox, config.outbox.retention),
                (report, config.report.retention),
                Arc::new(SystemClock),
            );
        }
        if self.saml.set(saml.clone()).is_ok() {
            metadata_refresh::spawn(saml, metadata_client.clone(), declarations);
        }
        let _ = self.rp.set(rp);
        if self.saml_sp.set(saml_sp.clone()).is_ok() {
            metadata_refresh::spawn_upstreams(saml_sp, metadata_client, saml_declarations);
        }
        let _ = self.web.set(Arc::new(pages));
        let _ = self.scim.set(scim);
        Ok(())
    }
}

/// Argon2 cost from configuration.
pub fn password_policy(config: &Config) -> usher_web::PasswordPolicy {
    let p = &config.passwords;
    let defaults = usher_web::PasswordPolicy::default();
    usher_web::PasswordPolicy {
        memory_kib: p.memory_kib,
        iterations: p.iterations,
        parallelism: p.parallelism,
        max_concurrent: p.max_concurrent.unwrap_or(defaults.max_concurrent),
    }
}

/// A hasher with the configured cost.
pub fn hasher(config: &Config) -> PasswordHasher {
    PasswordHasher::new(password_policy(config))
}

/// RP-initiated logout at upstream OpenID Providers, for the sign-out page.
struct OidcUpstreamLogout(Arc<RpState>);

#[async_trait::async_trait]
impl UpstreamLogout for OidcUpstreamLogout {
    async fn logout_url(
        &self,
        upstream: &usher_core::UpstreamId,
        session: &usher_core::UpstreamSession,
        then: &str,
        state: Option<&str>,
    ) -> Option<String> {
        match session {
            usher_core::UpstreamSession::Oidc { id_token, .. } => {
                self.0
                    .end_session_url(upstream.as_str(), id_token, Some(then), state)
                    .await
            }
            usher_core::UpstreamSession::Saml { .. } => None,
        }
    }
}
