//! The planner on real storage: events in the outbox become the jobs the
//! assignment calls for, with the leaver's sessions ended first.

use std::sync::atomic::Ordering;

use usher_core::outbound::{DeprovisionAction, ObjectRef};
use usher_core::ports::{Directory, Leases, Outbox};
use usher_core::{Assignment, NewGroup, NewUser, UserUpdate};
use usher_provisioning::Desired;
use usher_provisioning::planner::PLANNER_LEASE;
use usher_store::Database;

use super::harness::{World, raw_execute, scim};

fn groups(ids: &[usher_core::GroupId]) -> Assignment {
    Assignment {
        groups: ids.iter().copied().collect(),
        ..Assignment::default()
    }
}

fn everyone() -> Assignment {
    Assignment {
        everyone: true,
        ..Assignment::default()
    }
}

pub async fn joining_an_assigned_group_plans_one_account_and_leaving_takes_it_back(db: Database) {
    let w = World::new(&db);
    let crm_users = w
        .store
        .create_group(NewGroup::named("crm-users"))
        .await
        .expect("group");
    let apps = w.apps(vec![("crm", scim(), groups(&[crm_users.id]))]).await;
    let crm = &apps[0];
    let ada = w
        .store
        .create_user(NewUser::named("ada"))
        .await
        .expect("user");
    w.plan().await;
    assert!(
        w.jobs(crm).await.is_empty(),
        "not assigned yet: nothing to send"
    );

    w.store
        .add_member(crm_users.id, ada.id)
        .await
        .expect("joins");
    w.plan().await;
    let jobs = w.jobs(crm).await;
    let [(job, Desired::User { record })] = &jobs[..] else {
        panic!("one account job: {jobs:?}");
    };
    assert_eq!(job.object, ObjectRef::User(ada.id));
    assert_eq!(job.cause, "membership_added");
    assert_eq!(job.label, "ada");
    assert_eq!(record.user_name, "ada");
    assert_eq!(record.external_id, ada.id.to_string());
    assert!(record.active);

    // Leaving before the create went out: the pending job gets the newer plan.
    w.store
        .remove_member(crm_users.id, ada.id)
        .await
        .expect("leaves");
    w.plan().await;
    let jobs = w.jobs(crm).await;
    let [(job, desired)] = &jobs[..] else {
        panic!("still one job for the object: {jobs:?}");
    };
    assert_eq!(job.cause, "membership_removed");
    assert_eq!(
        desired,
        &Desired::Absent {
            action: DeprovisionAction::Deactivate
        }
    );
    assert!(w.store.unprocessed(0, 100).await.expect("reads").is_empty());
}

pub async fn deactivation_ends_sessions_then_plans_an_inactive_account(db: Database) {
    let w = World::new(&db);
    let ada = w
        .store
        .create_user(NewUser::named("ada"))
        .await
        .expect("user");
    let apps = w.apps(vec![("crm", scim(), everyone())]).await;
    w.plan().await;
    let (secret, _) = w
        .sessions
        .create(ada.id, vec!["pwd".into()], None)
        .await
        .expect("signed in");

    w.store
        .update_user(
            ada.id,
            UserUpdate {
                active: Some(false),
                ..UserUpdate::default()
            },
        )
        .await
        .expect("deactivated");
    w.plan().await;
    assert!(
        w.sessions.get(&secret).await.expect("reads").is_none(),
        "the leaver's session ended"
    );
    let jobs = w.jobs(&apps[0]).await;
    let [(job, Desired::User { record })] = &jobs[..] else {
        panic!("one account job: {jobs:?}");
    };
    assert_eq!(job.cause, "user_deactivated");
    assert!(
        !record.active,
        "deactivated, not deleted: the user may come back"
    );
}

pub async fn a_failing_session_step_leaves_the_batch_for_the_next_round(db: Database) {
    let w = World::new(&db);
    let ada = w
        .store
        .create_user(NewUser::named("ada"))
        .await
        .expect("user");
    let apps = w.apps(vec![("crm", scim(), everyone())]).await;
    w.plan().await;
    let (secret, _) = w
        .sessions
        .create(ada.id, vec!["pwd".into()], None)
        .await
        .expect("signed in");
    let jobs_before = w.jobs(&apps[0]).await.len();

    w.leaver.failing.store(true, Ordering::SeqCst);
    w.store.delete_user(ada.id).await.expect("deleted");
    assert!(w.planner.run_once().await.is_err(), "the round fails");
    let left = w.store.unprocessed(0, 100).await.expect("reads");
    assert!(!left.is_empty(), "nothing marked: the leaver is retried");
    assert_eq!(
        w.jobs(&apps[0]).await.len(),
        jobs_before,
        "and nothing planned"
    );
    assert!(w.sessions.get(&secret).await.expect("reads").is_some());

    w.leaver.failing.store(false, Ordering::SeqCst);
    w.plan().await;
    assert!(w.sessions.get(&secret).await.expect("reads").is_none());
    assert!(w.store.unprocessed(0, 100).await.expect("reads").is_empty());
    let jobs = w.jobs(&apps[0]).await;
    let [(job, desired)] = &jobs[..] else {
        panic!("one job: {jobs:?}");
    };
    assert_eq!(job.label, "ada", "named from the delete's snapshot");
    assert!(matches!(desired, Desired::Absent { .. }), "{desired:?}");
}

