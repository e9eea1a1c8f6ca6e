//! The HTTP server: routes, middleware, and the shared state handlers see.

mod health;
mod metrics;
mod observe;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;

pub use health::Readiness;
pub use metrics::Metrics;

use crate::config::Config;
use crate::frontends::Frontends;

/// Binds the listener and builds the server; it runs when awaited. Actix stops
/// gracefully on SIGTERM and SIGINT: it stops accepting, lets in-flight requests
/// finish for `server.shutdown_timeout`, then exits.
pub fn build(
    config: &Config,
    readiness: web::Data<Readiness>,
    metrics: web::Data<Metrics>,
    frontends: Frontends,
) -> anyhow::Result<Server> {
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(readiness.clone())
            .app_data(metrics.clone())
            .app_data(frontends.oidc.clone())
            .app_data(frontends.web.clone())
            .app_data(frontends.saml.clone())
            .app_data(frontends.rp.clone())
            .app_data(frontends.saml_sp.clone())
            .app_data(frontends.scim.clone())
            .wrap(from_fn(observe::observe))
            .route("/healthz", web::get().to(health::healthz))
            .route("/readyz", web::get().to(health::readyz))
            .route("/metrics", web::get().to(metrics::metrics))
            .configure(usher_oidc::configure)
            .configure(usher_oidc::upstream::configure)
            .configure(usher_saml::configure)
            .configure(usher_saml::configure_upstreams)
            .configure(usher_scim::configure)
            .configure(usher_web::configure)
    })
    .shutdown_timeout(config.server.shutdown_timeout.as_secs());
    if let Some(workers) = config.server.workers {
        server = server.workers(workers);
    }
    let server = server.bind(config.server.bind).with_context(|| {
        format!(
            "cannot listen on {} (is another process using it? set server.bind or \
             USHER_SERVER__BIND to another address)",
            config.server.bind
        )
    })?;
    Ok(server.run())
}
