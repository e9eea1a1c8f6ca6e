//! Federation hand-off: an upstream IdP has proved who the browser is.
//!
//! The protocol crates (usher-oidc's relying party, usher-saml's service provider)
//! do every protocol check and end with an [`ExternalIdentity`]. They never decide
//! who that is in usher: they park a [`FederatedLogin`] here and send the browser to
//! `/login/federated?t=ID`, where the pages apply the upstream's JIT policy, sign the
//! user in (or say why not) and resume the parked [`LoginRequest`](crate::LoginRequest).
//! One place decides, whichever protocol spoke.
//!
//! URL contract for starting a federated sign-in (used by the login page, home-realm
//! discovery and `kc_idp_hint`): `GET /federation/{upstream}/{oidc|saml}/start?t=LOGIN_ID`,
//! where `t` is the parked login request's id (absent: sign in to usher itself).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{UpstreamId, UpstreamKind};

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
