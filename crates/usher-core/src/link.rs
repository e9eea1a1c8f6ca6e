//! Identity links: which upstream identity is which usher user.
//!
//! Links are keyed on `(upstream, subject)`, never on an email address: an address
//! can be reassigned or unverified at the upstream, a subject cannot (OIDC Core §5.7).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{UpstreamId, UserId};

/// A stored link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityLink {
    /// The upstream IdP.
    pub upstream: UpstreamId,
    /// The upstream's stable subject identifier (OIDC `sub`, SAML persistent NameID).
    pub subject: String,
    /// The usher user it signs in as.
    pub user_id: UserId,
    /// When the link was made.
    pub created_at: OffsetDateTime,
    /// Last sign-in through this link, if any.
    pub last_login_at: Option<OffsetDateTime>,
}

/// What it takes to link an identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIdentityLink {
    /// The upstream IdP.
    pub upstream: UpstreamId,
    /// Its subject identifier.
    pub subject: String,
    /// The user to link to.
    pub user_id: UserId,
}
