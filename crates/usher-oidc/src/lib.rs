//! usher's OpenID Provider: downstream apps delegate sign-in to usher over OpenID
//! Connect (authorization code flow with PKCE), and get id_tokens and JWT access
//! tokens (RFC 9068) signed with usher's keys.
//!
//! The binary builds an [`OidcState`] from configuration and the ports, and mounts
//! [`configure`]'s routes; handlers find the state as
//! `web::Data<OnceLock<Arc<OidcState>>>` (set once the backends are open; until
//! then they answer 503).

mod access_token;
mod authorize;
mod backchannel;
mod budget;
mod claims;
mod client;
mod client_uri;
mod discovery;
mod end_session;
mod error;
mod form;
pub mod grant;
mod introspect;
pub mod jose;
mod jwks;
mod keys;
mod revoke;
mod routes;
mod state;
mod token;
pub mod upstream;
mod userinfo;

pub use backchannel::{BACKCHANNEL_LOGOUT_EVENT, BackchannelLogout, RetryPolicy};
pub use client::{AuthMethod, Client, ClientSecret, GrantType, TokenLifetimes};
pub use client_uri::{UriField, UriRefusal, check_registered_uri};
pub use error::{OAuthError, StateData};
pub use keys::{KEY_REFRESH, KeyCache};
pub use routes::configure;
pub use state::{OidcDeps, OidcSettings, OidcState};
