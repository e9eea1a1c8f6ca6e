//! The outbox as its consumer sees it: each write door's subject and actor, the
//! split group events, a user's delete announcing its memberships, snapshots,
//! pruning, and rows of the first shape carried through the migration.

use migrations::MigratorTrait;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, Func, Query};
use time::Duration;
use usher_core::jit::{Plan, PlanAction};
use usher_core::ports::{Directory, Outbox, Provision};
use usher_core::{
    GroupChange, GroupSnapshot, GroupUpdate, LifecycleEvent, NewGroup, NewUser, OutboxEvent,
    SCHEMA_VERSION, Subject, UpstreamId, UserSnapshot,
};
use usher_store::Database;
use uuid::Uuid;

use super::harness::{START, clocked, raw, take_events};

/// Every unprocessed event, marked processed.
async fn take(store: &usher_store::SqlStore) -> Vec<OutboxEvent> {
    let events = store.unprocessed(0, 1000).await.expect("outbox reads");
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    store.mark_processed(&ids).await.expect("outbox marks");
    events
}

/// `(kind, actor)` of each event, in order.
fn kinds_and_actors(events: &[OutboxEvent]) -> Vec<(&'static str, &str)> {
    events
        .iter()
        .map(|e| (e.event.kind(), e.actor.as_str()))
        .collect()
}

pub async fn each_write_door_names_its_subject_and_actor(db: Database) {
    let (store, _) = clocked(&db);
    let plain = store
        .create_user(NewUser::named("plain"))
        .await
        .expect("plain");
    let scim = store
        .provision_user(NewUser::named("pushed"), "scim:entra")
        .await
        .expect("SCIM user");
    let events = take(&store).await;
    assert_eq!(
        kinds_and_actors(&events),
        [("user_created", "system"), ("user_created", "scim:entra")]
    );
    assert_eq!(events[0].subject, Subject::User(plain.id));
    assert_eq!(events[1].subject, Subject::User(scim.id));
    assert!(events.iter().all(|e| e.schema_version == SCHEMA_VERSION));

    // JIT: every event of the plan (user, new group, membership) names the upstream.
    let corp = UpstreamId::parse("corp").expect("id");
    let (jit, _) = store
        .provision(Provision {
            upstream: corp,
            subject: "sub-1".into(),
            plan: Plan {
                action: PlanAction::Create(NewUser::named("jit")),
                add_groups: vec!["staff".into()],
                remove_groups: vec![],
            },
            client_ip: None,
        })
        .await
        .expect("provisioned")
        .expect("active");
    let staff = store
        .find_group_by_name("staff")
        .await
        .expect("q")
        .expect("created");
    let events = take(&store).await;
    assert_eq!(
        kinds_and_actors(&events),
        [
            ("user_created", "jit:corp"),
            ("group_created", "jit:corp"),
            ("membership_added", "jit:corp"),
        ]
    );
    assert_eq!(events[1].subject, Subject::Group(staff.id));
    assert_eq!(
        events[2].subject,
        Subject::User(jit.id),
        "a membership is about its user"
    );

    // SCIM group writes carry the client; the plain doors `system`.
    store
        .change_group(
            staff.id,
            GroupChange {
                add: vec![scim.id],
                ..GroupChange::default()
            },
            None,
            "scim:okta",
        )
        .await
        .expect("changed");
    store.add_member(staff.id, plain.id).await.expect("added");
    assert_eq!(
        kinds_and_actors(&take(&store).await),
        [
            ("membership_added", "scim:okta"),
            ("membership_added", "system")
        ]
    );
}

