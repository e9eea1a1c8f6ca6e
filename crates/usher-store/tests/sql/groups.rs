//! Groups, memberships, identity links and the outbox.

use time::Duration;
use usher_core::ports::{Directory, Outbox, OutboxRow};
use usher_core::{
    Error, GroupUpdate, LifecycleEvent, NewGroup, NewIdentityLink, NewUser, PageRequest, UniqueKey,
    UpstreamId, UserId,
};
use usher_store::Database;

use super::harness::{START, clocked, take_events};

pub async fn groups_and_memberships(db: Database) {
    let (store, _) = clocked(&db);
    let user = store
        .create_user(NewUser::named("alice"))
        .await
        .expect("user");
    let group = store
        .create_group(NewGroup {
            external_id: Some("g-ext".into()),
            ..NewGroup::named("Engineering")
        })
        .await
        .expect("group");
    take_events(&store).await;

    let err = store
        .create_group(NewGroup::named("ENGINEERING"))
        .await
        .expect_err("dup");
    assert!(
        matches!(err, Error::Conflict(UniqueKey::GroupName)),
        "{err:?}"
    );
    let dup_ext = NewGroup {
        external_id: Some("g-ext".into()),
        ..NewGroup::named("other")
    };
    let err = store.create_group(dup_ext).await.expect_err("dup");
    assert!(
        matches!(err, Error::Conflict(UniqueKey::ExternalId)),
        "{err:?}"
    );
    assert!(take_events(&store).await.is_empty());

    let found = store.find_group_by_name("engineering").await.expect("q");
    assert_eq!(found.as_ref(), Some(&group));

    let added = LifecycleEvent::MembershipAdded {
        group_id: group.id,
        user_id: user.id,
    };
    let removed = LifecycleEvent::MembershipRemoved {
        group_id: group.id,
        user_id: user.id,
    };
    assert!(store.add_member(group.id, user.id).await.expect("add"));
    assert_eq!(take_events(&store).await, [added]);
    assert!(
        !store
            .add_member(group.id, user.id)
            .await
            .expect("add again")
    );
    assert!(
        take_events(&store).await.is_empty(),
        "no event for a no-op add"
    );
    // The membership moved the group's version (its SCIM ETag), once.
    let joined = store.groups_of(user.id).await.expect("q");
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[0].id, group.id);
    assert_eq!(joined[0].version, group.version + 1);

    assert!(
        store
            .remove_member(group.id, user.id)
            .await
            .expect("remove")
    );
    assert_eq!(take_events(&store).await, [removed]);
    assert!(
        !store
            .remove_member(group.id, user.id)
            .await
            .expect("remove again")
    );
    assert!(
        take_events(&store).await.is_empty(),
        "no event for a no-op remove"
    );
    assert!(store.groups_of(user.id).await.expect("q").is_empty());

    let nobody = UserId::new();
    let err = store
        .add_member(group.id, nobody)
        .await
        .expect_err("no such user");
    assert!(matches!(err, Error::NotFound { entity: "user" }), "{err:?}");
    let err = store
        .add_member(usher_core::GroupId::new(), user.id)
        .await
        .expect_err("no such group");
    assert!(
        matches!(err, Error::NotFound { entity: "group" }),
        "{err:?}"
    );
    assert!(take_events(&store).await.is_empty());

    let rename = GroupUpdate {
        name: Some("Platform".into()),
        ..GroupUpdate::default()
    };
    let renamed = store
        .update_group(group.id, rename.clone())
        .await
        .expect("renamed");
    assert_eq!(renamed.name, "Platform");
    assert_eq!(
        take_events(&store).await,
        [LifecycleEvent::GroupUpdated { group_id: group.id }]
    );
    store.update_group(group.id, rename).await.expect("no-op");
    assert!(take_events(&store).await.is_empty());
    let other = store
        .create_group(NewGroup::named("Ops"))
        .await
        .expect("group");
    take_events(&store).await;
    let clash = GroupUpdate {
        name: Some("platform".into()),
        ..GroupUpdate::default()
    };
    let err = store
        .update_group(other.id, clash)
        .await
        .expect_err("clash");
    assert!(
        matches!(err, Error::Conflict(UniqueKey::GroupName)),
        "{err:?}"
    );
    assert_eq!(store.get_group(other.id).await.expect("read"), other);
    assert!(take_events(&store).await.is_empty());

    let page = store
        .list_groups(PageRequest::first(1))
        .await
        .expect("page");
    assert_eq!(page.items[0].name, "Ops");
    let page = store
        .list_groups(PageRequest {
            after: page.next,
            limit: 1,
        })
        .await
        .expect("page");
    assert_eq!((page.items[0].name.as_str(), page.next), ("Platform", None));
}

