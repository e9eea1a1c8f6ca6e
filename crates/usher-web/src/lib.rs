//! The pages people see: sign-in, consent, sign-out and errors.
//!
//! Server-rendered HTML ([askama] templates, escaped by default), no JavaScript.
//! Every page carries a strict Content-Security-Policy and the usual hardening
//! headers; every form carries a CSRF token; every POST that succeeds answers 303.
//! Protocol front-ends (OIDC, SAML) park their requests in [`usher_core::Interactions`]
//! and send the browser here; the pages send it back to the request's `resume_url`.
//!
//! The binary builds a [`WebState`] from [`WebSettings`] and [`WebDeps`], puts it in
//! a `web::Data<OnceLock<Arc<WebState>>>` and calls [`configure`].

mod client_ip;
mod context;
mod cookies;
mod csrf;
mod headers;
mod pages;
mod password;
mod redirect;
mod render;
mod routes;
mod settings;
mod state;
mod throttle;

pub use password::{PasswordHasher, PasswordPolicy};
pub use render::{error_page, not_assigned_page};
pub use routes::configure;
pub use settings::{ThrottlePolicy, WebSettings};
pub use state::{Federation, UpstreamLogout, WebDeps, WebState};
