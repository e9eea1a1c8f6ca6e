//! OpenID Connect Back-Channel Logout 1.0: when an SSO session ends, every OIDC
//! client that took part in it and registered a `backchannel_logout_uri` receives
//! a signed logout token, POSTed server to server.
//!
//! Delivery never holds up the user's logout (issue 3, item 4): tokens are built
//! at once (they are cheap), then each is POSTed from a spawned task that retries
//! with backoff and logs what finally failed. Delivery is best effort: an instance
//! that stops mid-retry loses the remaining attempts (a durable queue is the job
//! of the provisioning outbox, not of logout).
//!
//! Transport: reqwest over hyper, `https://` through the system OpenSSL (the
//! `native-tls` backend: the OP already links OpenSSL, so TLS costs no new crypto
//! stack) with the system's CA certificates; `http://` works too (tests, internal
//! networks). Redirects are not followed.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;
use usher_core::ports::LogoutListener;
use usher_core::{Participant, SsoSession, random};

use crate::authorize::params;
use crate::client::Client;
use crate::jose;
use crate::state::OidcState;

/// The event of a logout token (§2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How long a logout token is valid (§2.4 recommends a short lifetime; two
/// minutes covers the retries and clock skew).
const LOGOUT_TOKEN_LIFETIME: i64 = 120;

/// How deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// Wait before the second attempt; doubled before each further one.
    pub first_delay: Duration,
    /// Time limit of one attempt.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts, 2 s then 4 s apart, 3 s each: given up within about 15 s.
    fn default() -> Self {
        Self {
            attempts: 3,
            first_delay: Duration::from_secs(2),
            timeout: Duration::from_secs(3),
        }
    }
}

/// The [`LogoutListener`] of the OP: back-channel logout to the session's OIDC
/// clients. The binary builds one over the same [`OidcState`] as the routes and
/// hands it to whoever ends sessions (the logout page, deprovisioning).
#[derive(Debug, Clone)]
pub struct BackchannelLogout {
    state: Arc<OidcState>,
    /// `None` when the HTTP client could not be built (no usable TLS setup):
    /// deliveries are then logged as failed rather than panicking at start.
    http: Option<reqwest::Client>,
    retry: RetryPolicy,
}

impl BackchannelLogout {
    /// A listener over `state` with the default [`RetryPolicy`].
    pub fn new(state: Arc<OidcState>) -> Self {
        Self::with_retry(state, RetryPolicy::default())
    }

    /// A listener with its own retry policy (tests use short delays).
    pub fn with_retry(state: Arc<OidcState>, retry: RetryPolicy) -> Self {
        let http = reqwest::Client::builder()
            // §2.5 has the RP answer directly; a redirect is not followed (it
            // would move the token somewhere the client did not register).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(retry.timeout)
            .build()
            .inspect_err(|error| {
                tracing::error!(%error, "back-channel logout disabled: no HTTP client");
            })
            .ok();
        Self { state, http, retry }
    }

    /// The logout token for `client` and `session` (§2.4): `iss`, `aud`, `iat`,
    /// `exp`, `jti`, `sub`, `sid` and the logout event, never a `nonce`; header
    /// `typ: logout+jwt`; signed with the client's algorithm.
    pub async fn logout_token(
        &self,
        client: &Client,
        session: &SsoSession,
    ) -> usher_core::Result<String> {
        let state = &*self.state;
        let now = state.deps.clock.now().unix_timestamp();
        let claims = json!({
            "iss": state.settings.issuer,
            "aud": client.client_id,
            "iat": now,
            "exp": now + LOGOUT_TOKEN_LIFETIME,
            "jti": random::token()?,
            "sub": session.user_id.to_string(),
            "sid": session.sid,
            "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
        });
        let key = state.keys.active(state, client.signing_alg).await?;
        jose::sign(&key, jose::TYP_LOGOUT_TOKEN, &claims)
    }
}

#[async_trait]
impl LogoutListener for BackchannelLogout {
    async fn session_ended(&self, session: &SsoSession, participants: &[Participant]) {
        let mut told: Vec<&str> = Vec::new();
        for participant in participants {
            let Participant::Oidc { client_id } = participant else {
                continue;
            };
            if told.contains(&client_id.as_str()) {
                continue;
            }
            told.push(client_id);
            let Some(client) = self.state.client(client_id) else {
                continue;
            };
            let Some(uri) = client.backchannel_logout_uri.clone() else {
                continue;
            };
            let token = match self.logout_token(client, session).await {
                Ok(t) => t,
                Err(error) => {
                    tracing::error!(%error, client_id, "could not sign a logout token");
                    continue;
                }
            };
            let Some(http) = self.http.clone() else {
                tracing::error!(client_id, "back-channel logout not sent: no HTTP client");
                continue;
            };
            let retry = self.retry;
            let client_id = client_id.clone();
            tokio::spawn(async move {
                deliver(http, retry, &client_id, &uri, &token).await;
            });
        }
    }
}

/// POSTs `logout_token` to `uri`, retrying server errors and network failures.
async fn deliver(
    http: reqwest::Client,
    retry: RetryPolicy,
    client_id: &str,
    uri: &str,
    token: &str,
) {
    let body = format!("logout_token={}", params::encode(token));
    let mut delay = retry.first_delay;
    for attempt in 1..=retry.attempts.max(1) {
        let sent = http
            .post(uri)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body.clone())
            .send()
            .await;
        let retryable = match sent {
            Ok(response) if response.status().is_success() => {
                tracing::debug!(client_id, attempt, "back-channel logout delivered");
                return;
            }
            // §2.8: a 400 says the RP refused the token; sending it again will not
            // change its mind. 429 and 5xx may pass.
            Ok(response) => {
                let status = response.status();
                tracing::warn!(client_id, attempt, %status, "back-channel logout refused");
                status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            }
            Err(error) => {
                tracing::warn!(client_id, attempt, %error, "back-channel logout not delivered");
                true
            }
        };
        if !retryable || attempt == retry.attempts {
            break;
        }
        tokio::time::sleep(delay).await;
        delay = delay.saturating_mul(2);
    }
    tracing::error!(
        client_id,
        uri,
        "back-channel logout failed; the client keeps its session"
    );
}
