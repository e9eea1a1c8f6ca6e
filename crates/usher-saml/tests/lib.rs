//! usher-saml integration tests.

mod encrypt;
mod fixture;
mod flows;
mod propagate;
mod registry;
mod slo;
mod sso;
mod upstream;
