//! The OAuth 2.0 client credentials grant (RFC 6749 §4.4): an access token from
//! the authorization server's token endpoint, cached in memory, renewed a margin
//! before `expires_in` runs out or when the target refuses it, one renewal at a
//! time however many requests wait for it.
//!
//! The token endpoint is reached with the connector's one HTTP client, so it is
//! bounded as the target is (timeout, no redirects, the CA bundle), and its
//! answer is read up to a cap. Its refusals (RFC 6749 §5.2) become
//! `unauthorized` errors carrying the OAuth error code.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::header::{self, HeaderValue};
use reqwest::{StatusCode, Url};
use serde_json::Value;
use tokio::sync::Mutex;
use usher_connector::{ConnectorError, Result, Secret, SettingsError};

use crate::auth::{TokenEndpointAuthMethod, basic, is_token, sensitive};
use crate::http::{BodyError, DEFAULT_RETRY_AFTER, read_body, retry_after, transport};

/// A token response is a few hundred bytes (a JWT access token a few KiB): a
/// larger answer is not one, whatever `max_response_bytes` allows the target.
const TOKEN_RESPONSE_CAP: usize = 64 * 1024;

/// How long a token is used when the server does not say (`expires_in` is only
/// RECOMMENDED, RFC 6749 §5.1); a refusal renews it sooner.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

/// The longest lifetime believed: a day, whatever the server says.
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// Renew this long before expiry (at most half the lifetime), so a token does
/// not expire between the check and the target reading it.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Longest OAuth `error_description` kept for the report.
const MAX_DESCRIPTION: usize = 300;

/// The checked client registration: where to ask and how to authenticate.
pub(crate) struct OAuthClient {
    token_url: Url,
    client_id: String,
    /// The form body, which carries the secret under `client_secret_post`.
    body: Secret,
    /// `Basic` client authentication under `client_secret_basic`.
    authorization: Option<HeaderValue>,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &format_args!("[redacted]"))
            .finish()
    }
}

impl OAuthClient {
    pub(crate) fn new(
        token_url: Url,
        client_id: String,
        client_secret: &Secret,
        scope: Option<String>,
        method: TokenEndpointAuthMethod,
    ) -> Result<Self, SettingsError> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials");
        if let Some(scope) = &scope {
            form.append_pair("scope", scope);
        }
        let authorization = match method {
            // RFC 6749 §2.3.1: id and secret are form-encoded (Appendix B)
            // before they become the Basic user-id and password.
            TokenEndpointAuthMethod::ClientSecretBasic => {
                let encode = |v: &str| {
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                };
                Some(basic(&encode(&client_id), &encode(client_secret.expose()))?)
            }
            TokenEndpointAuthMethod::ClientSecretPost => {
                form.append_pair("client_id", &client_id);
                form.append_pair("client_secret", client_secret.expose());
                None
            }
        };
        Ok(Self {
            token_url,
            client_id,
            body: Secret::new(form.finish()),
            authorization,
        })
    }
}

/// An access token and when to stop using it.
#[derive(Clone)]
struct AccessToken {
    /// `Bearer TOKEN`, marked sensitive.
    header: HeaderValue,
    /// Renew from here on.
    refresh_at: Instant,
    /// The server's own expiry: past it the token is useless.
    expires_at: Instant,
}

#[derive(Default)]
struct State {
    token: Option<AccessToken>,
    /// What the last fetch failed with, handed to requests that waited for it.
    failure: Option<ConnectorError>,
}

/// The cached token of one connector.
pub(crate) struct TokenSource {
    client: Arc<OAuthClient>,
    /// Held across a fetch, so concurrent requests wait for the one renewal
    /// rather than each asking the server (no thundering herd).
    state: Mutex<State>,
    /// Fetches finished, to tell a request that waited whether one ran meanwhile.
    fetches: AtomicU64,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    pub(crate) fn new(client: Arc<OAuthClient>) -> Self {
        Self {
            client,
            state: Mutex::new(State::default()),
            fetches: AtomicU64::new(0),
        }
    }

