//! Interactions: a protocol front-end (OIDC authorize, SAML SSO) that needs the user
//! to sign in or consent parks its request here and sends the browser to a page of
//! `usher-web`; the page does its part and sends the browser back to `resume_url`.
//! The front-end never trusts the browser to carry its request: it reloads it.
//!
//! Parked requests and decisions are short-lived and live in the ephemeral store
//! (lost on a restart, the user starts again); the consents remembered from
//! approved decisions are durable and go through the [`Consents`] port (SQL).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ports::{Clock, Consents, EphemeralStore};
use crate::{FederatedLogin, Participant, Result, UserId, random, stash};

/// How long a user has to finish signing in or consenting.
pub const INTERACTION_TTL: Duration = Duration::from_secs(15 * 60);

/// How long a verified upstream identity waits for `/login/federated`: the
/// browser is redirected there at once.
pub const FEDERATED_TTL: Duration = Duration::from_secs(5 * 60);

/// How long a consent decision is remembered.
pub const CONSENT_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

/// A request to sign the user in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// Where to send the browser once signed in (a path on usher).
    pub resume_url: String,
    /// The app asking, for the page's heading.
    pub client_name: Option<String>,
    /// Ask for the password even with a live session (`prompt=login`, `max_age`,
    /// SAML `ForceAuthn`).
    pub force_login: bool,
    /// Username or email to prefill (OIDC `login_hint`); its email domain also
    /// picks an upstream by home-realm discovery.
    pub login_hint: Option<String>,
    /// The upstream (by id) or home-realm domain the app asked for (`kc_idp_hint`,
    /// `domain_hint`): the login page goes straight there when it is allowed.
    #[serde(default)]
    pub upstream_hint: Option<String>,
    /// The upstreams the app allows (by id); `None`: every enabled upstream.
    /// An empty list: local accounts only.
    #[serde(default)]
    pub allowed_upstreams: Option<Vec<String>>,
}

/// What [`Interactions::redeem_federated`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Redemption {
    /// This browser's hand-off, now consumed.
    Redeemed(Box<FederatedLogin>),
    /// A hand-off bound to another browser; left untouched.
    OtherBrowser {
        /// The upstream it came through (for the audit record).
        upstream: crate::UpstreamId,
    },
    /// Unknown, expired or already used.
    Missing,
}

/// A request for the user's consent to share scopes with a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRequest {
    /// Where to send the browser after the decision.
    pub resume_url: String,
    /// The client.
    pub client_id: String,
    /// Its display name.
    pub client_name: String,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// The user deciding.
    pub user_id: UserId,
}

/// A request to sign the user out (RP-initiated logout, SAML SLO from a browser).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutRequest {
    /// The app asking, for the confirmation page.
    pub client_name: Option<String>,
    /// Where to send the browser afterwards: already validated against the app's
    /// registration, with its `state` appended. `None`: show the signed-out page.
    pub redirect_after: Option<String>,
    /// The requester proved which session it means (a valid `id_token_hint` for the
    /// current session), so no confirmation is needed (OIDC RP-Initiated Logout §2).
    pub confirmed: bool,
    /// The public id of the session the requester proved, when `confirmed`: the
    /// sign-out skips the confirmation only in a browser still in that session, so
    /// a confirmed ticket handed to someone else signs nobody out (logout CSRF).
    #[serde(default)]
    pub sid: Option<String>,
}

/// A logout being carried to the SAML SPs of an ended session through the
/// browser, one at a time (SAML Profiles §4.4.3.3, §4.4.4): whoever ends the
/// session (the sign-out page, an SP's LogoutRequest) parks it and sends the
/// browser to `/saml/slo/propagate?t=ID`; usher-saml sends a LogoutRequest to the
/// next SP, and its LogoutResponse (RelayState = the chain id) moves the chain on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutChain {
    /// The SAML participants still to be told (others are ignored).
    pub remaining: Vec<Participant>,
    /// The ended session's public id (the LogoutRequests' `SessionIndex`).
    pub sid: String,
    /// The LogoutRequest sent and not yet answered.
    pub pending: Option<PendingLogout>,
    /// Where the browser goes once every SP has been told.
    pub then: ChainEnd,
}

