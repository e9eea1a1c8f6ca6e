//! usher-saml integration tests.

mod encrypt;
mod fixture;
mod flows;
mod pending_budget;
mod propagate;
mod registry;
mod slo;
mod sso;
mod upstream;
