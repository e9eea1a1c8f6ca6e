//! The plain records a connector pushes and reads back.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The target's own identifier for an account or a group (a SCIM `id`, a Slack
/// user id), as the remote mapping stores it. Opaque to usher.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RemoteId(String);

impl RemoteId {
    /// Wraps the target's identifier.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The identifier as the target spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RemoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RemoteId({:?})", self.0)
    }
}

impl fmt::Display for RemoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One email address of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Email {
    /// The address.
    pub value: String,
    /// Whether this is the user's primary address (at most one is).
    pub primary: bool,
}

impl Email {
    /// An address, primary or not.
    pub fn new(value: impl Into<String>, primary: bool) -> Self {
        Self {
            value: value.into(),
            primary,
        }
    }
}

/// The desired state of one account in one app, after the app's attribute mapping.
///
/// Fields are public for reading and setting; build one with [`UserRecord::new`]
/// (the struct is `#[non_exhaustive]`, so fields can be added without breaking
/// connectors). Serializable so the core can store what it pushed and digest it;
/// the `BTreeMap` keeps that digest independent of insertion order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UserRecord {
    /// usher's user id: the target's `externalId` where it has one, the first
    /// match key, and what makes a retried create find the first one.
    pub external_id: String,
    /// The account's login name on the target.
    pub user_name: String,
    /// The name shown for the account.
    pub display_name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Email addresses, the primary one flagged.
    pub emails: Vec<Email>,
    /// Whether the account should be active (false: deactivated, not deleted).
    pub active: bool,
    /// Further mapped attributes by target attribute name (`title`,
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`), as
    /// strings: the connector converts to the target's types.
    pub attributes: BTreeMap<String, String>,
}

impl UserRecord {
    /// An active account with these identifiers and nothing else set.
    pub fn new(external_id: impl Into<String>, user_name: impl Into<String>) -> Self {
        Self {
            external_id: external_id.into(),
            user_name: user_name.into(),
            display_name: None,
            given_name: None,
            family_name: None,
            emails: Vec::new(),
            active: true,
            attributes: BTreeMap::new(),
        }
    }

    /// The primary email, or the first one when none is flagged.
    pub fn primary_email(&self) -> Option<&str> {
        self.emails
            .iter()
            .find(|e| e.primary)
            .or_else(|| self.emails.first())
            .map(|e| e.value.as_str())
    }
}

/// The desired state of one group in one app. Members travel separately, as
/// remote ids, through `create_group`, `add_members` and `remove_members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GroupRecord {
    /// usher's group id: the target's `externalId` where it has one.
    pub external_id: String,
    /// The group's name on the target.
    pub display_name: String,
    /// Further mapped attributes by target attribute name, as strings.
    pub attributes: BTreeMap<String, String>,
}

impl GroupRecord {
    /// A group with these identifiers and nothing else set.
    pub fn new(external_id: impl Into<String>, display_name: impl Into<String>) -> Self {
        Self {
            external_id: external_id.into(),
            display_name: display_name.into(),
            attributes: BTreeMap::new(),
        }
    }
}

/// An account as the target holds it: found by match keys or listed for
/// reconciliation. `user.active` is the target's state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RemoteUser {
    /// The target's id for it.
    pub id: RemoteId,
    /// Its attributes as read back (fields the target lacks stay empty).
    pub user: UserRecord,
}

impl RemoteUser {
    /// An account the target holds under `id`.
    pub fn new(id: RemoteId, user: UserRecord) -> Self {
        Self { id, user }
    }
}

/// A group as the target holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RemoteGroup {
    /// The target's id for it.
    pub id: RemoteId,
    /// Its attributes as read back.
    pub group: GroupRecord,
}

impl RemoteGroup {
    /// A group the target holds under `id`.
    pub fn new(id: RemoteId, group: GroupRecord) -> Self {
        Self { id, group }
    }
}
