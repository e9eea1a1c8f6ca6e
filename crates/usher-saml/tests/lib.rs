//! usher-saml integration tests.

mod fixture;
mod flows;
mod slo;
mod sso;