pub async fn an_application_change_syncs_everyone_assigned(db: Database) {
    let w = World::new(&db);
    let mut users = Vec::new();
    for name in ["ada", "bob", "cy"] {
        users.push(
            w.store
                .create_user(NewUser::named(name))
                .await
                .expect("user"),
        );
    }
    w.plan().await;
    let apps = w.apps(vec![("crm", scim(), everyone())]).await;
    w.plan().await;
    let jobs = w.jobs(&apps[0]).await;
    assert_eq!(jobs.len(), 3, "{jobs:?}");
    for (job, desired) in &jobs {
        assert_eq!(job.cause, "application_changed");
        assert!(matches!(desired, Desired::User { .. }));
    }
    // Switched off: usher stops, and plans nothing more for it.
    w.apps(vec![(
        "crm",
        serde_json::json!({"connector": "scim", "mode": "off"}),
        everyone(),
    )])
    .await;
    w.store
        .update_user(
            users[0].id,
            UserUpdate {
                display_name: Some(Some("Ada".into())),
                ..UserUpdate::default()
            },
        )
        .await
        .expect("updated");
    w.plan().await;
    let still = w.jobs(&apps[0]).await;
    assert!(
        still.iter().all(|(j, _)| j.cause == "application_changed"),
        "nothing planned after the switch-off: {still:?}"
    );
}

pub async fn repeated_changes_coalesce_into_the_latest_state(db: Database) {
    let w = World::new(&db);
    let ada = w
        .store
        .create_user(NewUser::named("ada"))
        .await
        .expect("user");
    let apps = w.apps(vec![("crm", scim(), everyone())]).await;
    w.plan().await;
    for (round, name) in ["Ada", "Ada L.", "Ada Lovelace"].iter().enumerate() {
        w.store
            .update_user(
                ada.id,
                UserUpdate {
                    display_name: Some(Some((*name).into())),
                    ..UserUpdate::default()
                },
            )
            .await
            .expect("updated");
        if round == 1 {
            w.plan().await;
        }
    }
    w.plan().await;
    let jobs = w.jobs(&apps[0]).await;
    let [(_, Desired::User { record })] = &jobs[..] else {
        panic!("one job for the person: {jobs:?}");
    };
    assert_eq!(record.display_name.as_deref(), Some("Ada Lovelace"));
}

pub async fn an_unreadable_event_is_marked_and_counted_not_fatal(db: Database) {
    let w = World::new(&db);
    let apps = w.apps(vec![("crm", scim(), everyone())]).await;
    w.plan().await;
    w.store
        .create_user(NewUser::named("ada"))
        .await
        .expect("user");
    let bob = w
        .store
        .create_user(NewUser::named("bob"))
        .await
        .expect("user");
    let rows = w.store.unprocessed(0, 10).await.expect("reads");
    raw_execute(
        &db,
        &format!(
            "UPDATE outbox_events SET payload = '{{\"type\": \"garbled\"}}' WHERE id = {}",
            rows[0].id
        ),
    )
    .await;
    assert_eq!(w.plan().await, 2);
    assert_eq!(w.planner.unreadable_events(), 1);
    let jobs = w.jobs(&apps[0]).await;
    let [(job, _)] = &jobs[..] else {
        panic!("bob's job only: {jobs:?}");
    };
    assert_eq!(job.object, ObjectRef::User(bob.id));
}

pub async fn another_instance_holding_the_lease_plans_nothing(db: Database) {
    let w = World::new(&db);
    w.apps(vec![("crm", scim(), everyone())]).await;
    w.store
        .acquire(
            PLANNER_LEASE,
            "other-instance",
            std::time::Duration::from_secs(60),
        )
        .await
        .expect("taken");
    w.store
        .create_user(NewUser::named("ada"))
        .await
        .expect("user");
    assert_eq!(w.planner.run_once().await.expect("round"), 0);
    assert!(!w.store.unprocessed(0, 10).await.expect("reads").is_empty());
}