pub async fn delete_group_announces_each_member(db: Database) {
    let (store, _) = clocked(&db);
    let group = store
        .create_group(NewGroup::named("team"))
        .await
        .expect("group");
    let mut members = Vec::new();
    for name in ["a", "b", "c"] {
        let u = store.create_user(NewUser::named(name)).await.expect("user");
        store.add_member(group.id, u.id).await.expect("added");
        members.push(u.id);
    }
    members.sort();
    take_events(&store).await;

    store.delete_group(group.id).await.expect("deleted");
    let mut expected: Vec<LifecycleEvent> = members
        .iter()
        .map(|&user_id| LifecycleEvent::MembershipRemoved {
            group_id: group.id,
            user_id,
        })
        .collect();
    expected.push(LifecycleEvent::GroupDeleted {
        group_id: group.id,
        snapshot: usher_core::GroupSnapshot::from(&group),
    });
    assert_eq!(take_events(&store).await, expected);
    assert!(matches!(
        store.get_group(group.id).await,
        Err(Error::NotFound { .. })
    ));
    for id in members {
        assert!(store.groups_of(id).await.expect("q").is_empty());
        store.get_user(id).await.expect("users stay");
    }
    assert!(matches!(
        store.delete_group(group.id).await,
        Err(Error::NotFound { .. })
    ));
}

pub async fn concurrent_adds_report_once(db: Database) {
    let (store, _) = clocked(&db);
    let user = store
        .create_user(NewUser::named("alice"))
        .await
        .expect("user");
    let group = store
        .create_group(NewGroup::named("g"))
        .await
        .expect("group");
    take_events(&store).await;
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.add_member(group.id, user.id).await })
        })
        .collect();
    let mut added = 0;
    for t in tasks {
        if t.await.expect("task").expect("add") {
            added += 1;
        }
    }
    assert_eq!(added, 1, "exactly one concurrent add wins");
    assert_eq!(take_events(&store).await.len(), 1);
}

pub async fn identity_links(db: Database) {
    let (store, clock) = clocked(&db);
    let user = store
        .create_user(NewUser::named("alice"))
        .await
        .expect("user");
    let other = store
        .create_user(NewUser::named("bob"))
        .await
        .expect("user");
    let corp = UpstreamId::parse("corp").expect("id");
    let link = |subject: &str, user_id| NewIdentityLink {
        upstream: corp.clone(),
        subject: subject.into(),
        user_id,
    };
    take_events(&store).await;

    let made = store
        .link_identity(link("Sub-1", user.id))
        .await
        .expect("linked");
    assert_eq!((made.created_at, made.last_login_at), (START, None));
    let err = store
        .link_identity(link("Sub-1", other.id))
        .await
        .expect_err("taken");
    assert!(
        matches!(err, Error::Conflict(UniqueKey::IdentityLink)),
        "{err:?}"
    );
    // Subjects are opaque: another case is another subject.
    store
        .link_identity(link("sub-1", other.id))
        .await
        .expect("distinct subject");
    let err = store
        .link_identity(link("x", UserId::new()))
        .await
        .expect_err("no user");
    assert!(matches!(err, Error::NotFound { entity: "user" }), "{err:?}");

    let found = store.find_user_by_link(&corp, "Sub-1").await.expect("q");
    assert_eq!(found.map(|u| u.id), Some(user.id));
    let elsewhere = UpstreamId::parse("elsewhere").expect("id");
    assert!(
        store
            .find_user_by_link(&elsewhere, "Sub-1")
            .await
            .expect("q")
            .is_none()
    );

    clock.advance(Duration::hours(1));
    store.touch_link(&corp, "Sub-1").await.expect("touched");
    let links = store.links_of(user.id).await.expect("links");
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].last_login_at, Some(START + Duration::hours(1)));
    let err = store
        .touch_link(&corp, "nobody")
        .await
        .expect_err("no link");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

    assert!(
        store
            .unlink_identity(&corp, "Sub-1")
            .await
            .expect("unlinked")
    );
    assert!(
        !store
            .unlink_identity(&corp, "Sub-1")
            .await
            .expect("already gone")
    );
    assert!(store.links_of(user.id).await.expect("links").is_empty());
    assert!(
        take_events(&store).await.is_empty(),
        "links emit no lifecycle events"
    );
}