    /// The `Authorization` value for the next request: the cached token while it
    /// is fresh, else a new one.
    pub(crate) async fn authorization(&self, http: &reqwest::Client) -> Result<HeaderValue> {
        let seen = self.fetches.load(Ordering::Acquire);
        let mut state = self.state.lock().await;
        let now = Instant::now();
        if let Some(token) = &state.token
            && now < token.refresh_at
        {
            return Ok(token.header.clone());
        }
        // A fetch finished while this request waited for the lock and it
        // failed: the same answer, rather than one more try per waiting request.
        if self.fetches.load(Ordering::Acquire) != seen
            && let Some(failure) = state.failure.clone()
        {
            return fall_back(&mut state, failure);
        }
        let fetched = self.fetch(http).await;
        self.fetches.fetch_add(1, Ordering::AcqRel);
        match fetched {
            Ok(token) => {
                let header = token.header.clone();
                state.token = Some(token);
                state.failure = None;
                Ok(header)
            }
            Err(e) => {
                state.failure = Some(e.clone());
                fall_back(&mut state, e)
            }
        }
    }

    /// The target refused `used`: forget it, unless a newer token already
    /// replaced it (several requests refused at once renew once).
    pub(crate) async fn refused(&self, used: &HeaderValue) {
        let mut state = self.state.lock().await;
        if state.token.as_ref().is_some_and(|t| t.header == *used) {
            state.token = None;
        }
    }

