//! Identifiers. Newtypes keep a user id from being passed where a group id belongs.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUIDv7), so ids sort by creation and index well.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

uuid_id!(
    /// Identifies a user for life; never reused, never shown as a login name.
    UserId
);
uuid_id!(
    /// Identifies a group.
    GroupId
);
uuid_id!(
    /// Identifies an application (an OIDC client, a SAML SP or a provisioning target).
    ApplicationId
);

/// Identifies an upstream IdP: the short name an admin chose (`corp-oidc`), which
/// also appears in callback URLs (`/federation/{id}/...`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UpstreamId(String);

impl UpstreamId {
    /// Checks the id is usable in a URL path segment: 1 to 64 of `a-z 0-9 - _`.
    pub fn parse(id: &str) -> crate::Result<Self> {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(id.to_owned()))
        } else {
            Err(crate::Error::Invalid(format!(
                "upstream id {id:?} must be 1 to 64 characters of a-z, 0-9, '-' and '_'"
            )))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UpstreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_ids_are_url_safe() {
        assert!(UpstreamId::parse("corp-oidc").is_ok());
        assert!(UpstreamId::parse("").is_err());
        assert!(UpstreamId::parse("../admin").is_err());
        assert!(UpstreamId::parse("Corp").is_err());
        assert!(UpstreamId::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn new_ids_sort_by_creation() {
        let a = UserId::new();
        let b = UserId::new();
        assert!(a < b);
    }
}
