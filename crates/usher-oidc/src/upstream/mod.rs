//! The relying party for upstream OpenID Providers (usher signs people in at their
//! company's IdP), on the `openidconnect` crate.
//!
//! `GET /federation/{id}/oidc/start?t=LOGIN` sends the browser to the upstream
//! with PKCE S256, a `nonce` and a `state` bound to this browser (a cookie) and to
//! this upstream; `GET /federation/{id}/oidc/callback` checks the response (state,
//! RFC 9207 `iss`, code exchange, id_token signature, `iss`, `aud`, `azp`,
//! `exp`/`iat`, `nonce`, userinfo `sub`), then parks a
//! [`FederatedLogin`](usher_core::FederatedLogin) and sends the browser to
//! `/login/federated`, which decides who that is.
//!
//! What is done around `openidconnect` and why:
//! * `http.rs`: its HTTP client, so every call has a connect and total timeout,
//!   a response size cap and no redirects (an upstream that is down, slow or
//!   huge gives an error page, not a hung worker).
//! * `provider.rs`: the JWKS cache, refetched when an id_token names an unknown
//!   `kid` (key rotation), at most once per [`JWKS_REFETCH_INTERVAL`], since the
//!   crate verifies against a fixed key set.
//! * `verify.rs`: `alg` is checked against an asymmetric allow-list before the
//!   crate sees the token, so `none` and HMAC (signed with the upstream's *public*
//!   key as the secret, the key-confusion attack) are refused by name.
//! * userinfo is fetched as raw JSON (the crate's typed claims drop custom claims
//!   such as `groups`), with the `sub` check done here (OIDC Core §5.3.4).

mod callback;
mod client_auth;
mod config;
mod http;
mod page;
mod pending;
mod provider;
mod routes;
pub(crate) mod start;
mod state;
mod verify;

pub use client_auth::private_key_jwt_key;
pub use config::{OidcUpstream, UpstreamClientAuth};
pub use provider::JWKS_REFETCH_INTERVAL;
pub use routes::configure;
pub use state::{RpData, RpDeps, RpSettings, RpState};
