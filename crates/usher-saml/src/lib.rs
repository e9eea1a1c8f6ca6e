//! usher's SAML 2.0 Identity Provider: downstream service providers delegate
//! sign-in to usher over the Web Browser SSO profile (SAML Profiles §4.1), with
//! the HTTP-Redirect and HTTP-POST bindings, and receive responses signed with
//! usher's RS256 key (RSA-SHA256, exclusive c14n) through an auto-submitting form;
//! assertions are encrypted (AES-256-GCM, RSA-OAEP key transport) for SPs that
//! registered an encryption certificate.
//!
//! The binary builds a [`SamlState`] from configuration ([`ServiceProvider`]s,
//! possibly from SP metadata via [`parse_sp_metadata`]) and the ports, and mounts
//! [`configure`]'s routes; handlers find the state as
//! `web::Data<OnceLock<Arc<SamlState>>>` and answer 503 until it is set.
//!
//! usher is also a SAML service provider to upstream IdPs (the `upstream`
//! module): the binary resolves each `[[upstreams]] kind = "saml"` entry
//! ([`SamlUpstreamSettings::resolve`]) into a [`SamlUpstream`], builds a
//! [`SamlSpState`] and mounts [`configure_upstreams`]; a verified response is
//! parked as a [`usher_core::FederatedLogin`] for `/login/federated`.

mod authn_request;
mod budget;
mod c14n;
mod encrypt;
mod inbound;
mod init;
mod issue;
mod keys;
mod metadata;
mod metadata_trust;
mod page;
mod propagate;
mod redirect_sig;
mod response;
mod routes;
mod sign;
mod slo;
mod sp;
mod sp_metadata;
mod sso;
mod state;
mod upstream;
mod xml;

pub use inbound::{MAX_DEFLATED, MAX_ENCODED, MAX_INFLATED};
pub use keys::{KEY_REFRESH, KeyCache};
pub use metadata_trust::{MetadataPin, SignatureRefused, check_metadata_url};
pub use routes::configure;
pub use sp::{Acs, Binding, Claim, NameIdFormat, ServiceProvider, SignWhat};
pub use sp_metadata::{MetadataError, parse_sp_metadata};
pub use state::{SamlData, SamlDeps, SamlSettings, SamlState};
pub use upstream::configure_upstreams;
pub use upstream::error::Rejection;
pub use upstream::idp_metadata::{IdpMetadata, IdpMetadataError, parse_idp_metadata};
pub use upstream::pending::{PLAIN_COOKIE as SP_COOKIE, SECURE_COOKIE as SP_SECURE_COOKIE};
pub use upstream::settings::{
    DEFAULT_EMAIL_ATTRIBUTES, MAX_CLOCK_SKEW, SamlUpstream, SamlUpstreamSettings, SettingsFiles,
    SsoBinding, UpstreamConfigError, UpstreamIdentity,
};
pub use upstream::state::{SamlSpData, SamlSpDeps, SamlSpState};
