//! The relying party's routes.

use actix_web::web;

use super::{callback, start};

/// Registers `/federation/{id}/oidc/start` and `/federation/{id}/oidc/callback`.
/// Handlers read an [`RpData`](super::RpData) the binary registers.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/federation/{id}/oidc/start")
            .app_data(web::QueryConfig::default().error_handler(callback::query_error))
            .get(start::start),
    )
    .service(
        web::resource("/federation/{id}/oidc/callback")
            .app_data(web::QueryConfig::default().error_handler(callback::query_error))
            .get(callback::callback),
    );
}
