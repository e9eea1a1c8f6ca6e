//! usher-saml integration tests.

// Tests slice fixtures they built themselves: a bad index fails the test, and
// the lint is for code that reads network input.
#![allow(clippy::string_slice)]

mod encrypt;
mod fixture;
mod flows;
mod pending_budget;
mod propagate;
mod registry;
mod slo;
mod sso;
mod upstream;