pub async fn outbox_order_and_mark_processed(db: Database) {
    let (store, clock) = clocked(&db);
    let mut expected = Vec::new();
    for name in ["a", "b", "c", "d"] {
        clock.advance(Duration::seconds(1));
        let u = store.create_user(NewUser::named(name)).await.expect("user");
        expected.push(LifecycleEvent::UserCreated { user_id: u.id });
    }
    let events = store.unprocessed(0, 0).await.expect("read");
    assert_eq!(
        events.iter().map(|e| e.event.clone()).collect::<Vec<_>>(),
        expected
    );
    assert!(events.windows(2).all(|w| w[0].id < w[1].id), "ids increase");
    assert_eq!(events[0].occurred_at, START + Duration::seconds(1));
    assert!(events.iter().all(|e| e.processed_at.is_none()));

    let after_first = store.unprocessed(events[0].id, 2).await.expect("read");
    assert_eq!(after_first.len(), 2);
    assert_eq!(after_first[0].id, events[1].id);

    store.mark_processed(&[events[1].id]).await.expect("marked");
    store
        .mark_processed(&[events[1].id])
        .await
        .expect("marking twice is fine");
    store.mark_processed(&[]).await.expect("nothing to mark");
    let left: Vec<i64> = store
        .unprocessed(0, 100)
        .await
        .expect("read")
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(left, [events[0].id, events[2].id, events[3].id]);
    assert_eq!(take_events(&store).await.len(), 3);
    assert!(store.unprocessed(0, 100).await.expect("read").is_empty());
}

/// A row no usher can read (a hand-edited payload) fails `unprocessed`, but the
/// tolerant read names it by id among the readable ones, so the planner can mark
/// it and go on instead of stopping at it forever.
pub async fn an_unreadable_outbox_row_is_named_not_fatal(db: Database) {
    let store = db.store();
    store.create_user(NewUser::named("a")).await.expect("user");
    let second = store.create_user(NewUser::named("b")).await.expect("user");
    let rows = store.unprocessed_rows(0, 10).await.expect("read");
    let bad = rows[0].id();
    super::harness::raw_execute(
        &db,
        &format!(
            "UPDATE outbox_events SET payload = '{{\"type\": \"no_such_event\"}}' WHERE id = {bad}"
        ),
    )
    .await;
    assert!(
        store.unprocessed(0, 10).await.is_err(),
        "the strict read fails"
    );
    let rows = store
        .unprocessed_rows(0, 10)
        .await
        .expect("the tolerant read does not");
    match &rows[..] {
        [OutboxRow::Unreadable(u), OutboxRow::Event(e)] => {
            assert_eq!(u.id, bad);
            assert!(!u.newer);
            assert!(u.reason.contains(&bad.to_string()), "{}", u.reason);
            assert_eq!(e.event, LifecycleEvent::UserCreated { user_id: second.id });
        }
        other => panic!("expected the bad row then the good one: {other:?}"),
    }
    store.mark_processed(&[bad]).await.expect("marks");
    assert_eq!(
        store
            .unprocessed(0, 10)
            .await
            .expect("readable again")
            .len(),
        1
    );
}
