//! Lifecycle events: what happened in the directory, written to the outbox in the
//! same transaction as the change itself, so provisioning never misses one and
//! never sees one for a change that was rolled back.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{ApplicationId, GroupId, UserId};

/// Something that happened to a user, a group or an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LifecycleEvent {
    /// A user was created.
    UserCreated {
        /// Who.
        user_id: UserId,
    },
    /// A user's attributes changed (not its active flag).
    UserUpdated {
        /// Who.
        user_id: UserId,
    },
    /// A user can no longer sign in; downstream accounts should be deactivated.
    UserDeactivated {
        /// Who.
        user_id: UserId,
    },
    /// A deactivated user was let back in.
    UserReactivated {
        /// Who.
        user_id: UserId,
    },
    /// A user was deleted.
    UserDeleted {
        /// Who.
        user_id: UserId,
    },
    /// A group was created, renamed or deleted.
    GroupChanged {
        /// Which.
        group_id: GroupId,
    },
    /// A user joined a group.
    MembershipAdded {
        /// The group.
        group_id: GroupId,
        /// The user.
        user_id: UserId,
    },
    /// A user left a group.
    MembershipRemoved {
        /// The group.
        group_id: GroupId,
        /// The user.
        user_id: UserId,
    },
    /// An application was created or removed, or its assignment, provisioning side
    /// or enabled flag changed: the planner re-plans it.
    ApplicationChanged {
        /// Which.
        application_id: ApplicationId,
    },
}

impl LifecycleEvent {
    /// The event's type name as stored (`user_created`, ...), for indexing and queries.
    pub fn kind(&self) -> &'static str {
        match self {
            LifecycleEvent::UserCreated { .. } => "user_created",
            LifecycleEvent::UserUpdated { .. } => "user_updated",
            LifecycleEvent::UserDeactivated { .. } => "user_deactivated",
            LifecycleEvent::UserReactivated { .. } => "user_reactivated",
            LifecycleEvent::UserDeleted { .. } => "user_deleted",
            LifecycleEvent::GroupChanged { .. } => "group_changed",
            LifecycleEvent::MembershipAdded { .. } => "membership_added",
            LifecycleEvent::MembershipRemoved { .. } => "membership_removed",
            LifecycleEvent::ApplicationChanged { .. } => "application_changed",
        }
    }
}

/// An event as read back from the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// Position in the outbox, increasing in insertion order. Concurrent
    /// transactions may commit out of id order (PostgreSQL allocates ids before
    /// commit), so a consumer must not assume that every id below one it has seen is
    /// already visible: it reads *unprocessed* events, not "everything after N".
    pub id: i64,
    /// What happened.
    pub event: LifecycleEvent,
    /// When the change was committed.
    pub occurred_at: OffsetDateTime,
    /// When a consumer marked it handled.
    pub processed_at: Option<OffsetDateTime>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_matches_the_serialized_tag() {
        let e = LifecycleEvent::MembershipAdded {
            group_id: GroupId::new(),
            user_id: UserId::new(),
        };
        let json = serde_json::to_value(&e).expect("serializes");
        assert_eq!(json["type"], e.kind());
    }
}
