//! usher-connector-scim's one integration test binary: settings checks, the
//! connector against the third-party reference server `scim2-server` (PyPI,
//! installed by scripts/peers.sh into target-peers/scim-server), and against a
//! hostile target that answers garbage; HTTP basic and OAuth 2.0 client
//! credentials through a gate in front of scim2-server, with oidc-provider
//! (npm) as the authorization server.

mod auth;
mod gate;
mod groups;
mod hostile;
mod settings;
mod support;
mod tls;
mod users;
