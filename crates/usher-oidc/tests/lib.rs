//! usher-oidc integration tests.

mod authorize;
mod client_auth;
mod durable_grants;
mod endpoints;
mod federation;
mod fixture;
mod interop;
mod jose;
mod logout;
mod logs;
mod pending_budget;
mod refresh;
mod support;
mod token;
mod token_env;
