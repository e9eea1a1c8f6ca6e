//! Users: the people usher knows, wherever their identity comes from.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::{Error, Result, UserId};

/// An email address of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    /// The address as given (case preserved for display).
    pub address: String,
    /// True when an upstream or a confirmation proved the user controls it.
    pub verified: bool,
    /// True for the one address used in tokens and assertions.
    pub primary: bool,
    /// What kind of address it is (`work`, `home`, ...), as a provisioning source
    /// (SCIM `type`) said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl Email {
    /// An address with its flags.
    pub fn new(address: impl Into<String>, verified: bool, primary: bool) -> Self {
        Self {
            address: address.into(),
            verified,
            primary,
            kind: None,
        }
    }

    /// The same address with a kind.
    pub fn with_kind(mut self, kind: Option<String>) -> Self {
        self.kind = kind;
        self
    }
}

/// The form under which email addresses are compared and kept unique.
///
/// The whole address is lowercased: mail servers treat the local part as case
/// sensitive in theory (RFC 5321 §2.4) but no identity provider in practice does, and
/// two accounts differing only in case are an account-takeover vector.
pub fn normalize_email(address: &str) -> String {
    address.trim().to_lowercase()
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Stable id.
    pub id: UserId,
    /// Login name, unique (compared case-insensitively).
    pub username: String,
    /// Email addresses; at most one is primary.
    pub emails: Vec<Email>,
    /// Full name for display.
    pub display_name: Option<String>,
    /// Given (first) name.
    pub given_name: Option<String>,
    /// Family (last) name.
    pub family_name: Option<String>,
    /// False once deactivated: the user can no longer sign in anywhere.
    pub active: bool,
    /// The id a provisioning source (SCIM client) knows this user by; unique.
    pub external_id: Option<String>,
    /// Attributes without a column of their own (department, employee number, ...).
    pub attributes: Map<String, Value>,
    /// When the user was created.
    pub created_at: OffsetDateTime,
    /// When the user last changed.
    pub updated_at: OffsetDateTime,
    /// Increases with every change; the SCIM ETag.
    #[serde(default)]
    pub version: i64,
    /// The provisioning source (SCIM client) that created the user, which alone may
    /// see and change it over SCIM; `None` for users from anywhere else.
    #[serde(default)]
    pub provisioned_by: Option<String>,
}

impl User {
    /// The primary email, or the first one when none is marked primary.
    pub fn primary_email(&self) -> Option<&Email> {
        self.emails
            .iter()
            .find(|e| e.primary)
            .or_else(|| self.emails.first())
    }
}

/// What it takes to create a user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Email addresses.
    pub emails: Vec<Email>,
    /// Full name.
    pub display_name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Whether the user may sign in right away.
    pub active: bool,
    /// Id known to the provisioning source.
    pub external_id: Option<String>,
    /// Free attributes.
    pub attributes: Map<String, Value>,
    /// The provisioning source creating the user (see [`User::provisioned_by`]).
    pub provisioned_by: Option<String>,
}

impl NewUser {
    /// An active user with just a username.
    pub fn named(username: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            active: true,
            ..Self::default()
        }
    }

    /// Adds an email address.
    pub fn with_email(mut self, address: impl Into<String>, verified: bool) -> Self {
        let primary = self.emails.is_empty();
        self.emails.push(Email::new(address, verified, primary));
        self
    }

    /// Checks the domain rules shared by create and update.
    pub fn validate(&self) -> Result<()> {
        validate_username(&self.username)?;
        validate_emails(&self.emails)
    }
}

/// A change to a user: `None` leaves a field as it is. `Some(None)` clears an
/// optional field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserUpdate {
    /// New login name.
    pub username: Option<String>,
    /// Replaces all email addresses.
    pub emails: Option<Vec<Email>>,
    /// New display name.
    pub display_name: Option<Option<String>>,
    /// New given name.
    pub given_name: Option<Option<String>>,
    /// New family name.
    pub family_name: Option<Option<String>>,
    /// Deactivates (`false`) or reactivates (`true`) the user.
    pub active: Option<bool>,
    /// New external id.
    pub external_id: Option<Option<String>>,
    /// Replaces the free attributes.
    pub attributes: Option<Map<String, Value>>,
}

