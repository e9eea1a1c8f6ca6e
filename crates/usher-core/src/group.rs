//! Groups and memberships: how admins grant access to many people at once.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Error, GroupId, Result};

/// A group as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Stable id.
    pub id: GroupId,
    /// Unique name (compared case-insensitively), as used in config and policies.
    pub name: String,
    /// Name for display.
    pub display_name: Option<String>,
    /// Id known to the provisioning source.
    pub external_id: Option<String>,
    /// When created.
    pub created_at: OffsetDateTime,
    /// When last changed.
    pub updated_at: OffsetDateTime,
    /// Increases with every change, memberships included; the SCIM ETag.
    #[serde(default)]
    pub version: i64,
    /// The provisioning source (SCIM client) that created the group, which alone
    /// may see and change it over SCIM.
    #[serde(default)]
    pub provisioned_by: Option<String>,
}

/// What it takes to create a group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewGroup {
    /// Unique name.
    pub name: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Id known to the provisioning source.
    pub external_id: Option<String>,
    /// The provisioning source creating the group (see [`Group::provisioned_by`]).
    pub provisioned_by: Option<String>,
}

impl NewGroup {
    /// A group with just a name.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Checks the name.
    pub fn validate(&self) -> Result<()> {
        validate_group_name(&self.name)
    }
}

/// A change to a group; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupUpdate {
    /// New name.
    pub name: Option<String>,
    /// New display name.
    pub display_name: Option<Option<String>>,
    /// New external id.
    pub external_id: Option<Option<String>>,
}

impl GroupUpdate {
    /// Checks the fields being set.
    pub fn validate(&self) -> Result<()> {
        match &self.name {
            Some(name) => validate_group_name(name),
            None => Ok(()),
        }
    }

    /// Applies the change in memory.
    pub fn apply_to(self, group: &mut Group) {
        if let Some(v) = self.name {
            group.name = v;
        }
        if let Some(v) = self.display_name {
            group.display_name = v;
        }
        if let Some(v) = self.external_id {
            group.external_id = v;
        }
    }
}

fn validate_group_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.len() > 256 || name.chars().any(char::is_control) {
        return Err(Error::Invalid(
            "group name must be 1 to 256 bytes without control characters".into(),
        ));
    }
    Ok(())
}

/// A change to a group and its members, applied in one transaction: what a SCIM
/// PUT or PATCH of a group amounts to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupChange {
    /// The group's own fields.
    pub update: GroupUpdate,
    /// Users to add (already members are skipped, without an event).
    pub add: Vec<crate::UserId>,
    /// Users to remove (non-members are skipped, without an event).
    pub remove: Vec<crate::UserId>,
}
