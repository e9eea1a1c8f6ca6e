//! Lifecycle events: what happened in the directory, written to the outbox in the
//! same transaction as the change itself, so provisioning never misses one and
//! never sees one for a change that was rolled back.
//!
//! Each stored event names its [`Subject`] (the object it is about, as columns a
//! consumer can index and query), its actor (who made the change, so a change that
//! came from an app is not echoed back to it) and the [`SCHEMA_VERSION`] of its
//! payload. A delete carries a snapshot of what was deleted: the row is gone by the
//! time a consumer reads the event, and a connector still has to find the remote
//! account, and the report still has to name it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{ApplicationId, Group, GroupId, UpstreamId, User, UserId};

/// The payload shape written today.
///
/// - 1: the first shape (`group_changed` for a group's create, rename and delete;
///   `user_deleted` with the id only; no subject or actor columns).
/// - 2: `group_changed` split into `group_created`, `group_updated` and
///   `group_deleted`; `user_deleted` and `group_deleted` carry a snapshot; a user's
///   delete announces its memberships first; every row has a subject and an actor.
pub const SCHEMA_VERSION: i32 = 2;

/// The actor of a change nobody in particular asked for (a write through a port
/// method that carries no actor).
pub const SYSTEM_ACTOR: &str = "system";

/// The actor of a just-in-time provisioning through `upstream`.
pub fn jit_actor(upstream: &UpstreamId) -> String {
    format!("jit:{upstream}")
}

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
    /// A user was deleted. Its memberships were announced just before, one
    /// `MembershipRemoved` each, in the same transaction.
    UserDeleted {
        /// Who.
        user_id: UserId,
        /// What the user was.
        snapshot: UserSnapshot,
    },
    /// A group was created.
    GroupCreated {
        /// Which.
        group_id: GroupId,
    },
    /// A group's fields changed (renamed, or its display name or external id).
    /// Membership changes have their own events.
    GroupUpdated {
        /// Which.
        group_id: GroupId,
    },
    /// A group was deleted. Its members were announced just before, one
    /// `MembershipRemoved` each, in the same transaction.
    GroupDeleted {
        /// Which.
        group_id: GroupId,
        /// What the group was.
        snapshot: GroupSnapshot,
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
            LifecycleEvent::GroupCreated { .. } => "group_created",
            LifecycleEvent::GroupUpdated { .. } => "group_updated",
            LifecycleEvent::GroupDeleted { .. } => "group_deleted",
            LifecycleEvent::MembershipAdded { .. } => "membership_added",
            LifecycleEvent::MembershipRemoved { .. } => "membership_removed",
            LifecycleEvent::ApplicationChanged { .. } => "application_changed",
        }
    }

    /// The object the event is about. A membership event is about the user: what
    /// it changes is which apps that person may use (the group is in the payload),
    /// and it keeps a user's whole story, its delete included, under one subject.
    pub fn subject(&self) -> Subject {
        match self {
            LifecycleEvent::UserCreated { user_id }
            | LifecycleEvent::UserUpdated { user_id }
            | LifecycleEvent::UserDeactivated { user_id }
            | LifecycleEvent::UserReactivated { user_id }
            | LifecycleEvent::UserDeleted { user_id, .. }
            | LifecycleEvent::MembershipAdded { user_id, .. }
            | LifecycleEvent::MembershipRemoved { user_id, .. } => Subject::User(*user_id),
            LifecycleEvent::GroupCreated { group_id }
            | LifecycleEvent::GroupUpdated { group_id }
            | LifecycleEvent::GroupDeleted { group_id, .. } => Subject::Group(*group_id),
            LifecycleEvent::ApplicationChanged { application_id } => {
                Subject::Application(*application_id)
            }
        }
    }
}

/// The object an event is about, stored as a kind and an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// A user.
    User(UserId),
    /// A group.
    Group(GroupId),
    /// An application.
    Application(ApplicationId),
}

impl Subject {
    /// The kind as stored: `user`, `group` or `application`.
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::User(_) => "user",
            Subject::Group(_) => "group",
            Subject::Application(_) => "application",
        }
    }

    /// The id as stored.
    pub fn id(&self) -> Uuid {
        match self {
            Subject::User(id) => id.0,
            Subject::Group(id) => id.0,
            Subject::Application(id) => id.0,
        }
    }

    /// The subject stored as `kind` and `id`; `None` for an unknown kind.
    pub fn from_parts(kind: &str, id: Uuid) -> Option<Self> {
        match kind {
            "user" => Some(Subject::User(UserId(id))),
            "group" => Some(Subject::Group(GroupId(id))),
            "application" => Some(Subject::Application(ApplicationId(id))),
            _ => None,
        }
    }
}

/// A deleted user, as far as a connector needs it to find the remote account and
/// the report needs it to name the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSnapshot {
    /// The username.
    pub username: String,
    /// The display name.
    pub display_name: Option<String>,
    /// The id its provisioning source knew it by.
    pub external_id: Option<String>,
    /// Its email addresses, in stored order (the primary one first when set so).
    pub emails: Vec<String>,
}

impl From<&User> for UserSnapshot {
    fn from(user: &User) -> Self {
        Self {
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            external_id: user.external_id.clone(),
            emails: user.emails.iter().map(|e| e.address.clone()).collect(),
        }
    }
}

/// A deleted group, as far as a connector needs it to find the remote group and
/// the report needs it to name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSnapshot {
    /// The unique name.
    pub name: String,
    /// The display name.
    pub display_name: Option<String>,
    /// The id its provisioning source knew it by.
    pub external_id: Option<String>,
}

impl From<&Group> for GroupSnapshot {
    fn from(group: &Group) -> Self {
        Self {
            name: group.name.clone(),
            display_name: group.display_name.clone(),
            external_id: group.external_id.clone(),
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
    /// What it happened to (the same as `event.subject()`, stored as columns).
    pub subject: Subject,
    /// Who made the change: `scim:<client>`, `jit:<upstream>`, `cli:<os user>`,
    /// `config` or `system`.
    pub actor: String,
    /// The payload's shape ([`SCHEMA_VERSION`] for everything a consumer reads).
    pub schema_version: i32,
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
        let events = [
            LifecycleEvent::MembershipAdded {
                group_id: GroupId::new(),
                user_id: UserId::new(),
            },
            LifecycleEvent::GroupDeleted {
                group_id: GroupId::new(),
                snapshot: GroupSnapshot {
                    name: "staff".into(),
                    display_name: None,
                    external_id: Some("g-1".into()),
                },
            },
            LifecycleEvent::ApplicationChanged {
                application_id: ApplicationId::new(),
            },
        ];
        for e in events {
            let json = serde_json::to_value(&e).expect("serializes");
            assert_eq!(json["type"], e.kind());
            let back: LifecycleEvent = serde_json::from_value(json).expect("reads back");
            assert_eq!(back, e);
        }
    }

    #[test]
    fn subjects_round_trip_through_their_columns() {
        let app = ApplicationId::new();
        let user = UserId::new();
        let changed = LifecycleEvent::ApplicationChanged {
            application_id: app,
        };
        assert_eq!(changed.subject(), Subject::Application(app));
        let joined = LifecycleEvent::MembershipAdded {
            group_id: GroupId::new(),
            user_id: user,
        };
        assert_eq!(
            joined.subject(),
            Subject::User(user),
            "memberships: the user"
        );
        for subject in [changed.subject(), joined.subject()] {
            assert_eq!(
                Subject::from_parts(subject.kind(), subject.id()),
                Some(subject)
            );
        }
        assert_eq!(Subject::from_parts("upstream", app.0), None);
    }
}
