//! The planner's decision table, without storage: what an event touches, what an
//! app should hold for a user, and whether that is worth a job.

use time::OffsetDateTime;
use usher_core::outbound::{DeprovisionAction, ObjectRef, RemoteState};
use usher_core::{
    Application, ApplicationId, ApplicationSpec, GroupId, GroupSnapshot, LifecycleEvent, ManagedBy,
    User, UserId, UserSnapshot,
};
use usher_provisioning::Desired;
use usher_provisioning::planner::rules::{
    Target, Touch, deleted_label, desired_for, leaver, needs_job, touches,
};

fn app(provisioning: serde_json::Value) -> Application {
    let spec: ApplicationSpec = serde_json::from_value(serde_json::json!({
        "name": "crm",
        "provisioning": provisioning,
    }))
    .expect("a valid app");
    Application {
        id: ApplicationId::new(),
        spec,
        managed_by: ManagedBy::Config,
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
    }
}

fn target(provisioning: serde_json::Value) -> Target {
    Target::new(app(provisioning)).expect("provisions")
}

fn push() -> Target {
    target(serde_json::json!({"connector": "scim"}))
}

fn user(active: bool) -> User {
    User {
        id: UserId::new(),
        username: "ada".into(),
        emails: Vec::new(),
        display_name: None,
        given_name: None,
        family_name: None,
        active,
        external_id: None,
        attributes: serde_json::Map::new(),
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
        version: 1,
        provisioned_by: None,
    }
}

#[test]
fn events_touch_users_groups_and_apps() {
    let (u, g, a) = (UserId::new(), GroupId::new(), ApplicationId::new());
    assert_eq!(
        touches(&LifecycleEvent::UserUpdated { user_id: u }),
        Touch::User(u)
    );
    assert_eq!(
        touches(&LifecycleEvent::MembershipRemoved {
            group_id: g,
            user_id: u
        }),
        Touch::Membership { user: u, group: g }
    );
    for event in [
        LifecycleEvent::GroupCreated { group_id: g },
        LifecycleEvent::GroupUpdated { group_id: g },
        LifecycleEvent::GroupDeleted {
            group_id: g,
            snapshot: GroupSnapshot {
                name: "staff".into(),
                display_name: None,
                external_id: None,
            },
        },
    ] {
        assert_eq!(touches(&event), Touch::Group(g), "{event:?}");
    }
    assert_eq!(
        touches(&LifecycleEvent::ApplicationChanged { application_id: a }),
        Touch::App(a)
    );
}

#[test]
fn only_deactivations_and_deletions_are_leavers() {
    let u = UserId::new();
    assert_eq!(
        leaver(&LifecycleEvent::UserDeactivated { user_id: u }),
        Some(u)
    );
    let deleted = LifecycleEvent::UserDeleted {
        user_id: u,
        snapshot: UserSnapshot {
            username: "ada".into(),
            display_name: None,
            external_id: None,
            emails: Vec::new(),
        },
    };
    assert_eq!(leaver(&deleted), Some(u));
    assert_eq!(
        deleted_label(&deleted),
        Some((ObjectRef::User(u), "ada".into())),
        "the deprovisioning job names who it was"
    );
    for event in [
        LifecycleEvent::UserUpdated { user_id: u },
        LifecycleEvent::UserReactivated { user_id: u },
        LifecycleEvent::MembershipRemoved {
            group_id: GroupId::new(),
            user_id: u,
        },
    ] {
        assert_eq!(leaver(&event), None, "{event:?}");
    }
}

#[test]
fn apps_that_do_not_provision_are_no_targets() {
    assert!(Target::new(app(serde_json::json!({"connector": "scim", "mode": "off"}))).is_none());
    let mut disabled = app(serde_json::json!({"connector": "scim"}));
    let mut settings: usher_core::ApplicationSettings = disabled.spec.clone().into();
    settings.enabled = false;
    disabled.spec = ApplicationSpec::new(settings).expect("valid");
    assert!(Target::new(disabled).is_none());
}

