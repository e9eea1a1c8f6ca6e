//! usher as a SAML 2.0 service provider to upstream IdPs (Web Browser SSO,
//! SAML Profiles §4.1): a signed AuthnRequest out, a hardened ACS in, and the
//! verified identity handed to `/login/federated` as a
//! [`usher_core::FederatedLogin`]. usher-saml never decides who that is in usher.
//!
//! Routes, per upstream `{id}`: `GET /federation/{id}/saml/metadata` (usher's SP
//! metadata), `GET /federation/{id}/saml/start?t=LOGIN_ID` and
//! `POST /federation/{id}/saml/acs`. The ACS's checks, in order, are in
//! [`verify`] (DTD, shape against signature wrapping, signatures with configured
//! certificates only), [`checks`] (Issuer, Destination, Audience, times,
//! Recipient) and [`acs`] (InResponseTo bound to the browser, replay cache).

pub(crate) mod acs;
pub(crate) mod assertion;
pub(crate) mod checks;
pub(crate) mod dom;
pub(crate) mod error;
pub(crate) mod idp_metadata;
pub(crate) mod metadata;
pub(crate) mod page;
pub(crate) mod pending;
pub(crate) mod settings;
pub(crate) mod start;
pub(crate) mod state;
pub(crate) mod structure;
pub(crate) mod verify;

use actix_web::web;

/// Registers the service provider's routes.
pub fn configure_upstreams(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/federation/{id}/saml/metadata",
        web::get().to(metadata::metadata),
    )
    .route("/federation/{id}/saml/start", web::get().to(start::start))
    .route("/federation/{id}/saml/acs", web::post().to(acs::acs));
}
