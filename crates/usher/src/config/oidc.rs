//! `[oidc]` and `[[oidc.clients]]`: the OpenID Provider and the apps that use it.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use usher_core::ports::KeyAlgorithm;

use super::{ConfigError, Secret, resolve_secret};

/// `[oidc]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcConfig {
    /// Authorization code lifetime.
    #[serde(with = "humantime_serde")]
    pub code_lifetime: Duration,
    /// Access token lifetime.
    #[serde(with = "humantime_serde")]
    pub access_token_lifetime: Duration,
    /// ID token lifetime.
    #[serde(with = "humantime_serde")]
    pub id_token_lifetime: Duration,
    /// Refresh token lifetime (each rotation starts a new one).
    #[serde(with = "humantime_serde")]
    pub refresh_token_lifetime: Duration,
    /// Registered clients.
    pub clients: Vec<ClientConfig>,
}

impl Default for OidcConfig {
    fn default() -> Self {
        let defaults = usher_oidc::TokenLifetimes::default();
        Self {
            code_lifetime: defaults.code,
            access_token_lifetime: defaults.access_token,
            id_token_lifetime: defaults.id_token,
            refresh_token_lifetime: defaults.refresh_token,
            clients: Vec::new(),
        }
    }
}

/// `[[oidc.clients]]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// `client_id`.
    pub client_id: String,
    /// Name on consent and logout pages; default: the client id.
    pub name: Option<String>,
    /// Secret (at least 32 characters); absent with no `jwks`: a public client.
    pub client_secret: Option<Secret>,
    /// File holding the secret.
    pub client_secret_file: Option<PathBuf>,
    /// Exact redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Exact post-logout redirect URIs.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Grants; default `authorization_code` and `refresh_token`.
    pub grant_types: Option<Vec<String>>,
    /// `client_secret_basic` (default with a secret), `client_secret_post`,
    /// `private_key_jwt` (needs `jwks`), `none` (default without a secret).
    pub token_endpoint_auth_method: Option<String>,
    /// The client's public keys (a JWKS JSON document) for `private_key_jwt`.
    pub jwks: Option<String>,
    /// Signature algorithm of its tokens: RS256 (default), ES256, EdDSA.
    pub id_token_signed_response_alg: Option<String>,
    /// OIDC Back-Channel Logout endpoint.
    pub backchannel_logout_uri: Option<String>,
    /// A trusted first-party app: no consent page.
    #[serde(default)]
    pub first_party: bool,
    /// A client on a test machine: its URIs may use plain http on any host.
    /// Never in production: codes and tokens would cross the network in clear.
    #[serde(default)]
    pub development: bool,
    /// The upstream IdPs (ids of `[[upstreams]]`) its users may sign in through;
    /// absent: all of them; `[]`: local accounts only.
    pub allowed_upstreams: Option<Vec<String>>,
}

impl OidcConfig {
    /// The lifetimes, as the OP takes them.
    pub fn lifetimes(&self) -> usher_oidc::TokenLifetimes {
        usher_oidc::TokenLifetimes {
            code: self.code_lifetime,
            access_token: self.access_token_lifetime,
            id_token: self.id_token_lifetime,
            refresh_token: self.refresh_token_lifetime,
        }
    }

    /// Every client, checked.
    pub fn clients(&self) -> Result<Vec<usher_oidc::Client>, ConfigError> {
        let mut seen = std::collections::HashSet::new();
        let mut clients = Vec::new();
        for (i, c) in self.clients.iter().enumerate() {
            if !seen.insert(c.client_id.as_str()) {
                return Err(ConfigError::invalid(
                    &format!("oidc.clients[{i}].client_id"),
                    format!("{:?} is declared twice", c.client_id),
                ));
            }
            clients.push(c.to_client(i)?);
        }
        Ok(clients)
    }
}

