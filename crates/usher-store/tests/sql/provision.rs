//! `Directory::provision` (JIT in one transaction) and the provisioning report.

use time::Duration;
use usher_core::jit::{JitOutcome, NewReportEntry, Plan, PlanAction, ReportQuery};
use usher_core::ports::{Directory, Provision, ProvisioningReport};
use usher_core::{
    Error, LifecycleEvent, NewGroup, NewUser, UniqueKey, UpstreamId, UserId, UserUpdate,
};
use usher_store::Database;

use super::harness::{START, clocked, take_events, user_count};

fn corp() -> UpstreamId {
    UpstreamId::parse("corp").expect("id")
}

fn create(username: &str, subject: &str, groups: &[&str]) -> Provision {
    Provision {
        upstream: corp(),
        subject: subject.into(),
        plan: Plan {
            action: PlanAction::Create(
                NewUser::named(username).with_email(format!("{username}@example.com"), true),
            ),
            add_groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            remove_groups: vec![],
        },
        client_ip: Some("192.0.2.1".into()),
    }
}

async fn group_names(store: &usher_store::SqlStore, user: UserId) -> Vec<String> {
    store
        .groups_of(user)
        .await
        .expect("groups")
        .into_iter()
        .map(|g| g.name)
        .collect()
}

pub async fn provisioning_creates_user_link_groups_report_and_events_together(db: Database) {
    let (store, _) = clocked(&db);
    let staff = store
        .create_group(NewGroup::named("staff"))
        .await
        .expect("g");
    take_events(&store).await;

    let (user, outcome) = store
        .provision(create("alice", "sub-1", &["staff", "engineering"]))
        .await
        .expect("provisioned")
        .expect("active");
    assert_eq!(outcome, JitOutcome::Created);
    assert_eq!(user.username, "alice");
    let linked = store.find_user_by_link(&corp(), "sub-1").await.expect("q");
    assert_eq!(linked.map(|u| u.id), Some(user.id));
    assert_eq!(group_names(&store, user.id).await, ["engineering", "staff"]);
    let engineering = store
        .find_group_by_name("engineering")
        .await
        .expect("q")
        .expect("created");
    let events = take_events(&store).await;
    assert_eq!(
        events,
        [
            LifecycleEvent::UserCreated { user_id: user.id },
            LifecycleEvent::MembershipAdded {
                group_id: staff.id,
                user_id: user.id
            },
            LifecycleEvent::GroupCreated {
                group_id: engineering.id
            },
            LifecycleEvent::MembershipAdded {
                group_id: engineering.id,
                user_id: user.id
            },
        ]
    );
    let rows = store
        .query(&ReportQuery {
            user: Some(user.id),
            limit: 10,
            ..ReportQuery::default()
        })
        .await
        .expect("report");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].outcome, JitOutcome::Created);
    assert_eq!(rows[0].subject, "sub-1");
    assert_eq!(rows[0].client_ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(rows[0].at, START);
}

pub async fn failed_provisioning_leaves_no_half_created_user(db: Database) {
    let (store, _) = clocked(&db);
    store
        .provision(create("alice", "sub-1", &[]))
        .await
        .expect("ok")
        .expect("active");
    take_events(&store).await;
    let rows_before = store.query(&ReportQuery::default()).await.expect("q").len();

    // The subject is already linked: the user insert, the new group and the
    // membership that came before the link's failure are all rolled back.
    let err = store
        .provision(create("bob", "sub-1", &["fresh-group"]))
        .await
        .expect_err("conflict");
    assert!(
        matches!(err, Error::Conflict(UniqueKey::IdentityLink)),
        "{err:?}"
    );
    // A taken username: nothing either.
    let err = store
        .provision(create("ALICE", "sub-2", &["fresh-group"]))
        .await
        .expect_err("conflict");
    assert!(
        matches!(err, Error::Conflict(UniqueKey::Username)),
        "{err:?}"
    );
    // A group name usher refuses, after the user and link were written.
    let err = store
        .provision(create("carol", "sub-3", &["bad\u{0}name"]))
        .await
        .expect_err("invalid");
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");

    assert_eq!(user_count(&store).await, 1);
    assert!(
        store
            .find_user_by_username("bob")
            .await
            .expect("q")
            .is_none()
    );
    assert!(
        store
            .find_user_by_username("carol")
            .await
            .expect("q")
            .is_none()
    );
    assert!(
        store
            .find_user_by_link(&corp(), "sub-3")
            .await
            .expect("q")
            .is_none()
    );
    assert!(
        store
            .find_group_by_name("fresh-group")
            .await
            .expect("q")
            .is_none()
    );
    assert!(take_events(&store).await.is_empty());
    assert_eq!(
        store.query(&ReportQuery::default()).await.expect("q").len(),
        rows_before
    );
}

