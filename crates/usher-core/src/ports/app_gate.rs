use async_trait::async_trait;

use crate::{Result, SignIn, User};

/// What a front-end learns before it sends an SSO response to an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Go on.
    Allowed,
    /// The user is not assigned to the app; the page says so, naming it.
    NotAssigned {
        /// The app's display name.
        app: String,
    },
}

/// The door between sign-in and the applications: `/oidc/authorize` and
/// `/saml/sso` ask it before issuing a code or an assertion. A client or SP that
/// no application names is admitted (it predates apps, or needs no assignment).
/// For an app in `on_first_sign_in` mode, admitting also makes sure the account
/// exists downstream, waiting a bounded time.
#[async_trait]
pub trait AppGate: Send + Sync {
    /// Decides for `user` signing in to the app behind `sign_in`.
    async fn admit(&self, sign_in: &SignIn, user: &User) -> Result<Admission>;
}