impl UserUpdate {
    /// Checks the fields being set.
    pub fn validate(&self) -> Result<()> {
        if let Some(username) = &self.username {
            validate_username(username)?;
        }
        if let Some(emails) = &self.emails {
            validate_emails(emails)?;
        }
        Ok(())
    }

    /// Applies the change to a user in memory (storage then persists the result).
    pub fn apply_to(self, user: &mut User) {
        if let Some(v) = self.username {
            user.username = v;
        }
        if let Some(v) = self.emails {
            user.emails = v;
        }
        if let Some(v) = self.display_name {
            user.display_name = v;
        }
        if let Some(v) = self.given_name {
            user.given_name = v;
        }
        if let Some(v) = self.family_name {
            user.family_name = v;
        }
        if let Some(v) = self.active {
            user.active = v;
        }
        if let Some(v) = self.external_id {
            user.external_id = v;
        }
        if let Some(v) = self.attributes {
            user.attributes = v;
        }
    }
}

/// Longest username accepted; SCIM and SAML peers commonly cap at 256.
pub const MAX_USERNAME_LEN: usize = 256;

fn validate_username(username: &str) -> Result<()> {
    if username.trim().is_empty() {
        return Err(Error::Invalid("username must not be empty".into()));
    }
    if username.len() > MAX_USERNAME_LEN {
        return Err(Error::Invalid(format!(
            "username is longer than {MAX_USERNAME_LEN} bytes"
        )));
    }
    if username != username.trim() || username.chars().any(char::is_control) {
        return Err(Error::Invalid(
            "username must not start or end with spaces or contain control characters".into(),
        ));
    }
    Ok(())
}

fn validate_emails(emails: &[Email]) -> Result<()> {
    if emails.iter().filter(|e| e.primary).count() > 1 {
        return Err(Error::Invalid(
            "at most one email address may be primary".into(),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for email in emails {
        let a = &email.address;
        // A deliberately loose check (one '@', something on both sides, no spaces or
        // control characters): full RFC 5322 parsing rejects addresses IdPs do send.
        let ok = a.len() <= 320
            && a.split('@').count() == 2
            && !a.starts_with('@')
            && !a.ends_with('@')
            && !a.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(Error::Invalid(format!("{a:?} is not an email address")));
        }
        if !seen.insert(normalize_email(a)) {
            return Err(Error::Invalid(format!(
                "email address {a:?} is listed twice"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_usernames() {
        assert!(NewUser::named("").validate().is_err());
        assert!(NewUser::named(" alice").validate().is_err());
        assert!(NewUser::named("al\u{0}ice").validate().is_err());
        assert!(NewUser::named("a".repeat(257)).validate().is_err());
        assert!(NewUser::named("alice").validate().is_ok());
    }

    #[test]
    fn rejects_bad_emails() {
        assert!(
            NewUser::named("a")
                .with_email("nope", false)
                .validate()
                .is_err()
        );
        assert!(
            NewUser::named("a")
                .with_email("a@b@c", false)
                .validate()
                .is_err()
        );
        assert!(
            NewUser::named("a")
                .with_email("A@x.test", false)
                .with_email("a@X.test", false)
                .validate()
                .is_err()
        );
        let mut two_primaries = NewUser::named("a").with_email("a@x.test", true);
        two_primaries
            .emails
            .push(Email::new("b@x.test", true, true));
        assert!(two_primaries.validate().is_err());
    }

    #[test]
    fn first_email_is_primary() {
        let u = NewUser::named("a")
            .with_email("a@x.test", true)
            .with_email("b@x.test", false);
        assert!(u.emails[0].primary && !u.emails[1].primary);
    }
}