    /// One token request (RFC 6749 §4.4.2).
    async fn fetch(&self, http: &reqwest::Client) -> Result<AccessToken> {
        let what = "token request";
        let sent = Instant::now();
        let mut request = http
            .post(self.client.token_url.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json")
            .body(self.client.body.expose().to_owned());
        if let Some(authorization) = &self.client.authorization {
            request = request.header(header::AUTHORIZATION, authorization.clone());
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| transport(what, "the token endpoint", &e))?;
        let status = response.status();
        let wait = retry_after(response.headers());
        let cap = TOKEN_RESPONSE_CAP;
        let raw = read_body(&mut response, cap).await.map_err(|e| match e {
            BodyError::TooLarge => ConnectorError::fatal(format!(
                "{what}: the token endpoint's answer is larger than {cap} bytes, which no token \
                 response is; check auth.token_url"
            ))
            .with_http_status(status.as_u16()),
            BodyError::Transport(e) => transport(what, "the token endpoint", &e),
        })?;
        let body: Option<Value> = serde_json::from_slice(&raw).ok();
        if status.is_success() {
            return self.token(status, body.as_ref(), sent);
        }
        Err(self.refusal(status, wait, body.as_ref()))
    }

    /// A successful answer as a token (RFC 6749 §5.1).
    fn token(
        &self,
        status: StatusCode,
        body: Option<&Value>,
        sent: Instant,
    ) -> Result<AccessToken> {
        let not_a_token = |why: &str| {
            ConnectorError::fatal(format!(
                "token request: the token endpoint answered {status} with {why}, not an OAuth \
                 token response (RFC 6749 §5.1); check auth.token_url"
            ))
            .with_http_status(status.as_u16())
        };
        let Some(Value::Object(body)) = body else {
            return Err(not_a_token("a body that is not a JSON object"));
        };
        let Some(access_token) = body.get("access_token").and_then(Value::as_str) else {
            return Err(not_a_token("no access_token"));
        };
        if !is_token(access_token) {
            return Err(not_a_token("an access_token that cannot go in a header"));
        }
        // RFC 6749 §7.1: usher sends bearer tokens only (RFC 6750); a missing
        // token_type, common enough, is taken as bearer.
        match body.get("token_type") {
            None => {}
            Some(Value::String(t)) if t.eq_ignore_ascii_case("bearer") => {}
            Some(other) => {
                let kind = other
                    .as_str()
                    .map_or_else(|| other.to_string(), str::to_owned);
                return Err(ConnectorError::fatal(format!(
                    "token request: the token endpoint issued a {:?} token; usher sends only \
                     Bearer tokens (RFC 6750)",
                    kind.chars().take(40).collect::<String>()
                )));
            }
        }
        let lifetime = expires_in(body.get("expires_in"))
            .unwrap_or(DEFAULT_LIFETIME)
            .min(MAX_LIFETIME);
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        let header = sensitive(format!("Bearer {access_token}"))
            .map_err(|_| not_a_token("an access_token that cannot go in a header"))?;
        // Counted from when the request left: the server's clock started no
        // earlier.
        Ok(AccessToken {
            header,
            refresh_at: sent + (lifetime - margin),
            expires_at: sent + lifetime,
        })
    }

    /// A refusal (RFC 6749 §5.2) or a failure of the token endpoint.
    fn refusal(
        &self,
        status: StatusCode,
        wait: Option<Duration>,
        body: Option<&Value>,
    ) -> ConnectorError {
        let what = "token request";
        let code = body
            .and_then(|b| b.get("error"))
            .and_then(Value::as_str)
            .filter(|c| is_error_code(c));
        let description = body
            .and_then(|b| b.get("error_description"))
            .and_then(Value::as_str)
            .map(readable)
            .filter(|d| !d.is_empty());
        let said = match (code, &description) {
            (Some(c), Some(d)) => format!(": {c} ({d})"),
            (Some(c), None) => format!(": {c}"),
            (None, _) => " (the body is not an OAuth error)".to_owned(),
        };
        let error = match status.as_u16() {
            429 => ConnectorError::rate_limited(
                wait.unwrap_or(DEFAULT_RETRY_AFTER),
                format!("{what}: the token endpoint asks usher to slow down (429){said}"),
            ),
            500..=599 => ConnectorError::retryable(
                wait,
                format!("{what}: the token endpoint failed ({status}){said}"),
            ),
            300..=399 => ConnectorError::fatal(format!(
                "{what}: the token endpoint redirects ({status}); usher follows no redirects, so \
                 set auth.token_url to the final URL"
            )),
            _ => ConnectorError::unauthorized(format!(
                "{what}: the authorization server refuses to issue usher (client {:?}) a token \
                 ({status}){said}; {}",
                self.client.client_id,
                hint(code)
            )),
        };
        let error = error.with_http_status(status.as_u16());
        match code {
            Some(c) => error.with_remote_code(c),
            None => error,
        }
    }
}

/// A renewal failed. If it was a passing failure (the server down a moment) and
/// the old token has not expired yet, the old one still works; else the error.
fn fall_back(state: &mut State, e: ConnectorError) -> Result<HeaderValue> {
    match &state.token {
        Some(token) if e.is_retryable() && Instant::now() < token.expires_at => {
            Ok(token.header.clone())
        }
        _ => {
            state.token = None;
            Err(e)
        }
    }
}

/// What to check for each RFC 6749 §5.2 error code.
fn hint(code: Option<&str>) -> &'static str {
    match code {
        Some("invalid_client") => {
            "check auth.client_id, auth.client_secret and auth.token_endpoint_auth_method"
        }
        Some("invalid_scope") => "check auth.scope against what the client may ask for",
        Some("unauthorized_client" | "unsupported_grant_type") => {
            "allow the client credentials grant for this client at the authorization server"
        }
        _ => "check auth.token_url and the client's registration",
    }
}

/// `expires_in` in seconds: a JSON number, or a numeric string as some servers
/// send it.
fn expires_in(value: Option<&Value>) -> Option<Duration> {
    let seconds = match value? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

/// An RFC 6749 §5.2 error code: short, of the allowed characters
/// (%x20-21 / %x23-5B / %x5D-7E), so it can be a report's remote code.
fn is_error_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
}

/// A description as it may go in a report: no control characters, bounded.
fn readable(description: &str) -> String {
    description
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_DESCRIPTION)
        .collect::<String>()
        .trim()
        .to_owned()
}
