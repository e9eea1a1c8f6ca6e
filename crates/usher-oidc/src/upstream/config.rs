//! One upstream OpenID Provider, as the binary configures it.

use std::time::Duration;

use usher_core::UpstreamId;

use crate::jose::JoseKey;

/// How usher authenticates to the upstream's token endpoint.
pub enum UpstreamClientAuth {
    /// `client_secret_basic` (RFC 6749 §2.3.1, the default).
    SecretBasic(String),
    /// `client_secret_post`.
    SecretPost(String),
    /// `private_key_jwt` (OIDC Core §9): a JWT signed with this key.
    PrivateKeyJwt(Box<JoseKey>),
}

impl std::fmt::Debug for UpstreamClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UpstreamClientAuth::SecretBasic(_) => "client_secret_basic",
            UpstreamClientAuth::SecretPost(_) => "client_secret_post",
            UpstreamClientAuth::PrivateKeyJwt(_) => "private_key_jwt",
        })
    }
}

/// An upstream OpenID Provider.
#[derive(Debug)]
pub struct OidcUpstream {
    /// Its id (`/federation/{id}/oidc/...`).
    pub id: UpstreamId,
    /// Name on error pages.
    pub display_name: String,
    /// False: no sign-in starts or completes through it.
    pub enabled: bool,
    /// The issuer (discovery at `{issuer}/.well-known/openid-configuration`).
    pub issuer: String,
    /// usher's client id there.
    pub client_id: String,
    /// Client authentication.
    pub auth: UpstreamClientAuth,
    /// Scopes asked for (`openid` is always added).
    pub scopes: Vec<String>,
    /// Fetch the userinfo endpoint too (when the upstream has one).
    pub userinfo: bool,
    /// Timeout of each call to the upstream.
    pub timeout: Duration,
}