pub async fn group_events_are_split_and_a_delete_carries_its_snapshot(db: Database) {
    let (store, _) = clocked(&db);
    let member = store.create_user(NewUser::named("m")).await.expect("user");
    let group = store
        .provision_group(
            NewGroup {
                external_id: Some("ext-7".into()),
                display_name: Some("The Team".into()),
                ..NewGroup::named("team")
            },
            &[member.id],
            "scim:entra",
        )
        .await
        .expect("group");
    let events = take(&store).await;
    assert_eq!(
        kinds_and_actors(&events)[1..],
        [
            ("group_created", "scim:entra"),
            ("membership_added", "scim:entra")
        ]
    );

    let rename = GroupUpdate {
        name: Some("crew".into()),
        ..GroupUpdate::default()
    };
    store.update_group(group.id, rename).await.expect("renamed");
    assert_eq!(
        take_events(&store).await,
        [LifecycleEvent::GroupUpdated { group_id: group.id }]
    );
    let change = GroupChange {
        update: GroupUpdate {
            display_name: Some(Some("The Crew".into())),
            ..GroupUpdate::default()
        },
        ..GroupChange::default()
    };
    store
        .change_group(group.id, change, None, "scim:entra")
        .await
        .expect("changed");
    let events = take(&store).await;
    assert_eq!(kinds_and_actors(&events), [("group_updated", "scim:entra")]);

    store
        .remove_group(group.id, None, "scim:entra")
        .await
        .expect("deleted");
    let events = take(&store).await;
    assert_eq!(
        events.iter().map(|e| e.event.clone()).collect::<Vec<_>>(),
        [
            LifecycleEvent::MembershipRemoved {
                group_id: group.id,
                user_id: member.id,
            },
            LifecycleEvent::GroupDeleted {
                group_id: group.id,
                snapshot: GroupSnapshot {
                    name: "crew".into(),
                    display_name: Some("The Crew".into()),
                    external_id: Some("ext-7".into()),
                },
            },
        ]
    );
    assert!(events.iter().all(|e| e.actor == "scim:entra"));
}

pub async fn deleting_a_user_announces_its_memberships_then_its_snapshot(db: Database) {
    let (store, _) = clocked(&db);
    let user = store
        .provision_user(
            NewUser {
                display_name: Some("Alice Liddell".into()),
                external_id: Some("e-1".into()),
                ..NewUser::named("alice")
                    .with_email("alice@example.test", true)
                    .with_email("al@example.test", false)
            },
            "scim:entra",
        )
        .await
        .expect("user");
    let mut groups = Vec::new();
    for name in ["b-team", "a-team"] {
        let g = store
            .create_group(NewGroup::named(name))
            .await
            .expect("group");
        store.add_member(g.id, user.id).await.expect("added");
        groups.push(g);
    }
    groups.sort_by_key(|g| g.id);
    take_events(&store).await;

    store
        .remove_user(user.id, Some(user.version), "scim:entra")
        .await
        .expect("deleted");
    let events = take(&store).await;
    let mut expected: Vec<LifecycleEvent> = groups
        .iter()
        .map(|g| LifecycleEvent::MembershipRemoved {
            group_id: g.id,
            user_id: user.id,
        })
        .collect();
    expected.push(LifecycleEvent::UserDeleted {
        user_id: user.id,
        snapshot: UserSnapshot {
            username: "alice".into(),
            display_name: Some("Alice Liddell".into()),
            external_id: Some("e-1".into()),
            emails: vec!["alice@example.test".into(), "al@example.test".into()],
        },
    });
    assert_eq!(
        events.iter().map(|e| e.event.clone()).collect::<Vec<_>>(),
        expected
    );
    assert!(events.iter().all(|e| e.actor == "scim:entra"));
    assert!(events.iter().all(|e| e.subject == Subject::User(user.id)));
    // The groups' member lists changed, so their ETags moved.
    for g in &groups {
        let now = store.get_group(g.id).await.expect("group stays");
        assert_eq!(now.version, g.version + 2, "joined, then the member left");
    }
}

pub async fn pruning_keeps_unprocessed_and_recent_events(db: Database) {
    let (store, clock) = clocked(&db);
    for name in ["old", "recent", "pending"] {
        store.create_user(NewUser::named(name)).await.expect("user");
    }
    let all = store.unprocessed(0, 10).await.expect("read");
    let [old, recent, pending] = [all[0].id, all[1].id, all[2].id];
    store.mark_processed(&[old]).await.expect("marked");
    clock.advance(Duration::days(3));
    store.mark_processed(&[recent]).await.expect("marked");
    clock.advance(Duration::days(10));

    // Retention of a week: `old` was handled 13 days ago, `recent` 10 days ago.
    let cutoff = START + Duration::days(1);
    assert_eq!(store.prune_processed(cutoff).await.expect("pruned"), 1);
    assert_eq!(
        store.prune_processed(cutoff).await.expect("again"),
        0,
        "idempotent"
    );
    let left = store.unprocessed(0, 10).await.expect("read");
    assert_eq!(left.iter().map(|e| e.id).collect::<Vec<_>>(), [pending]);
    // A cutoff in the future takes every processed event, and still no pending one.
    let far = START + Duration::days(365);
    assert_eq!(store.prune_processed(far).await.expect("pruned"), 1);
    assert_eq!(store.unprocessed(0, 10).await.expect("read").len(), 1);

    // More than one batch (1,000 rows) goes in one call.
    for i in 0..1_100 {
        store
            .create_user(NewUser::named(format!("bulk-{i}")))
            .await
            .expect("user");
    }
    take_events(&store).await;
    take_events(&store).await;
    assert!(store.unprocessed(0, 10).await.expect("read").is_empty());
    assert_eq!(store.prune_processed(far).await.expect("pruned"), 1_101);
}

