//! Why an upstream SAML IdP's response (or a sign-in start) was refused. Each
//! variant is one check; its text is what the error page says, in words for the
//! person at the browser. The log line carries the detail.

use actix_web::http::StatusCode;

/// A refusal at the ACS or the start endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// No upstream by that id.
    #[error("this sign-in option does not exist")]
    UnknownUpstream,
    /// The upstream is switched off: nothing is accepted, IdP-initiated included.
    #[error("this sign-in option is disabled")]
    Disabled,
    /// Too large, badly encoded, parameters repeated or missing.
    #[error("the response could not be read: {0}")]
    Input(String),
    /// Any DTD (XXE, entity expansion), refused before parsing.
    #[error("the response declares a DTD, which is never allowed")]
    Doctype,
    /// Not a well-formed, well-shaped SAML Response.
    #[error("the response is malformed: {0}")]
    Malformed(String),
    /// Not exactly one assertion where it belongs (signature wrapping, XSW).
    #[error("the response must carry exactly one assertion, directly inside it: {0}")]
    AssertionCount(&'static str),
    /// A signature that does not cover what it must (XSW, detached references).
    #[error("the response's signature does not cover the assertion it carries: {0}")]
    SignatureShape(&'static str),
    /// Required signature absent (signature stripping).
    #[error("the response is not signed as this sign-in option requires: {0}")]
    Unsigned(&'static str),
    /// A signature or digest algorithm off the allow-list (SHA-1 downgrade).
    #[error(
        "the response is signed with a refused algorithm: RSA or ECDSA with SHA-256 or better is required"
    )]
    WeakAlgorithm,
    /// Verification failed: wrong key (a certificate in KeyInfo is never
    /// trusted) or altered content.
    #[error(
        "the response's signature does not verify with the identity provider's configured certificate"
    )]
    BadSignature,
    /// Issuer is not the configured IdP.
    #[error("the response comes from another identity provider")]
    Issuer,
    /// The IdP answered with an error status.
    #[error("the identity provider did not sign you in (status {0})")]
    Status(String),
    /// Destination is not our ACS.
    #[error("the response was meant for another destination")]
    Destination,
    /// Recipient is not our ACS.
    #[error("the assertion was meant for another recipient")]
    Recipient,
    /// Audience missing or not our entity id.
    #[error("the assertion was meant for another audience")]
    Audience,
    /// InResponseTo names no pending request of this browser.
    #[error("the response does not answer a sign-in started in this browser; start again")]
    InResponseTo,
    /// Unsolicited response where IdP-initiated sign-in is not allowed.
    #[error(
        "sign-in started at the identity provider is not allowed for this sign-in option; start from usher's sign-in page"
    )]
    Unsolicited,
    /// RelayState changed on the way.
    #[error("the response's RelayState does not match the request's")]
    RelayState,
    /// Conditions not yet valid.
    #[error("the assertion is not valid yet; check the clocks of usher and the identity provider")]
    NotYetValid,
    /// Conditions or confirmation expired.
    #[error("the assertion has expired; start again")]
    Expired,
    /// No usable bearer SubjectConfirmation.
    #[error("the assertion has no usable bearer subject confirmation: {0}")]
    Confirmation(&'static str),
    /// Assertion ID seen before (replay).
    #[error("this assertion was already used")]
    Replayed,
    /// The replay cache or another store failed: fail closed.
    #[error("the sign-in service cannot check this response right now; try again in a moment")]
    Unavailable,
    /// Starting: the parked login request is gone.
    #[error("the sign-in request expired; return to the application and start again")]
    LoginExpired,
}

impl Rejection {
    /// The HTTP status of the error page.
    pub fn status(&self) -> StatusCode {
        match self {
            Rejection::UnknownUpstream => StatusCode::NOT_FOUND,
            Rejection::Disabled => StatusCode::FORBIDDEN,
            Rejection::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Rejection::Input(m) if m.contains("too large") => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<crate::upstream::dom::XmlError> for Rejection {
    fn from(e: crate::upstream::dom::XmlError) -> Self {
        if e.0 == "a DTD is not allowed" {
            Rejection::Doctype
        } else {
            Rejection::Malformed(e.0.to_owned())
        }
    }
}
