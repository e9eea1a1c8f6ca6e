//! The one error type of the domain and its ports. Storage maps its own errors
//! (database, Redis) into these variants at its boundary, so nothing above it ever
//! sees an ORM or driver error.

use std::fmt;

/// Result alias used by every port.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which uniqueness rule a write broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueKey {
    /// Another user has this username.
    Username,
    /// Another user has this email address (compared case-insensitively).
    Email,
    /// Another user has this external id (the id a SCIM client or upstream gave it).
    ExternalId,
    /// This `(upstream, subject)` is already linked to a user.
    IdentityLink,
    /// Another group has this name.
    GroupName,
    /// Another application has this name.
    ApplicationName,
    /// Another application signs in with this OIDC `client_id` or SAML entity id.
    ApplicationSignIn,
    /// Another upstream has this id.
    Upstream,
    /// Another signing key has this key id.
    KeyId,
    /// Another SCIM client has this name or token.
    ScimClient,
    /// Another refresh-token family has this id.
    RefreshFamily,
}

impl fmt::Display for UniqueKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UniqueKey::Username => "username",
            UniqueKey::Email => "email address",
            UniqueKey::ExternalId => "external id",
            UniqueKey::IdentityLink => "identity link",
            UniqueKey::GroupName => "group name",
            UniqueKey::ApplicationName => "application name",
            UniqueKey::ApplicationSignIn => "application sign-in client id or entity id",
            UniqueKey::Upstream => "upstream id",
            UniqueKey::KeyId => "key id",
            UniqueKey::ScimClient => "SCIM client name",
            UniqueKey::RefreshFamily => "refresh-token family id",
        })
    }
}

/// Everything a port can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing asked for does not exist.
    #[error("{entity} not found")]
    NotFound {
        /// What kind of thing was looked up ("user", "group", ...).
        entity: &'static str,
    },
    /// A write would break a uniqueness rule; nothing was written.
    #[error("{0} is already taken")]
    Conflict(UniqueKey),
    /// A conditional write found the thing at another version than the caller
    /// expected (someone changed it since it was read); nothing was written.
    #[error("{entity} was changed by someone else (now at version {current})")]
    VersionMismatch {
        /// What kind of thing.
        entity: &'static str,
        /// Its version now.
        current: i64,
    },
    /// The input breaks a domain rule; the message says which.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A backend (database, Redis) cannot be reached or answered with an error.
    /// Usually worth retrying later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Stored secrets cannot be decrypted with the configured master key.
    #[error(
        "the stored secrets (signing keys, connector settings) were sealed with another \
         master key (stored: {stored}, configured: {configured}); configure the original master \
         key (keys.master_key_file) instead of generating new keys"
    )]
    MasterKeyMismatch {
        /// Fingerprint of the master key the stored secrets were sealed with.
        stored: String,
        /// Fingerprint of the master key configured now.
        configured: String,
    },
    /// A bug or a corrupted row: something that should never happen did.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(entity: &'static str) -> Self {
        Error::NotFound { entity }
    }

    /// True when the caller may succeed by retrying later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }
}
