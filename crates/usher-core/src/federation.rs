//! Federation hand-off: an upstream IdP has proved who the browser is.
//!
//! The protocol crates (usher-oidc's relying party, usher-saml's service provider)
//! do every protocol check and end with an [`ExternalIdentity`]. They never decide
//! who that is in usher: they park a [`FederatedLogin`] here and send the browser to
//! `/login/federated?t=ID`, where the pages apply the upstream's JIT policy, sign the
//! user in (or say why not) and resume the parked [`LoginRequest`](crate::LoginRequest).
//! One place decides, whichever protocol spoke.
//!
//! The hand-off is bound to the browser that completed the upstream flow
//! ([`BrowserBinding`]): the cookie that browser proved itself with at the
//! protocol crate's callback or ACS, kept as a digest. Without it, an attacker who
//! completes their own upstream sign-in and stops before the redirect could make a
//! victim open `/login/federated?t=ID` and sign the victim in as the attacker
//! (login CSRF, session swapping; RFC 6749 §10.12, OWASP "login CSRF"). The page
//! reads the cookie the binding names, so it knows no protocol's cookie names.
//!
//! URL contract for starting a federated sign-in (used by the login page, home-realm
//! discovery and `kc_idp_hint`): `GET /federation/{upstream}/{oidc|saml}/start?t=LOGIN_ID`,
//! where `t` is the parked login request's id (absent: sign in to usher itself).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Error, Result, UpstreamId, UpstreamKind, random};

/// A verified identity from an upstream IdP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalIdentity {
    /// The upstream that verified it.
    pub upstream: UpstreamId,
    /// The protocol it spoke.
    pub kind: UpstreamKind,
    /// Its stable subject: the OIDC `sub`, or the SAML NameID's complete signed text.
    pub subject: String,
    /// The email address it asserted, if any.
    pub email: Option<String>,
    /// True only when the upstream said the address is verified (`email_verified`
    /// true; absent counts as false) or, for SAML, when the upstream is authoritative
    /// for the address's domain.
    pub email_verified: bool,
    /// Claims (OIDC) or attributes (SAML, every value an array of strings), for the
    /// attribute and group mapping.
    pub attributes: Map<String, Value>,
    /// How the upstream authenticated the user (OIDC `amr`, SAML
    /// AuthnContextClassRef), for the session's `amr`.
    pub authn_methods: Vec<String>,
    /// What the upstream needs to be told when the usher session ends.
    pub upstream_session: Option<UpstreamSession>,
}

/// The upstream's own session, for logout propagation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UpstreamSession {
    /// OIDC: the id_token (the `id_token_hint` of RP-initiated logout) and `sid`.
    Oidc {
        /// The raw id_token.
        id_token: String,
        /// The OP's session id, when it sent one.
        sid: Option<String>,
    },
    /// SAML: what a LogoutRequest to the IdP must name.
    Saml {
        /// The NameID as received.
        name_id: String,
        /// Its Format, when given.
        name_id_format: Option<String>,
        /// The AuthnStatement's SessionIndex, when given.
        session_index: Option<String>,
    },
}

/// A verified identity parked for `/login/federated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FederatedLogin {
    /// Who the upstream says it is.
    pub identity: ExternalIdentity,
    /// The parked login request this sign-in answers (`None`: sign in to usher's
    /// own home page, e.g. after an IdP-initiated login).
    pub login: Option<String>,
    /// The browser that completed the upstream flow: only it may redeem this.
    pub browser: BrowserBinding,
}

/// Which browser a hand-off belongs to: the name of a cookie the protocol crate
/// set and checked during the upstream flow, and the digest of its value in that
/// browser. Compared in constant time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowserBinding {
    cookie: String,
    digest: String,
}

impl BrowserBinding {
    /// Binds to the browser whose cookie `cookie` holds `value`.
    pub fn new(cookie: &str, value: &str) -> Result<Self> {
        Self::from_digest(cookie, &random::digest(value))
    }

    /// Binds to the browser whose cookie `cookie` holds a value of digest
    /// `digest` ([`random::digest`]), for a protocol crate that keeps only the
    /// digest. An empty name or value binds to nothing, so it is refused.
    pub fn from_digest(cookie: &str, digest: &str) -> Result<Self> {
        if cookie.is_empty() || digest.is_empty() {
            return Err(Error::Invalid(
                "a federated hand-off needs the browser's binding cookie".into(),
            ));
        }
        Ok(Self {
            cookie: cookie.to_owned(),
            digest: digest.to_owned(),
        })
    }

    /// The cookie to read from the browser redeeming the hand-off.
    pub fn cookie(&self) -> &str {
        &self.cookie
    }

    /// True when `value` (the browser's cookie, if it sent one) is the bound
    /// browser's: a digest comparison in constant time.
    pub fn matches(&self, value: Option<&str>) -> bool {
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return false;
        };
        random::constant_time_eq(random::digest(value).as_bytes(), self.digest.as_bytes())
    }
}

/// What every part of usher needs to know about a configured upstream, whatever
/// its protocol: the login page (buttons, home-realm discovery), `/login/federated`
/// (JIT policy) and the protocol crates (enabled or not).
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamProfile {
    /// Id (the URL segment of its endpoints).
    pub id: UpstreamId,
    /// Protocol.
    pub kind: UpstreamKind,
    /// Name on its button and in error pages.
    pub display_name: String,
    /// False: no button, and no sign-in through it is accepted (IdP-initiated
    /// ones included).
    pub enabled: bool,
    /// Email domains it is the home realm of (lower-case).
    pub domains: Vec<String>,
    /// Its JIT policy.
    pub jit: crate::jit::JitPolicy,
}

impl UpstreamProfile {
    /// Where a browser starts signing in through it (`t`: the parked login).
    pub fn start_url(&self, t: Option<&str>) -> String {
        let base = format!("/federation/{}/{}/start", self.id, self.kind.as_str());
        match t {
            Some(t) => format!("{base}?t={t}"),
            None => base,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binding_matches_only_its_browser() {
        let b = BrowserBinding::new("usher_rp", "browser-a").expect("binding");
        assert_eq!(b.cookie(), "usher_rp");
        assert!(b.matches(Some("browser-a")));
        assert!(!b.matches(Some("browser-b")));
        assert!(!b.matches(Some("")));
        assert!(!b.matches(None));
        let d =
            BrowserBinding::from_digest("usher_rp", &random::digest("browser-a")).expect("binding");
        assert_eq!(d, b);
        assert!(BrowserBinding::new("", "v").is_err());
        assert!(BrowserBinding::from_digest("c", "").is_err());
    }
}