/// A LogoutRequest usher sent an SP, awaiting its LogoutResponse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogout {
    /// The SP's entity id (the response's `Issuer`).
    pub entity_id: String,
    /// The request's `ID` (the response's `InResponseTo`).
    pub request_id: String,
}

/// The end of a [`LogoutChain`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChainEnd {
    /// A URL already validated by whoever parked the chain (the OIDC
    /// `post_logout_redirect_uri`, the signed-out page).
    Redirect(String),
    /// The LogoutResponse owed to the SP that started the logout.
    SamlResponse {
        /// That SP's entity id.
        entity_id: String,
        /// Its LogoutRequest's `ID`.
        in_response_to: String,
        /// Whether it came by HTTP-POST (else HTTP-Redirect).
        post: bool,
        /// Its `RelayState`, echoed.
        relay_state: Option<String>,
    },
}

/// What the user decided on a consent request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsentDecision {
    /// Share the scopes.
    Approved,
    /// Do not.
    Denied,
}

/// Parks and finds interactions, and remembers consents.
#[derive(Clone)]
pub struct Interactions {
    store: Arc<dyn EphemeralStore>,
    consents: Arc<dyn Consents>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Interactions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Interactions")
    }
}

impl Interactions {
    /// Interactions parked in `store`, consents remembered in `consents`, both
    /// timed by `clock`.
    pub fn new(
        store: Arc<dyn EphemeralStore>,
        consents: Arc<dyn Consents>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            consents,
            clock,
        }
    }

    /// Parks a login request; returns its id (the `t` parameter of `/login`).
    pub async fn start_login(&self, request: &LoginRequest) -> Result<String> {
        let id = random::token()?;
        stash::put(
            &*self.store,
            &format!("login:{id}"),
            request,
            INTERACTION_TTL,
        )
        .await?;
        Ok(id)
    }

    /// A parked login request.
    pub async fn login(&self, id: &str) -> Result<Option<LoginRequest>> {
        stash::get(&*self.store, &format!("login:{id}")).await
    }

    /// Forgets a login request once used.
    pub async fn finish_login(&self, id: &str) -> Result<()> {
        self.store.delete(&format!("login:{id}")).await.map(drop)
    }

    /// Parks a verified upstream identity; returns its id (the `t` parameter of
    /// `/login/federated`).
    pub async fn start_federated(&self, login: &FederatedLogin) -> Result<String> {
        let id = random::token()?;
        stash::put(
            &*self.store,
            &format!("federated:{id}"),
            login,
            FEDERATED_TTL,
        )
        .await?;
        Ok(id)
    }

    /// A parked upstream identity, left in place (to inspect it; signing in goes
    /// through [`Self::redeem_federated`]).
    pub async fn federated(&self, id: &str) -> Result<Option<FederatedLogin>> {
        stash::get(&*self.store, &format!("federated:{id}")).await
    }

    /// Redeems a parked upstream identity for the browser whose cookies `cookie`
    /// reads (by name). The binding is checked before anything is consumed: a
    /// browser that is not the one that completed the upstream flow (login CSRF:
    /// the attacker's hand-off URL opened by a victim, or a victim's URL leaked to
    /// an attacker) neither uses nor burns it. The right browser takes it once: a
    /// reloaded or replayed `/login/federated` finds nothing.
    pub async fn redeem_federated(
        &self,
        id: &str,
        cookie: impl FnOnce(&str) -> Option<String>,
    ) -> Result<Redemption> {
        let key = format!("federated:{id}");
        let Some(parked) = stash::get::<FederatedLogin>(&*self.store, &key).await? else {
            return Ok(Redemption::Missing);
        };
        if !parked
            .browser
            .matches(cookie(parked.browser.cookie()).as_deref())
        {
            return Ok(Redemption::OtherBrowser {
                upstream: parked.identity.upstream,
            });
        }
        // Atomic: of two requests of the same browser, one finds nothing.
        Ok(match stash::take(&*self.store, &key).await? {
            Some(login) => Redemption::Redeemed(Box::new(login)),
            None => Redemption::Missing,
        })
    }

    /// Parks a logout request; returns its id (the `t` parameter of `/logout`).
    pub async fn start_logout(&self, request: &LogoutRequest) -> Result<String> {
        let id = random::token()?;
        stash::put(
            &*self.store,
            &format!("logout:{id}"),
            request,
            INTERACTION_TTL,
        )
        .await?;
        Ok(id)
    }

    /// Takes a parked logout request (once).
    pub async fn take_logout(&self, id: &str) -> Result<Option<LogoutRequest>> {
        stash::take(&*self.store, &format!("logout:{id}")).await
    }

    /// A parked logout request, left in place.
    pub async fn logout(&self, id: &str) -> Result<Option<LogoutRequest>> {
        stash::get(&*self.store, &format!("logout:{id}")).await
    }

    /// Parks a logout chain; returns its id (the `t` of `/saml/slo/propagate`,
    /// the `RelayState` of the LogoutRequests).
    pub async fn start_logout_chain(&self, chain: &LogoutChain) -> Result<String> {
        let id = random::token()?;
        self.save_logout_chain(&id, chain).await?;
        Ok(id)
    }

    /// Stores a logout chain's new state under its id.
    pub async fn save_logout_chain(&self, id: &str, chain: &LogoutChain) -> Result<()> {
        stash::put(
            &*self.store,
            &format!("logout-chain:{id}"),
            chain,
            INTERACTION_TTL,
        )
        .await
    }

    /// Takes a logout chain (once): a step is taken by one request only.
    pub async fn take_logout_chain(&self, id: &str) -> Result<Option<LogoutChain>> {
        stash::take(&*self.store, &format!("logout-chain:{id}")).await
    }

    /// Parks a consent request; returns its id (the `t` parameter of `/consent`).
    pub async fn start_consent(&self, request: &ConsentRequest) -> Result<String> {
        let id = random::token()?;
        stash::put(
            &*self.store,
            &format!("consent-req:{id}"),
            request,
            INTERACTION_TTL,
        )
        .await?;
        Ok(id)
    }

    /// A parked consent request.
    pub async fn consent(&self, id: &str) -> Result<Option<ConsentRequest>> {
        stash::get(&*self.store, &format!("consent-req:{id}")).await
    }

    /// Records the user's decision on a consent request, and on approval remembers
    /// the scopes granted so the user is not asked again.
    pub async fn decide(
        &self,
        id: &str,
        request: &ConsentRequest,
        decision: ConsentDecision,
    ) -> Result<()> {
        if decision == ConsentDecision::Approved {
            let now = self.clock.now();
            self.consents
                .grant_consent(
                    request.user_id,
                    &request.client_id,
                    &request.scopes,
                    now,
                    now + CONSENT_TTL,
                )
                .await?;
        }
        stash::put(
            &*self.store,
            &format!("consent-decision:{id}"),
            &decision,
            INTERACTION_TTL,
        )
        .await?;
        self.store
            .delete(&format!("consent-req:{id}"))
            .await
            .map(drop)
    }

    /// Takes the decision on a consent request (once).
    pub async fn take_decision(&self, id: &str) -> Result<Option<ConsentDecision>> {
        stash::take(&*self.store, &format!("consent-decision:{id}")).await
    }

    /// The scopes a user has granted a client (and not let lapse).
    pub async fn granted(&self, user: UserId, client_id: &str) -> Result<Vec<String>> {
        let consent = self
            .consents
            .consent(user, client_id, self.clock.now())
            .await?;
        Ok(consent.map(|c| c.scopes).unwrap_or_default())
    }
}