#[test]
fn desired_state_by_user_and_assignment() {
    let t = target(serde_json::json!({"connector": "scim", "deprovision": "delete"}));
    let active = user(true);
    match desired_for(&t, Some(&active), &[], true) {
        Desired::User { record } => {
            assert!(record.active);
            assert_eq!(record.external_id, active.id.to_string());
        }
        other => panic!("assigned and active: {other:?}"),
    }
    match desired_for(&t, Some(&user(false)), &[], true) {
        Desired::User { record } => assert!(!record.active, "assigned, deactivated"),
        other => panic!("assigned and deactivated: {other:?}"),
    }
    let gone = Desired::Absent {
        action: DeprovisionAction::Delete,
    };
    assert_eq!(
        desired_for(&t, Some(&active), &[], false),
        gone,
        "unassigned"
    );
    assert_eq!(desired_for(&t, None, &[], true), gone, "deleted");
    assert_eq!(
        desired_for(&push(), None, &[], false),
        Desired::Absent {
            action: DeprovisionAction::Deactivate
        },
        "the default action"
    );
}

#[test]
fn an_unmappable_user_is_reported_not_skipped() {
    let t =
        target(serde_json::json!({"connector": "scim", "mapping": {"user_name": "{nickname}"}}));
    let desired = desired_for(&t, Some(&user(true)), &[], true);
    let Desired::Unmappable { field, reason } = &desired else {
        panic!("expected unmappable: {desired:?}");
    };
    assert_eq!(field, "user_name");
    assert!(reason.starts_with("mapping.user_name"), "{reason}");
    assert!(
        needs_job(&t, &desired, None, false),
        "the sender reports it"
    );
    assert_eq!(
        desired_for(&t, Some(&user(true)), &[], false),
        t.absent(),
        "unassigned: nothing to map"
    );
}

#[test]
fn jobs_only_where_the_app_would_change() {
    let t = push();
    let account = desired_for(&t, Some(&user(true)), &[], true);
    let inactive = desired_for(&t, Some(&user(false)), &[], true);
    let absent = t.absent();
    // A new assignment creates; an existing account is updated.
    assert!(needs_job(&t, &account, None, false));
    assert!(needs_job(&t, &account, Some(RemoteState::Active), false));
    assert!(
        needs_job(&t, &account, Some(RemoteState::Deleted), false),
        "re-created"
    );
    // No account is made for someone deactivated, but one they have is deactivated.
    assert!(!needs_job(&t, &inactive, None, false));
    assert!(needs_job(&t, &inactive, Some(RemoteState::Active), false));
    // Nothing to deprovision where nothing is held.
    assert!(!needs_job(&t, &absent, None, false));
    assert!(!needs_job(&t, &absent, Some(RemoteState::Deleted), false));
    assert!(!needs_job(
        &t,
        &absent,
        Some(RemoteState::Deactivated),
        false
    ));
    assert!(needs_job(&t, &absent, Some(RemoteState::Active), false));
    let deleting = target(serde_json::json!({"connector": "scim", "deprovision": "delete"}));
    assert!(needs_job(
        &deleting,
        &deleting.absent(),
        Some(RemoteState::Deactivated),
        false
    ));
}

#[test]
fn a_queued_job_always_gets_the_newer_plan() {
    // A create still pending for someone unassigned since must not run.
    let t = push();
    assert!(needs_job(&t, &t.absent(), None, true));
    let inactive = desired_for(&t, Some(&user(false)), &[], true);
    assert!(needs_job(&t, &inactive, None, true));
}

#[test]
fn on_first_sign_in_apps_get_no_account_before_the_first_sign_in() {
    let t = target(serde_json::json!({"connector": "scim", "mode": "on_first_sign_in"}));
    let account = desired_for(&t, Some(&user(true)), &[], true);
    assert!(!needs_job(&t, &account, None, false), "the gate creates it");
    assert!(
        needs_job(&t, &account, Some(RemoteState::Active), false),
        "then updates follow"
    );
    assert!(
        needs_job(&t, &t.absent(), Some(RemoteState::Active), false),
        "and deprovisioning"
    );
}
