//! usher-saml integration tests.

mod fixture;
mod flows;
mod registry;
mod slo;
mod sso;