impl ClientConfig {
    fn to_client(&self, i: usize) -> Result<usher_oidc::Client, ConfigError> {
        use usher_oidc::{AuthMethod, ClientSecret, GrantType, UriField};
        let key = |k: &str| format!("oidc.clients[{i}].{k}");
        if self.client_id.trim().is_empty() || self.client_id.len() > 255 {
            return Err(ConfigError::invalid(
                &key("client_id"),
                "expected 1 to 255 characters",
            ));
        }
        let secret = resolve_secret(
            &key("client_secret"),
            self.client_secret.as_ref(),
            self.client_secret_file.as_deref(),
        )?;
        if let Some(s) = &secret
            && s.expose().chars().count() < ClientSecret::MIN_LEN
        {
            return Err(ConfigError::invalid(
                &key("client_secret"),
                format!(
                    "must be at least {} characters of random text (create one with \
                     `openssl rand -base64 32`)",
                    ClientSecret::MIN_LEN
                ),
            ));
        }
        let auth_method = match self.token_endpoint_auth_method.as_deref() {
            Some(m) => AuthMethod::parse(m).ok_or_else(|| {
                ConfigError::invalid(
                    &key("token_endpoint_auth_method"),
                    "expected client_secret_basic, client_secret_post, private_key_jwt or none",
                )
            })?,
            None if secret.is_some() => AuthMethod::ClientSecretBasic,
            None if self.jwks.is_some() => AuthMethod::PrivateKeyJwt,
            None => AuthMethod::None,
        };
        let needs_secret = matches!(
            auth_method,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
        );
        if needs_secret != secret.is_some() {
            return Err(ConfigError::invalid(
                &key("client_secret"),
                format!(
                    "token_endpoint_auth_method {} {} a client_secret",
                    auth_method.as_str(),
                    if needs_secret {
                        "needs"
                    } else {
                        "must not have"
                    }
                ),
            ));
        }
        let jwks = match &self.jwks {
            Some(text) => {
                let value: serde_json::Value = serde_json::from_str(text)
                    .map_err(|e| ConfigError::invalid(&key("jwks"), format!("not JSON: {e}")))?;
                if !value["keys"].is_array() {
                    return Err(ConfigError::invalid(
                        &key("jwks"),
                        "expected a JWKS document: {\"keys\": [...]}",
                    ));
                }
                Some(value)
            }
            None if auth_method == AuthMethod::PrivateKeyJwt => {
                return Err(ConfigError::invalid(
                    &key("jwks"),
                    "private_key_jwt needs the client's public keys",
                ));
            }
            None => None,
        };
        let grant_types = match &self.grant_types {
            Some(names) => names
                .iter()
                .map(|g| {
                    GrantType::parse(g).ok_or_else(|| {
                        ConfigError::invalid(
                            &key("grant_types"),
                            format!("unknown grant {g:?}: expected authorization_code, refresh_token or client_credentials"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        };
        if auth_method == AuthMethod::None && grant_types.contains(&GrantType::ClientCredentials) {
            return Err(ConfigError::invalid(
                &key("grant_types"),
                "a public client cannot use client_credentials",
            ));
        }
        if grant_types.contains(&GrantType::AuthorizationCode) && self.redirect_uris.is_empty() {
            return Err(ConfigError::invalid(
                &key("redirect_uris"),
                "authorization_code needs at least one redirect URI",
            ));
        }
        let signing_alg = match self.id_token_signed_response_alg.as_deref() {
            None => KeyAlgorithm::RS256,
            Some(a) => KeyAlgorithm::parse(a).ok_or_else(|| {
                ConfigError::invalid(
                    &key("id_token_signed_response_alg"),
                    "expected RS256, ES256 or EdDSA",
                )
            })?,
        };
        let client = usher_oidc::Client {
            client_id: self.client_id.clone(),
            name: self.name.clone().unwrap_or_else(|| self.client_id.clone()),
            secret: secret.map(|s| ClientSecret::from_plain(s.expose())),
            redirect_uris: self.redirect_uris.clone(),
            post_logout_redirect_uris: self.post_logout_redirect_uris.clone(),
            grant_types,
            auth_method,
            jwks,
            signing_alg,
            backchannel_logout_uri: self.backchannel_logout_uri.clone(),
            first_party: self.first_party,
            allowed_upstreams: self.allowed_upstreams.clone(),
        };
        // The URI rules (https except on loopback, RFC 9700 §2.1) belong to usher-oidc.
        client
            .check_uris(self.development)
            .map_err(|(field, refusal)| {
                let field = match field {
                    UriField::Redirect(j) => format!("redirect_uris[{j}]"),
                    UriField::PostLogoutRedirect(j) => format!("post_logout_redirect_uris[{j}]"),
                    UriField::BackchannelLogout => "backchannel_logout_uri".to_owned(),
                };
                ConfigError::invalid(&key(&field), refusal.to_string())
            })?;
        Ok(client)
    }
}

/// RFC 6749 §3.1.2: an absolute URI without a fragment; http(s) only, and no
/// wildcards (matching is exact, RFC 9700 §2.1). For SAML endpoints; OIDC
/// clients' URIs follow usher-oidc's stricter rule (`Client::check_uris`).
pub(super) fn check_redirect_uri(key: &str, uri: &str) -> Result<(), ConfigError> {
    let expected = "expected an absolute http(s) URI without fragment or wildcard";
    let parsed: actix_web::http::Uri = uri
        .parse()
        .map_err(|_| ConfigError::invalid(key, expected))?;
    let ok = matches!(parsed.scheme_str(), Some("http" | "https"))
        && parsed.host().is_some()
        && !uri.contains('#')
        && !uri.contains('*');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(key, expected))
    }
}
