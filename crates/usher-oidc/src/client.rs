//! Registered clients (relying parties), as the binary hands them over from the
//! configuration file, checked once at start.

use std::time::Duration;

use usher_core::ports::KeyAlgorithm;
use usher_core::random;

/// The OAuth grants a client may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantType {
    /// `authorization_code` (RFC 6749 §4.1).
    AuthorizationCode,
    /// `refresh_token` (RFC 6749 §6).
    RefreshToken,
    /// `client_credentials` (RFC 6749 §4.4).
    ClientCredentials,
}

impl GrantType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
        ]
        .into_iter()
        .find(|g| g.as_str() == s)
    }
}

/// How a client authenticates at the token endpoint (OIDC Core §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic with the client secret.
    ClientSecretBasic,
    /// The client secret in the form body.
    ClientSecretPost,
    /// A JWT signed with the client's private key (RFC 7523).
    PrivateKeyJwt,
    /// A public client: no secret, PKCE required.
    None,
}

impl AuthMethod {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::None => "none",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            AuthMethod::ClientSecretBasic,
            AuthMethod::ClientSecretPost,
            AuthMethod::PrivateKeyJwt,
            AuthMethod::None,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// A client secret, kept only as its SHA-256 digest. Secrets are high-entropy
/// (at least 32 characters, checked at start), so a fast hash is as safe as a slow
/// KDF here and keeps the token endpoint fast.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Shortest secret accepted: 32 characters (RFC 6749 §10.10 asks for
    /// unguessable credentials; 32 random characters carry well over 128 bits).
    pub const MIN_LEN: usize = 32;

    /// Digests a plain secret.
    pub fn from_plain(secret: &str) -> Self {
        Self(random::digest(secret))
    }

    /// Checks a presented secret, in constant time.
    pub fn verify(&self, presented: &str) -> bool {
        random::constant_time_eq(self.0.as_bytes(), random::digest(presented).as_bytes())
    }
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

/// A registered client.
#[derive(Debug, Clone)]
pub struct Client {
    /// `client_id`.
    pub client_id: String,
    /// Name shown on consent and logout pages.
    pub name: String,
    /// Absent: a public client (PKCE required).
    pub secret: Option<ClientSecret>,
    /// Exact redirect URIs (RFC 9700 §2.1: exact string matching).
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Grants it may use.
    pub grant_types: Vec<GrantType>,
    /// How it authenticates at the token endpoint.
    pub auth_method: AuthMethod,
    /// Its public keys (a JWKS document) for `private_key_jwt`.
    pub jwks: Option<serde_json::Value>,
    /// Algorithm of its id_tokens and access tokens.
    pub signing_alg: KeyAlgorithm,
    /// Where to POST logout tokens (OIDC Back-Channel Logout 1.0).
    pub backchannel_logout_uri: Option<String>,
    /// Trusted first-party app: no consent page.
    pub first_party: bool,
    /// The upstream IdPs (by id) its users may sign in through; `None`: all.
    pub allowed_upstreams: Option<Vec<String>>,
}

/// Lifetimes of what the OP issues.
#[derive(Debug, Clone, Copy)]
pub struct TokenLifetimes {
    /// Authorization codes (RFC 6749 §4.1.2 recommends at most 10 minutes).
    pub code: Duration,
    /// Access tokens.
    pub access_token: Duration,
    /// ID tokens.
    pub id_token: Duration,
    /// Refresh tokens, from their issue (rotation issues a new one).
    pub refresh_token: Duration,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        Self {
            code: Duration::from_secs(60),
            access_token: Duration::from_secs(600),
            id_token: Duration::from_secs(600),
            refresh_token: Duration::from_secs(30 * 24 * 3600),
        }
    }
}
