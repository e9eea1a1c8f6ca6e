//! The SSO session: one sign-in at usher, shared by every protocol and every
//! instance (it lives in the ephemeral store, named by a cookie).
//!
//! The cookie carries a 256-bit secret; the store keys the session by the secret's
//! digest, so a copy of the store holds no usable cookie. The public session id
//! (`sid`, also the SAML `SessionIndex`) is a different random value, so tokens
//! and logs never reveal the cookie.
//!
//! [`Sessions::revoke_all_for_user`] is what ends a user's everything: their
//! sessions here and their refresh-token families, which are durable and live
//! behind the [`RefreshTokens`] port.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ports::{Clock, EphemeralStore, RefreshTokens};
use crate::{Result, UserId, random, stash};

/// The cookie naming a browser's SSO session over plain http (development).
pub const SESSION_COOKIE: &str = "usher_session";

/// The session cookie's name. Under https it carries the `__Host-` prefix, which
/// browsers accept only from the exact host, with `Secure`, `Path=/` and no
/// `Domain`: a sibling subdomain cannot plant a session of its choosing in a
/// victim's browser (cookie tossing / session fixation, RFC 6265bis §4.1.3.2).
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-usher_session"
    } else {
        SESSION_COOKIE
    }
}

/// How long sessions last. Defaults follow Keycloak's (SSO Session Idle 30 min,
/// SSO Session Max 10 h).
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, however busy.
    pub absolute_timeout: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(10 * 3600),
        }
    }
}

/// An app that received tokens or assertions from a session, to be told when it ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "snake_case")]
pub enum Participant {
    /// An OIDC relying party.
    Oidc {
        /// Its client id.
        client_id: String,
    },
    /// A SAML service provider.
    Saml {
        /// Its entity id.
        entity_id: String,
        /// The NameID it was given.
        name_id: String,
        /// The NameID's format URI.
        name_id_format: String,
    },
}

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsoSession {
    /// Public id (`sid` claim, SAML `SessionIndex`); not the cookie.
    pub sid: String,
    /// Who signed in.
    pub user_id: UserId,
    /// When the user last authenticated (OIDC `auth_time`).
    #[serde(with = "time::serde::timestamp")]
    pub auth_time: OffsetDateTime,
    /// How (RFC 8176 values: `pwd`, `mfa`, ... or `fed` for an upstream IdP).
    pub amr: Vec<String>,
    /// Authentication context class, when known.
    pub acr: Option<String>,
    /// Absolute end.
    #[serde(with = "time::serde::timestamp")]
    pub expires_at: OffsetDateTime,
    /// The upstream IdP the user signed in through, and its session (for logout
    /// at the upstream when this session ends).
    #[serde(default)]
    pub upstream: Option<(crate::UpstreamId, crate::UpstreamSession)>,
}

