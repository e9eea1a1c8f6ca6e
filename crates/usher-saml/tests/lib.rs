//! usher-saml integration tests.

mod encrypt;
mod fixture;
mod flows;
mod slo;
mod sso;
