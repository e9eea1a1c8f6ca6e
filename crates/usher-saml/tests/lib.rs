//! usher-saml integration tests.

mod fixture;
mod sso;