/// Creates, finds, extends and ends SSO sessions.
#[derive(Clone)]
pub struct Sessions {
    store: Arc<dyn EphemeralStore>,
    refresh_tokens: Arc<dyn RefreshTokens>,
    clock: Arc<dyn Clock>,
    policy: SessionPolicy,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn session_key(secret: &str) -> String {
    format!("sso:{}", random::digest(secret))
}

fn sid_key(sid: &str) -> String {
    format!("sso-sid:{sid}")
}

fn participants_key(sid: &str) -> String {
    format!("sso-rp:{sid}")
}

fn user_index_key(user: UserId) -> String {
    format!("user-index:{user}")
}

impl Sessions {
    /// Sessions over `store`; [`Sessions::revoke_all_for_user`] also revokes the
    /// user's families in `refresh_tokens`.
    pub fn new(
        store: Arc<dyn EphemeralStore>,
        refresh_tokens: Arc<dyn RefreshTokens>,
        clock: Arc<dyn Clock>,
        policy: SessionPolicy,
    ) -> Self {
        Self {
            store,
            refresh_tokens,
            clock,
            policy,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    /// Starts a session for `user_id`; returns the cookie secret and the session.
    pub async fn create(
        &self,
        user_id: UserId,
        amr: Vec<String>,
        acr: Option<String>,
    ) -> Result<(String, SsoSession)> {
        self.create_federated(user_id, amr, acr, None).await
    }

    /// Starts a session for a user who signed in through an upstream IdP,
    /// remembering the upstream's session for logout.
    pub async fn create_federated(
        &self,
        user_id: UserId,
        amr: Vec<String>,
        acr: Option<String>,
        upstream: Option<(crate::UpstreamId, crate::UpstreamSession)>,
    ) -> Result<(String, SsoSession)> {
        let now = self.clock.now();
        let secret = random::token()?;
        let session = SsoSession {
            sid: random::token()?,
            user_id,
            auth_time: now,
            amr,
            acr,
            expires_at: now + self.policy.absolute_timeout,
            upstream,
        };
        let key = session_key(&secret);
        let ttl = self.policy.idle_timeout.min(self.policy.absolute_timeout);
        stash::put(&*self.store, &key, &session, ttl).await?;
        // The sid mapping lives as long as the session can: logout by sid (SAML
        // SessionIndex, back-channel) must find it however the idle timer moved.
        self.store
            .put(
                &sid_key(&session.sid),
                key.as_bytes(),
                self.policy.absolute_timeout,
            )
            .await?;
        self.index_for_user(user_id, &key, self.policy.absolute_timeout)
            .await?;
        Ok((secret, session))
    }

    /// The live session named by a cookie secret, its idle timer restarted.
    pub async fn get(&self, secret: &str) -> Result<Option<SsoSession>> {
        let key = session_key(secret);
        let Some(session) = stash::get::<SsoSession>(&*self.store, &key).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        if now >= session.expires_at {
            self.store.delete(&key).await?;
            return Ok(None);
        }
        let remaining = Duration::try_from(session.expires_at - now).unwrap_or_default();
        let ttl = self
            .policy
            .idle_timeout
            .min(remaining)
            .max(Duration::from_millis(1));
        stash::put(&*self.store, &key, &session, ttl).await?;
        Ok(Some(session))
    }

    /// Records that an app received tokens or assertions from the session.
    pub async fn join(&self, session: &SsoSession, participant: &Participant) -> Result<()> {
        let member = serde_json::to_string(participant)
            .map_err(|e| crate::Error::Internal(e.to_string()))?;
        self.store
            .add_to_set(
                &participants_key(&session.sid),
                &member,
                self.policy.absolute_timeout,
            )
            .await
    }

    /// The apps that took part in a session.
    pub async fn participants(&self, session: &SsoSession) -> Result<Vec<Participant>> {
        let members = self
            .store
            .set_members(&participants_key(&session.sid))
            .await?;
        Ok(members
            .iter()
            .filter_map(|m| serde_json::from_str(m).ok())
            .collect())
    }

    /// Ends the session named by a cookie secret; returns it (for logout propagation).
    pub async fn end(&self, secret: &str) -> Result<Option<SsoSession>> {
        self.end_key(&session_key(secret)).await
    }

    /// Ends the session with this public id (SAML `SessionIndex`, OIDC `sid`).
    pub async fn end_by_sid(&self, sid: &str) -> Result<Option<SsoSession>> {
        match self.store.get(&sid_key(sid)).await? {
            Some(key) => self.end_key(&String::from_utf8_lossy(&key)).await,
            None => Ok(None),
        }
    }

    async fn end_key(&self, key: &str) -> Result<Option<SsoSession>> {
        let session = stash::take::<SsoSession>(&*self.store, key).await?;
        if let Some(s) = &session {
            self.store.delete(&sid_key(&s.sid)).await?;
            self.store
                .remove_from_set(&user_index_key(s.user_id), key)
                .await?;
        }
        Ok(session)
    }

    /// Registers a session key to be ended by [`Sessions::revoke_all_for_user`].
    async fn index_for_user(&self, user: UserId, key: &str, ttl: Duration) -> Result<()> {
        self.store.add_to_set(&user_index_key(user), key, ttl).await
    }

    /// Ends every session of a user and revokes every refresh-token family of
    /// theirs: what deactivation and deprovisioning call. Returns the sessions
    /// ended, with their participants, so logout can be propagated.
    ///
    /// The families go first: they are durable (SQL), and a failure there must not
    /// leave offline access behind sessions that were already ended.
    pub async fn revoke_all_for_user(
        &self,
        user: UserId,
    ) -> Result<Vec<(SsoSession, Vec<Participant>)>> {
        self.refresh_tokens
            .revoke_refresh_families_for_user(user, self.clock.now())
            .await?;
        let index = user_index_key(user);
        let mut ended = Vec::new();
        for key in self.store.set_members(&index).await? {
            if key.starts_with("sso:") {
                if let Some(session) = self.end_key(&key).await? {
                    let participants = self.participants(&session).await?;
                    ended.push((session, participants));
                }
            } else {
                // Keys other versions indexed here (refresh-token families were
                // once kept in this store).
                self.store.delete(&key).await?;
            }
        }
        self.store.delete(&index).await?;
        Ok(ended)
    }

    /// The leaver's session step: [`revoke_all_for_user`](Self::revoke_all_for_user),
    /// then each ended session is handed to `listeners` (back-channel logout).
    /// Returns how many sessions ended. Idempotent: a second call finds nothing
    /// left to end, so whoever retries after a failure may call it again.
    pub async fn end_all_for_user(
        &self,
        user: UserId,
        listeners: &[std::sync::Arc<dyn crate::ports::LogoutListener>],
    ) -> Result<usize> {
        let ended = self.revoke_all_for_user(user).await?;
        for (session, participants) in &ended {
            for listener in listeners {
                listener.session_ended(session, participants).await;
            }
        }
        Ok(ended.len())
    }
}
