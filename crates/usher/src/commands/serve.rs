use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::web;
use usher_store::MasterKey;

use crate::backends;
use crate::config::Config;
use crate::frontends::Frontends;
use crate::master_key;
use crate::server::{self, Metrics, Readiness};

/// Longest wait between two attempts to reach the backends.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// `usher serve`: listens first, then opens the backends in the background, so that
/// a database that is down at start leaves a live process reporting "not ready"
/// and retrying, instead of a crash loop.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let master = master_key::resolve(&config)?;
    let readiness = web::Data::new(Readiness::default());
    let metrics = web::Data::new(Metrics::new());
    let frontends = Frontends::new();
    let server = server::build(
        &config,
        readiness.clone(),
        metrics.clone(),
        frontends.clone(),
    )?;
    tracing::info!(
        bind = %config.server.bind,
        public_url = %config.server.public_url,
        "usher is listening"
    );
    for client in config.oidc.clients.iter().filter(|c| c.development) {
        tracing::warn!(
            client_id = %client.client_id,
            "OIDC client marked `development = true`: plain http redirect URIs are allowed \
             for it on any host; never use this in production"
        );
    }
    for sp in config
        .saml
        .service_providers
        .iter()
        .filter(|s| s.development)
    {
        tracing::warn!(
            entity_id = %sp.entity_id,
            "SAML service provider marked `development = true`: plain http ACS and SLO URLs \
             are allowed for it on any host; never use this in production"
        );
    }
    let fatal = Arc::new(Mutex::new(None));
    let provisioning = frontends.provisioning.clone();
    actix_web::rt::spawn(bring_up(
        config,
        master,
        readiness,
        frontends,
        server.handle(),
        fatal.clone(),
    ));
    server.await?;
    // The HTTP server has drained; give the provisioning leases back so another
    // instance takes over at once instead of after they expire.
    let handle = provisioning
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    if let Some(handle) = handle {
        handle.shutdown().await;
    }
    if let Some(error) = fatal.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(error);
    }
    tracing::info!("usher stopped");
    Ok(())
}

/// Opens the backends, retrying with exponential backoff while they are
/// unavailable. An error no retry can fix (a wrong master key) stops the server.
async fn bring_up(
    config: Config,
    master: MasterKey,
    readiness: web::Data<Readiness>,
    frontends: Frontends,
    server: ServerHandle,
    fatal: Arc<Mutex<Option<anyhow::Error>>>,
) {
    let mut delay = Duration::from_secs(1);
    loop {
        let opened = match backends::open(&config, &master).await {
            Ok(backends) => frontends.open(&config, &backends).await.map(|()| backends),
            Err(e) => Err(e),
        };
        match opened {
            Ok(backends) => {
                tracing::info!(
                    database = backends.database.backend_name(),
                    ephemeral = backends.ephemeral_kind,
                    "ready"
                );
                readiness.set_ready(backends);
                return;
            }
            Err(e) if e.is_retryable() => {
                tracing::error!(error = %e, retry_in_s = delay.as_secs(), "backends unavailable; retrying");
                readiness.set_waiting(e.to_string());
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_BACKOFF);
            }
            Err(e) => {
                *fatal.lock().unwrap_or_else(|p| p.into_inner()) = Some(anyhow::Error::new(e));
                server.stop(false).await;
                return;
            }
        }
    }
}
