//! The OP's routes. Handlers find the state as `web::Data<OnceLock<Arc<OidcState>>>`
//! (see [`crate::error::ready`]).

use actix_web::web;

use crate::{authorize, discovery, end_session, introspect, jwks, revoke, token, userinfo};

/// Registers the OP's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/openid-configuration",
        web::get().to(discovery::openid_configuration),
    )
    .route("/oidc/jwks", web::get().to(jwks::jwks))
    .route("/oidc/authorize", web::get().to(authorize::authorize_get))
    .route("/oidc/authorize", web::post().to(authorize::authorize_post))
    .route(authorize::RESUME_PATH, web::get().to(authorize::resume))
    .route("/oidc/logout", web::get().to(end_session::end_session_get))
    .route(
        "/oidc/logout",
        web::post().to(end_session::end_session_post),
    )
    // Resources answer another method with 405, not 404.
    .service(web::resource("/oidc/token").post(token::token))
    .service(
        web::resource("/oidc/userinfo")
            .get(userinfo::userinfo)
            .post(userinfo::userinfo),
    )
    .service(web::resource("/oidc/introspect").post(introspect::introspect))
    .service(web::resource("/oidc/revoke").post(revoke::revoke));
}