pub async fn force_sync_and_deactivated_users(db: Database) {
    let (store, clock) = clocked(&db);
    let (user, _) = store
        .provision(create("alice", "sub-1", &["staff", "legacy"]))
        .await
        .expect("ok")
        .expect("active");
    take_events(&store).await;
    clock.advance(Duration::minutes(1));

    // A later sign-in that changes nothing is reported as signed_in, no events.
    let sign_in = |update: UserUpdate, add: &[&str], remove: &[&str]| Provision {
        upstream: corp(),
        subject: "sub-1".into(),
        plan: Plan {
            action: PlanAction::SignIn {
                user: user.id,
                update,
            },
            add_groups: add.iter().map(|g| (*g).to_owned()).collect(),
            remove_groups: remove.iter().map(|g| (*g).to_owned()).collect(),
        },
        client_ip: None,
    };
    let (_, outcome) = store
        .provision(sign_in(UserUpdate::default(), &[], &[]))
        .await
        .expect("ok")
        .expect("active");
    assert_eq!(outcome, JitOutcome::SignedIn);
    assert!(take_events(&store).await.is_empty());

    // Force: a new display name, one group left.
    let update = UserUpdate {
        display_name: Some(Some("Alice E.".into())),
        ..UserUpdate::default()
    };
    let (after, outcome) = store
        .provision(sign_in(update, &[], &["legacy"]))
        .await
        .expect("ok")
        .expect("active");
    assert_eq!(outcome, JitOutcome::Updated);
    assert_eq!(after.display_name.as_deref(), Some("Alice E."));
    assert_eq!(group_names(&store, user.id).await, ["staff"]);
    let events = take_events(&store).await;
    assert!(
        matches!(events[0], LifecycleEvent::UserUpdated { .. }),
        "{events:?}"
    );
    assert!(
        matches!(events[1], LifecycleEvent::MembershipRemoved { .. }),
        "{events:?}"
    );

    // Deactivated: nothing written, not even the sign-in time.
    store
        .update_user(
            user.id,
            UserUpdate {
                active: Some(false),
                ..UserUpdate::default()
            },
        )
        .await
        .expect("deactivated");
    take_events(&store).await;
    let rows_before = store.query(&ReportQuery::default()).await.expect("q").len();
    let outcome = store
        .provision(sign_in(UserUpdate::default(), &["new-group"], &[]))
        .await
        .expect("ok");
    assert!(outcome.is_none());
    assert!(take_events(&store).await.is_empty());
    assert!(
        store
            .find_group_by_name("new-group")
            .await
            .expect("q")
            .is_none()
    );
    assert_eq!(
        store.query(&ReportQuery::default()).await.expect("q").len(),
        rows_before
    );
}

pub async fn report_queries_by_user_upstream_and_time(db: Database) {
    let (store, clock) = clocked(&db);
    let other = UpstreamId::parse("partner").expect("id");
    let (user, _) = store
        .provision(create("alice", "sub-1", &[]))
        .await
        .expect("ok")
        .expect("active");
    clock.advance(Duration::hours(1));
    store
        .record(NewReportEntry {
            upstream: other.clone(),
            subject: "x".repeat(5000),
            user_id: None,
            outcome: JitOutcome::Denied,
            reason: Some("network: outside the allowed networks".into()),
            client_ip: Some("198.51.100.9".into()),
        })
        .await
        .expect("recorded");

    let all = store.query(&ReportQuery::default()).await.expect("q");
    assert_eq!(all.len(), 2);
    assert!(all[1].subject.len() <= 1024, "oversized subjects are cut");
    let by_upstream = store
        .query(&ReportQuery {
            upstream: Some(other),
            ..ReportQuery::default()
        })
        .await
        .expect("q");
    assert_eq!(by_upstream.len(), 1);
    assert_eq!(by_upstream[0].outcome, JitOutcome::Denied);
    let by_user = store
        .query(&ReportQuery {
            user: Some(user.id),
            ..ReportQuery::default()
        })
        .await
        .expect("q");
    assert_eq!(by_user.len(), 1);
    let window = store
        .query(&ReportQuery {
            since: Some(START + Duration::minutes(30)),
            until: Some(START + Duration::hours(2)),
            ..ReportQuery::default()
        })
        .await
        .expect("q");
    assert_eq!(window.len(), 1);
    assert_eq!(window[0].outcome, JitOutcome::Denied);
    let before = store
        .query(&ReportQuery {
            until: Some(START + Duration::minutes(30)),
            ..ReportQuery::default()
        })
        .await
        .expect("q");
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].outcome, JitOutcome::Created);
}

