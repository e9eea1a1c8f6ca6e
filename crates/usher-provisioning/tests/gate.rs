//! The sign-in gates on real storage: assignment decides who may sign in, and an
//! `on_first_sign_in` app gets the account asked for (and briefly awaited) first.

use std::sync::Arc;
use std::time::{Duration, Instant};

use usher_core::outbound::{Attempt, AttemptResult, ObjectRef, RemoteChange, RemoteState};
use usher_core::ports::{Admission, AppGate, Directory, Jobs};
use usher_core::{Assignment, AssignmentGate, NewUser, SignIn, UserUpdate};
use usher_provisioning::{Desired, FIRST_SIGN_IN, FirstSignInGate};
use usher_store::Database;

use super::harness::{World, app};

fn oidc(client_id: &str) -> SignIn {
    SignIn::Oidc {
        client_id: client_id.into(),
    }
}

pub async fn unassigned_users_are_refused_naming_the_app(db: Database) {
    let w = World::new(&db);
    let ada = w
        .store
        .create_user(NewUser::named("ada"))
        .await
        .expect("user");
    let bob = w
        .store
        .create_user(NewUser::named("bob"))
        .await
        .expect("user");
    w.apps_with(vec![app(
        "wiki",
        Some(oidc("wiki")),
        None,
        Assignment {
            users: [ada.id].into(),
            ..Assignment::default()
        },
    )])
    .await;
    let gate = AssignmentGate::new(Arc::new(w.store.clone()));
    assert_eq!(
        gate.admit(&oidc("legacy"), &bob).await.expect("decides"),
        Admission::Allowed,
        "a client no app names is open, as before apps"
    );
    assert_eq!(
        gate.admit(&oidc("wiki"), &ada).await.expect("decides"),
        Admission::Allowed
    );
    let refused = Admission::NotAssigned {
        app: "wiki (display)".into(),
    };
    assert_eq!(
        gate.admit(&oidc("wiki"), &bob).await.expect("decides"),
        refused
    );
    let ada = w
        .store
        .update_user(
            ada.id,
            UserUpdate {
                active: Some(false),
                ..UserUpdate::default()
            },
        )
        .await
        .expect("deactivated");
    assert_eq!(
        gate.admit(&oidc("wiki"), &ada).await.expect("decides"),
        refused,
        "a session outliving a deactivation opens no app"
    );
}

pub async fn a_first_sign_in_enqueues_the_account_and_admits_after_the_wait(db: Database) {
    let w = World::new(&db);
    let ada = w
        .store
        .create_user(NewUser::named("ada"))
        .await
        .expect("user");
    let apps = w
        .apps_with(vec![app(
            "crm",
            Some(oidc("crm")),
            Some(serde_json::json!({
                "connector": "scim",
                "mode": "on_first_sign_in",
                "first_sign_in_wait_ms": 300,
            })),
            Assignment {
                everyone: true,
                ..Assignment::default()
            },
        )])
        .await;
    let crm = apps[0].clone();
    w.plan().await;
    assert!(
        w.jobs(&crm).await.is_empty(),
        "no account before the first sign-in"
    );
    let store = Arc::new(w.store.clone());
    let gate = FirstSignInGate::new(
        AssignmentGate::new(store.clone()),
        store.clone(),
        store.clone(),
        store.clone(),
        w.clock.clone(),
    );

    // No sender runs: the sign-in waits its bound, then goes on.
    let started = Instant::now();
    assert_eq!(
        gate.admit(&oidc("crm"), &ada).await.expect("decides"),
        Admission::Allowed
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    let jobs = w.jobs(&crm).await;
    let [(job, Desired::User { record })] = &jobs[..] else {
        panic!("the account's job: {jobs:?}");
    };
    assert_eq!(job.cause, FIRST_SIGN_IN);
    assert_eq!(record.user_name, "ada");

    // A sender that makes the account while the sign-in waits lets it go at once.
    let sender = {
        let store = store.clone();
        let app = crm.id;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let claimed = store
                .claim(app, "sender", Duration::from_secs(30), 10)
                .await
                .expect("claims");
            for job in claimed {
                let report = Attempt {
                    app,
                    object: job.object,
                    label: job.label.clone(),
                    operation: "create".into(),
                    result: AttemptResult::Success,
                    remote_code: None,
                    message: None,
                    http_status: Some(201),
                    duration_ms: 1,
                    attempt: job.attempts,
                };
                let remote = RemoteChange::Upsert {
                    remote_id: "remote-1".into(),
                    state: RemoteState::Active,
                    pushed: job.desired.clone(),
                    digest: "d".into(),
                };
                assert!(
                    store
                        .complete(job.id, "sender", Some(remote), report)
                        .await
                        .expect("completes")
                );
            }
        })
    };
    let slow = FirstSignInGate::new(
        AssignmentGate::new(store.clone()),
        store.clone(),
        store.clone(),
        store.clone(),
        w.clock.clone(),
    );
    w.apps_with(vec![app(
        "crm",
        Some(oidc("crm")),
        Some(serde_json::json!({
            "connector": "scim",
            "mode": "on_first_sign_in",
            "first_sign_in_wait_ms": 10000,
        })),
        Assignment {
            everyone: true,
            ..Assignment::default()
        },
    )])
    .await;
    let started = Instant::now();
    assert_eq!(
        slow.admit(&oidc("crm"), &ada).await.expect("decides"),
        Admission::Allowed
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "admitted when the account appeared, not at the bound"
    );
    sender.await.expect("the sender ran");
    assert!(
        store
            .jobs_of(ObjectRef::User(ada.id))
            .await
            .expect("reads")
            .is_empty(),
        "the account is made: no job left"
    );
    // With the account there, a sign-in asks for nothing.
    let started = Instant::now();
    slow.admit(&oidc("crm"), &ada).await.expect("decides");
    assert!(started.elapsed() < Duration::from_millis(300));
    assert!(w.jobs(&crm).await.is_empty());
}
