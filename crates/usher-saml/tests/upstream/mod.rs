//! usher as a SAML service provider to an upstream IdP (issue 5, item 2): a test
//! IdP key signs responses the tests build, then mutate into each attack class.

mod acs;
mod config;
pub(crate) mod fixture;
mod interop;
mod start;
