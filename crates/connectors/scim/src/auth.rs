//! How usher proves itself to the target: what an administrator writes under
//! `auth`, its checks, and the `Authorization` header each request carries.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::HeaderValue;
use serde::Deserialize;
use usher_connector::{Result, Secret, SettingsError};

use crate::oauth::{OAuthClient, TokenSource};
use crate::settings::protected_url;

/// How usher authenticates to the target.
///
/// ```toml
/// auth = { type = "bearer", token = "..." }
/// auth = { type = "basic", username = "usher", password = "..." }
/// auth = { type = "oauth2_client_credentials", token_url = "https://idp.example.com/token",
///          client_id = "usher", client_secret = "...", scope = "scim" }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScimAuth {
    /// `Authorization: Bearer TOKEN` (RFC 6750 §2.1) with a static token.
    Bearer {
        /// The token the target issued to usher.
        token: Secret,
    },
    /// `Authorization: Basic` (RFC 7617) with a user name and password.
    Basic {
        /// The user name (no colon: RFC 7617 §2 splits at the first one).
        username: String,
        /// The password.
        password: Secret,
    },
    /// An access token from the OAuth 2.0 client credentials grant (RFC 6749
    /// §4.4), sent as a bearer token; cached, and renewed before it expires and
    /// once when the target refuses it.
    #[serde(rename = "oauth2_client_credentials")]
    OAuth2ClientCredentials {
        /// The authorization server's token endpoint: https, or plain http only
        /// to a loopback host.
        token_url: String,
        /// usher's client id at the authorization server.
        client_id: String,
        /// usher's client secret.
        client_secret: Secret,
        /// The scope to ask for (space-separated), if the server wants one.
        #[serde(default)]
        scope: Option<String>,
        /// How the client authenticates to the token endpoint.
        #[serde(default)]
        token_endpoint_auth_method: TokenEndpointAuthMethod,
    },
}

/// Client authentication at the token endpoint, named as in RFC 7591 §2.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// HTTP Basic with the form-encoded id and secret (RFC 6749 §2.3.1), which
    /// every authorization server must support.
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the request body (RFC 6749 §2.3.1,
    /// "NOT RECOMMENDED", for servers that accept nothing else).
    ClientSecretPost,
}

/// Checked authentication settings.
#[derive(Clone)]
pub(crate) enum Auth {
    /// A ready `Authorization` value (bearer or basic), marked sensitive.
    Static(HeaderValue),
    /// The client credentials grant.
    OAuth(Arc<OAuthClient>),
}

impl ScimAuth {
    /// Checks the credentials' form, naming the key at fault.
    pub(crate) fn check(self) -> Result<Auth, SettingsError> {
        match self {
            Self::Bearer { token } => {
                if !is_token(token.expose()) {
                    return Err(SettingsError::new(
                        "auth.token",
                        "give the bearer token: printable ASCII, no spaces",
                    ));
                }
                Ok(Auth::Static(sensitive(format!(
                    "Bearer {}",
                    token.expose()
                ))?))
            }
            Self::Basic { username, password } => {
                // RFC 7617 §2: the user-id ends at the first colon; control
                // characters cannot be sent safely.
                if username.is_empty() || username.contains(':') || has_control(&username) {
                    return Err(SettingsError::new(
                        "auth.username",
                        "give the user name: not empty, no colon, no control characters",
                    ));
                }
                if password.expose().is_empty() || has_control(password.expose()) {
                    return Err(SettingsError::new(
                        "auth.password",
                        "give the password: not empty, no control characters",
                    ));
                }
                Ok(Auth::Static(basic(&username, password.expose())?))
            }
            Self::OAuth2ClientCredentials {
                token_url,
                client_id,
                client_secret,
                scope,
                token_endpoint_auth_method,
            } => {
                // RFC 6749 §3.2: the endpoint may carry a query, never a fragment.
                let token_url = protected_url(
                    "auth.token_url",
                    &token_url,
                    "the authorization server's token endpoint, as https://idp.example.com/oauth2/token",
                )?;
                if client_id.is_empty() || has_control(&client_id) {
                    return Err(SettingsError::new(
                        "auth.client_id",
                        "give the client id: not empty, no control characters",
                    ));
                }
                if client_secret.expose().is_empty() || has_control(client_secret.expose()) {
                    return Err(SettingsError::new(
                        "auth.client_secret",
                        "give the client secret: not empty, no control characters",
                    ));
                }
                // RFC 6749 §3.3: scope-tokens of %x21 / %x23-5B / %x5D-7E,
                // separated by single spaces.
                let scope_ok = |s: &str| {
                    s.split(' ').all(|t| {
                        !t.is_empty()
                            && t.bytes()
                                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
                    })
                };
                if let Some(s) = &scope
                    && !scope_ok(s)
                {
                    return Err(SettingsError::new(
                        "auth.scope",
                        "give scope tokens separated by single spaces (no quotes or backslashes)",
                    ));
                }
                Ok(Auth::OAuth(Arc::new(OAuthClient::new(
                    token_url,
                    client_id,
                    &client_secret,
                    scope,
                    token_endpoint_auth_method,
                )?)))
            }
        }
    }
}

/// A bearer token or access token usher can put in a header as it is: printable
/// ASCII without spaces (the b64token of RFC 6750 §2.1 is stricter; targets
/// issue wider ones).
pub(crate) fn is_token(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_graphic())
}

fn has_control(value: &str) -> bool {
    value.chars().any(char::is_control)
}

/// `Basic base64(user ":" password)` (RFC 7617 §2), in UTF-8 (§2.1).
pub(crate) fn basic(user: &str, password: &str) -> Result<HeaderValue, SettingsError> {
    let pair = STANDARD.encode(format!("{user}:{password}"));
    sensitive(format!("Basic {pair}"))
}

/// A header value that HTTP libraries keep out of their debug output.
pub(crate) fn sensitive(value: String) -> Result<HeaderValue, SettingsError> {
    let mut header = HeaderValue::try_from(value)
        .map_err(|_| SettingsError::new("auth", "the credentials cannot go in an HTTP header"))?;
    header.set_sensitive(true);
    Ok(header)
}

/// The header never prints (connectors end up in logs and errors).
impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Static(_) => f.write_str("Static([redacted])"),
            Self::OAuth(client) => f.debug_tuple("OAuth").field(client).finish(),
        }
    }
}

/// What a request authenticates with, at run time.
pub(crate) enum Credentials {
    /// The same header on every request.
    Static(HeaderValue),
    /// A cached access token, renewed as needed.
    OAuth(TokenSource),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Static(_) => f.write_str("Static([redacted])"),
            Self::OAuth(tokens) => f.debug_tuple("OAuth").field(tokens).finish(),
        }
    }
}

impl Credentials {
    pub(crate) fn new(auth: &Auth) -> Self {
        match auth {
            Auth::Static(header) => Self::Static(header.clone()),
            Auth::OAuth(client) => Self::OAuth(TokenSource::new(Arc::clone(client))),
        }
    }

    /// What to check when the target refuses the credentials, for the error.
    pub(crate) fn hint(&self) -> &'static str {
        match self {
            Self::OAuth(_) => {
                "a freshly issued access token was refused too; check what the authorization \
                 server grants auth.client_id (auth.scope) and that the target accepts its tokens"
            }
            Self::Static(h) if h.as_bytes().starts_with(b"Basic ") => {
                "check auth.username and auth.password"
            }
            Self::Static(_) => "check auth.token",
        }
    }
}
