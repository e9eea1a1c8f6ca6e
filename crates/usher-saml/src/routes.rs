//! The IdP's routes. Handlers find the state as `web::Data<OnceLock<Arc<SamlState>>>`.

use actix_web::web;

use crate::{init, metadata, propagate, slo, sso};

/// Registers the IdP's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/saml/metadata", web::get().to(metadata::metadata))
        .service(
            web::resource("/saml/sso")
                .get(sso::sso_get)
                .post(sso::sso_post),
        )
        .service(
            web::resource("/saml/slo")
                .get(slo::slo_get)
                .post(slo::slo_post),
        )
        .route(
            propagate::PROPAGATE_PATH,
            web::get().to(propagate::propagate),
        )
        .route(sso::RESUME_PATH, web::get().to(sso::resume))
        .route("/saml/sso/init", web::get().to(init::init));
}
