//! The `usher` binary's one integration test binary: the real executable, started as
//! a process, over real HTTP, on SQLite, PostgreSQL and Redis.

mod apps;
mod audit;
mod config;
mod deploy;
mod federation;
mod federation_saml;
mod oidc;
mod provisioning;
mod saml;
mod saml_metadata;
mod saml_metadata_trust;
mod scim;
mod serve;
mod services;
mod support;
mod tidy;