/// Issue 6 item 7: a user pushed by SCIM (externalId = the upstream's object id)
/// who then signs in through that upstream is linked, not duplicated; issue 10
/// item 3: only by a rule scoped to the SCIM client that pushed the user.
pub async fn scim_user_is_linked_by_external_id_on_first_upstream_sign_in(db: Database) {
    use std::sync::Arc;
    use usher_core::jit::{ExternalIdLink, JitPolicy, Provisioned, Provisioner, Template};
    use usher_core::{ExternalIdentity, UpstreamKind};

    let (store, _) = clocked(&db);
    let mut new = NewUser::named("alice").with_email("alice@example.com", true);
    new.external_id = Some("oid-a11c".into());
    new.provisioned_by = Some("entra".into());
    let pushed = store
        .provision_user(new, "scim:entra")
        .await
        .expect("pushed by SCIM");
    let before = user_count(&store).await;

    let store = Arc::new(store);
    let provisioner = Provisioner::new(store.clone(), store.clone());
    let scoped = |client: &str| JitPolicy {
        link_by_external_id: Some(
            ExternalIdLink::new(Template::parse("{oid}").expect("template"), client).expect("rule"),
        ),
        ..JitPolicy::default()
    };
    let policy = scoped("entra");
    let attributes = serde_json::json!({
        "preferred_username": "alice.entra",
        "email": "alice@example.com",
        "oid": "oid-a11c",
    });
    let identity = ExternalIdentity {
        upstream: corp(),
        kind: UpstreamKind::Oidc,
        subject: "entra-sub-1".into(),
        email: Some("alice@example.com".into()),
        // Unverified: the external id alone decides, never the address.
        email_verified: false,
        attributes: attributes.as_object().cloned().expect("object"),
        authn_methods: vec![],
        upstream_session: None,
    };
    // A rule scoped to another SCIM client does not reach Entra's user (and the
    // address alone does not link: email_taken).
    let other_source = provisioner
        .run(&scoped("partner-scim"), true, &identity, None)
        .await
        .expect("ran");
    assert!(
        matches!(&other_source, Provisioned::Denied(d) if d.code == "email_taken"),
        "{other_source:?}"
    );
    let outcome = provisioner
        .run(&policy, true, &identity, None)
        .await
        .expect("ran");
    let Provisioned::SignIn { user, outcome } = outcome else {
        panic!("denied: {outcome:?}")
    };
    assert_eq!(user.id, pushed.id);
    assert_eq!(outcome, JitOutcome::Linked);
    assert_eq!(user_count(&store).await, before, "no second account");
    let linked = store
        .find_user_by_link(&corp(), "entra-sub-1")
        .await
        .expect("query");
    assert_eq!(linked.map(|u| u.id), Some(pushed.id));

    // A second identity of the same upstream presenting the same id does not
    // take the linked account over.
    let other = ExternalIdentity {
        subject: "entra-sub-2".into(),
        ..identity
    };
    let hijack = provisioner
        .run(&policy, true, &other, None)
        .await
        .expect("ran");
    assert!(matches!(hijack, Provisioned::Denied(_)), "{hijack:?}");

    // Without the rule the identity would not link either: email_taken.
    let denied = provisioner
        .run(&JitPolicy::default(), true, &other, None)
        .await
        .expect("ran");
    assert!(matches!(denied, Provisioned::Denied(d) if d.code == "email_taken"));
}
