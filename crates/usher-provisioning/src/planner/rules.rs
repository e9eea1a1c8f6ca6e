//! The planner's decisions, without the ports: what an event touches, what an
//! app should hold for one object, and whether that is worth a job.

use usher_core::outbound::{ObjectRef, ProvisioningMode, RemoteState};
use usher_core::{Application, ApplicationId, GroupId, LifecycleEvent, User, UserId};

use crate::Desired;
use crate::mapping::Mapping;

/// What one event touches, before the ports say in which apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// A user's own change: the user, in every provisioning app that assigns
    /// them or holds (or is about to hold) their account.
    User(UserId),
    /// A membership change: the user as for [`Touch::User`] and in the apps that
    /// assign the group, and the group itself in those of them that push groups.
    Membership {
        /// The user.
        user: UserId,
        /// The group.
        group: GroupId,
    },
    /// A group's own change: the group, in the apps that push it or hold it.
    Group(GroupId),
    /// The app's assignment or provisioning side changed: a full sync of it.
    App(ApplicationId),
}

/// What `event` touches.
pub fn touches(event: &LifecycleEvent) -> Touch {
    match event {
        LifecycleEvent::UserCreated { user_id }
        | LifecycleEvent::UserUpdated { user_id }
        | LifecycleEvent::UserDeactivated { user_id }
        | LifecycleEvent::UserReactivated { user_id }
        | LifecycleEvent::UserDeleted { user_id, .. } => Touch::User(*user_id),
        LifecycleEvent::MembershipAdded { group_id, user_id }
        | LifecycleEvent::MembershipRemoved { group_id, user_id } => Touch::Membership {
            user: *user_id,
            group: *group_id,
        },
        LifecycleEvent::GroupCreated { group_id }
        | LifecycleEvent::GroupUpdated { group_id }
        | LifecycleEvent::GroupDeleted { group_id, .. } => Touch::Group(*group_id),
        LifecycleEvent::ApplicationChanged { application_id } => Touch::App(*application_id),
    }
}

/// The user whose sessions must end before `event` is marked processed: a
/// deactivation or a deletion (the durable leaver).
pub fn leaver(event: &LifecycleEvent) -> Option<UserId> {
    match event {
        LifecycleEvent::UserDeactivated { user_id }
        | LifecycleEvent::UserDeleted { user_id, .. } => Some(*user_id),
        _ => None,
    }
}

/// How the report names an object a delete event took away (its snapshot), so
/// the deprovisioning job still says who it was.
pub fn deleted_label(event: &LifecycleEvent) -> Option<(ObjectRef, String)> {
    match event {
        LifecycleEvent::UserDeleted { user_id, snapshot } => {
            Some((ObjectRef::User(*user_id), snapshot.username.clone()))
        }
        LifecycleEvent::GroupDeleted { group_id, snapshot } => {
            Some((ObjectRef::Group(*group_id), snapshot.name.clone()))
        }
        _ => None,
    }
}

/// An app the planner plans for (it provisions), with its mapping parsed once.
#[derive(Debug, Clone)]
pub struct Target {
    /// The app.
    pub app: Application,
    /// Its attribute mapping.
    pub mapping: Mapping,
}

impl Target {
    /// `app` as a target, or `None` when nothing is provisioned into it (disabled,
    /// no provisioning side, mode `off`) or its stored mapping does not parse (an
    /// error, since the spec was checked when built).
    pub fn new(app: Application) -> Option<Self> {
        if !app.provisions() {
            return None;
        }
        let side = app.spec.provisioning()?;
        match Mapping::new(side) {
            Ok(mapping) => Some(Self { app, mapping }),
            Err(e) => {
                tracing::error!(app = %app.spec.name(), error = %e, "the app's stored mapping does not parse; nothing is planned for it");
                None
            }
        }
    }

    fn mode(&self) -> ProvisioningMode {
        self.app
            .spec
            .provisioning()
            .map_or(ProvisioningMode::Off, |p| p.mode())
    }

    /// Whether the app pushes groups.
    pub fn group_push(&self) -> bool {
        self.app.spec.provisioning().is_some_and(|p| p.group_push)
    }

    /// Whether the app assigns `group` directly (the groups it pushes).
    pub fn assigns_group(&self, group: GroupId) -> bool {
        self.app.spec.assignment().groups.contains(&group)
    }

    /// The "not there" state: the app's deprovision action.
    pub fn absent(&self) -> Desired {
        Desired::Absent {
            action: self.app.spec.provisioning().map_or_else(
                || usher_core::outbound::DeprovisionAction::Deactivate,
                |p| p.deprovision,
            ),
        }
    }
}

/// What `target` should hold for a user: `None` when the user is gone (deleted
/// since the event). `groups` are the user's group names, for the mapping.
///
/// | user | assigned | desired |
/// |---|---|---|
/// | gone | - | absent (the app's deprovision action) |
/// | present | no | absent |
/// | active | yes | an active account, mapped |
/// | deactivated | yes | a deactivated account, mapped |
/// | either | yes, but the mapping fails | unmappable (reported for that user) |
pub fn desired_for(
    target: &Target,
    user: Option<&User>,
    groups: &[String],
    assigned: bool,
) -> Desired {
    match user {
        Some(user) if assigned => match target.mapping.user(user, groups) {
            Ok(record) => Desired::User { record },
            Err(e) => Desired::Unmappable {
                field: e.field.clone(),
                reason: e.to_string(),
            },
        },
        _ => target.absent(),
    }
}

/// Whether `desired` needs a job, given what the app holds (`remote`: the state
/// usher last left the object in, `None` when never pushed) and whether a job for
/// the object is already queued (pending, in flight or parked).
///
/// A queued job always gets the newer plan: it must never push a stale state (a
/// create still pending for someone unassigned since). Otherwise nothing is
/// enqueued that would not change the app: no deprovisioning of what it does not
/// hold, no account for a deactivated user it never had, and in
/// `on_first_sign_in` mode no account before the user's first sign-in (the gate
/// enqueues that one).
pub fn needs_job(
    target: &Target,
    desired: &Desired,
    remote: Option<RemoteState>,
    queued: bool,
) -> bool {
    if queued {
        return true;
    }
    let held = matches!(remote, Some(RemoteState::Active | RemoteState::Deactivated));
    match desired {
        Desired::Absent { action } => match remote {
            Some(RemoteState::Active) => true,
            Some(RemoteState::Deactivated) => {
                *action == usher_core::outbound::DeprovisionAction::Delete
            }
            Some(RemoteState::Deleted) | None => false,
        },
        Desired::User { record } => {
            held || (record.active && target.mode() == ProvisioningMode::Push)
        }
        Desired::Unmappable { .. } => held || target.mode() == ProvisioningMode::Push,
        Desired::Group { .. } => true,
    }
}