/// Starts from an empty database migrated up to just before the outbox's
/// subjects, as a deployment of the previous version is, with rows of the first
/// shape in its outbox.
pub async fn rows_of_the_first_shape_migrate(db: Database) {
    let conn = raw(&db).await;
    let before = migrations::Migrator::get_migration_files()
        .iter()
        .position(|m| m.name() == "m20261201_000002_outbox_subjects")
        .expect("the migration is listed");
    migrations::Migrator::up(&conn, Some(u32::try_from(before).expect("few")))
        .await
        .expect("older migrations run");

    let user = Uuid::now_v7();
    let group = Uuid::now_v7();
    let old_rows = [
        (
            "membership_added",
            format!(r#"{{"type":"membership_added","group_id":"{group}","user_id":"{user}"}}"#),
            None,
        ),
        (
            "group_changed",
            format!(r#"{{"type":"group_changed","group_id":"{group}"}}"#),
            Some(START),
        ),
        (
            "user_created",
            r#"{"type":"user_created"}"#.to_owned(),
            None,
        ),
    ];
    for (kind, payload, processed_at) in old_rows {
        let payload: serde_json::Value = serde_json::from_str(&payload).expect("JSON");
        conn.execute(
            Query::insert()
                .into_table(Alias::new("outbox_events"))
                .columns([
                    Alias::new("kind"),
                    Alias::new("payload"),
                    Alias::new("occurred_at"),
                    Alias::new("processed_at"),
                ])
                .values_panic([
                    kind.into(),
                    payload.into(),
                    START.into(),
                    processed_at.into(),
                ]),
        )
        .await
        .expect("old row");
    }

    db.migrate().await.expect("the rest migrates");
    // A new connection: on SQLite, one that read the schema before another
    // connection's ALTER TABLE reports the added columns by their quoted names.
    let conn = raw(&db).await;
    let rows = conn
        .query_all(
            Query::select()
                .columns([
                    Alias::new("subject_kind"),
                    Alias::new("subject_id"),
                    Alias::new("actor"),
                    Alias::new("schema_version"),
                    Alias::new("processed_at"),
                ])
                .from(Alias::new("outbox_events"))
                .order_by(Alias::new("id"), sea_orm::Order::Asc),
        )
        .await
        .expect("read back");
    let read: Vec<MigratedRow> = rows
        .iter()
        .map(|r| {
            let processed: Option<time::OffsetDateTime> =
                r.try_get("", "processed_at").expect("processed_at");
            (
                r.try_get("", "subject_kind").expect("subject_kind"),
                r.try_get("", "subject_id").expect("subject_id"),
                r.try_get("", "actor").expect("actor"),
                r.try_get("", "schema_version").expect("schema_version"),
                processed.is_some(),
            )
        })
        .collect();
    assert_eq!(
        read,
        [
            (Some("user".into()), Some(user), "system".into(), 1, true),
            (Some("group".into()), Some(group), "system".into(), 1, true),
            (None, None, "system".into(), 1, true),
        ],
        "subjects derived, all marked processed"
    );

    // The consumer sees none of them, and new events as usual.
    let (store, clock) = clocked(&db);
    assert!(store.unprocessed(0, 10).await.expect("read").is_empty());
    let alice = store.create_user(NewUser::named("alice")).await.expect("u");
    let events = take(&store).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].subject, Subject::User(alice.id));
    // And they age out with the rest.
    clock.advance(Duration::days(400));
    let pruned = store
        .prune_processed(START + Duration::days(399))
        .await
        .expect("pruned");
    assert_eq!(pruned, 4);
    let left = conn
        .query_one(
            Query::select()
                .expr(Func::count(Expr::col(Alias::new("id"))))
                .from(Alias::new("outbox_events")),
        )
        .await
        .expect("count")
        .expect("a row");
    assert_eq!(left.try_get_by_index::<i64>(0).expect("count"), 0);
}

/// A migrated row as read back: subject kind and id, actor, schema version,
/// whether it is processed.
type MigratedRow = (Option<String>, Option<Uuid>, String, i32, bool);
