//! Users: creation, lookups, uniqueness, updates and their events, deletion, paging.

use serde_json::json;
use time::Duration;
use usher_core::ports::Directory;
use usher_core::{
    Email, Error, LifecycleEvent, NewUser, PageRequest, UniqueKey, UpstreamId, UserUpdate,
};
use usher_store::Database;

use super::harness::{START, clocked, take_events, user_count};

fn alice() -> NewUser {
    let mut u = NewUser::named("Alice")
        .with_email("Alice@Example.test", true)
        .with_email("alice.smith@example.test", false);
    u.display_name = Some("Alice Smith".into());
    u.given_name = Some("Alice".into());
    u.family_name = Some("Smith".into());
    u.external_id = Some("ext-alice".into());
    u.attributes = json!({"department": "R&D", "levels": [1, 2]})
        .as_object()
        .expect("object")
        .clone();
    u
}

pub async fn migrations_are_idempotent(db: Database) {
    db.migrate().await.expect("second run is a no-op");
    db.migrate().await.expect("third run too");
    db.ping().await.expect("pings");
    assert!(["sqlite", "postgres"].contains(&db.backend_name()));
    assert!(db.pool_status().size >= 1);
    let (store, _) = clocked(&db);
    assert_eq!(user_count(&store).await, 0);
}

pub async fn create_and_find_users(db: Database) {
    let (store, _) = clocked(&db);
    let created = store.create_user(alice()).await.expect("created");
    assert_eq!(created.created_at, START);
    assert_eq!(created.updated_at, START);
    assert_eq!(
        take_events(&store).await,
        [LifecycleEvent::UserCreated {
            user_id: created.id
        }]
    );

    let read = store.get_user(created.id).await.expect("read back");
    assert_eq!(read, created, "every field round-trips");
    assert_eq!(
        read.primary_email().map(|e| e.address.as_str()),
        Some("Alice@Example.test")
    );

    for name in ["alice", "ALICE", "Alice"] {
        let found = store.find_user_by_username(name).await.expect("query");
        assert_eq!(found.map(|u| u.id), Some(created.id), "username {name}");
    }
    for email in [
        "alice@example.test",
        "ALICE@EXAMPLE.TEST",
        " Alice.Smith@example.test ",
    ] {
        let found = store.find_user_by_email(email).await.expect("query");
        assert_eq!(found.map(|u| u.id), Some(created.id), "email {email}");
    }
    let by_ext = store
        .find_user_by_external_id("ext-alice")
        .await
        .expect("query");
    assert_eq!(by_ext.map(|u| u.id), Some(created.id));
    // External ids are opaque: no case folding.
    assert!(
        store
            .find_user_by_external_id("EXT-ALICE")
            .await
            .expect("query")
            .is_none()
    );
    assert!(
        store
            .find_user_by_username("bob")
            .await
            .expect("query")
            .is_none()
    );
    assert!(
        store
            .find_user_by_email("bob@example.test")
            .await
            .expect("q")
            .is_none()
    );
    let missing = store.get_user(usher_core::UserId::new()).await;
    assert!(matches!(missing, Err(Error::NotFound { entity: "user" })));
}

pub async fn uniqueness_conflicts_change_nothing(db: Database) {
    let (store, _) = clocked(&db);
    store.create_user(alice()).await.expect("created");
    take_events(&store).await;

    let cases: [(NewUser, UniqueKey); 3] = [
        (NewUser::named("aLiCe"), UniqueKey::Username),
        (
            NewUser::named("bob").with_email("ALICE@example.TEST", false),
            UniqueKey::Email,
        ),
        (
            NewUser {
                external_id: Some("ext-alice".into()),
                ..NewUser::named("carol")
            },
            UniqueKey::ExternalId,
        ),
    ];
    for (user, key) in cases {
        let name = user.username.clone();
        let err = store.create_user(user).await.expect_err("conflict");
        assert!(
            matches!(err, Error::Conflict(k) if k == key),
            "{name}: {err:?}"
        );
        assert_eq!(
            user_count(&store).await,
            1,
            "{name}: no user row left behind"
        );
        assert!(
            take_events(&store).await.is_empty(),
            "{name}: no event left behind"
        );
    }
    // The email conflict must not have left bob's other rows either.
    assert!(
        store
            .find_user_by_username("bob")
            .await
            .expect("q")
            .is_none()
    );
}

pub async fn update_user_emits_the_right_events(db: Database) {
    let (store, clock) = clocked(&db);
    let user = store.create_user(alice()).await.expect("created");
    let id = user.id;
    take_events(&store).await;
    clock.advance(Duration::minutes(5));

    let off = UserUpdate {
        active: Some(false),
        ..UserUpdate::default()
    };
    let updated = store
        .update_user(id, off.clone())
        .await
        .expect("deactivated");
    assert!(!updated.active);
    assert_eq!(updated.updated_at, START + Duration::minutes(5));
    assert_eq!(
        take_events(&store).await,
        [LifecycleEvent::UserDeactivated { user_id: id }]
    );

    // Same value again: nothing changed, nothing emitted, updated_at kept.
    let same = store.update_user(id, off).await.expect("no-op");
    assert_eq!(same.updated_at, START + Duration::minutes(5));
    assert!(take_events(&store).await.is_empty());
    let nothing = store
        .update_user(id, UserUpdate::default())
        .await
        .expect("no-op");
    assert_eq!(nothing, same);
    assert!(take_events(&store).await.is_empty());

    let on = UserUpdate {
        active: Some(true),
        ..UserUpdate::default()
    };
    store.update_user(id, on).await.expect("reactivated");
    assert_eq!(
        take_events(&store).await,
        [LifecycleEvent::UserReactivated { user_id: id }]
    );

    let attrs = UserUpdate {
        attributes: Some(
            json!({"department": "Sales"})
                .as_object()
                .expect("obj")
                .clone(),
        ),
        ..UserUpdate::default()
    };
    let changed = store.update_user(id, attrs).await.expect("updated");
    assert_eq!(changed.attributes["department"], "Sales");
    assert_eq!(
        take_events(&store).await,
        [LifecycleEvent::UserUpdated { user_id: id }]
    );

    // Both at once: both events, the account deactivated only after the update.
    let both = UserUpdate {
        active: Some(false),
        display_name: Some(None),
        emails: Some(vec![Email::new("new@example.test", true, true)]),
        ..UserUpdate::default()
    };
    let changed = store.update_user(id, both).await.expect("updated");
    assert_eq!(changed.display_name, None);
    assert_eq!(
        take_events(&store).await,
        [
            LifecycleEvent::UserUpdated { user_id: id },
            LifecycleEvent::UserDeactivated { user_id: id }
        ]
    );
    assert_eq!(store.get_user(id).await.expect("read"), changed);
    // The old addresses are free again, the new one is found.
    assert!(
        store
            .find_user_by_email("alice@example.test")
            .await
            .expect("q")
            .is_none()
    );
    let found = store
        .find_user_by_email("NEW@example.test")
        .await
        .expect("q");
    assert_eq!(found.map(|u| u.id), Some(id));

    let missing = store
        .update_user(usher_core::UserId::new(), UserUpdate::default())
        .await;
    assert!(matches!(missing, Err(Error::NotFound { .. })));
}

pub async fn failed_update_leaves_row_and_outbox_untouched(db: Database) {
    let (store, _) = clocked(&db);
    store.create_user(alice()).await.expect("alice");
    let bob = store
        .create_user(NewUser::named("bob").with_email("bob@example.test", true))
        .await
        .expect("bob");
    take_events(&store).await;

    // The display name change would emit UserUpdated, the username conflicts: neither
    // the new display name nor the event may survive.
    let clash = UserUpdate {
        username: Some("ALICE".into()),
        display_name: Some(Some("Bobby".into())),
        ..UserUpdate::default()
    };
    let err = store
        .update_user(bob.id, clash)
        .await
        .expect_err("conflict");
    assert!(
        matches!(err, Error::Conflict(UniqueKey::Username)),
        "{err:?}"
    );

    // Replacing emails deletes the old rows first; the failed insert must restore them.
    let steal = UserUpdate {
        emails: Some(vec![Email::new("alice@EXAMPLE.test", true, true)]),
        active: Some(false),
        ..UserUpdate::default()
    };
    let err = store
        .update_user(bob.id, steal)
        .await
        .expect_err("conflict");
    assert!(matches!(err, Error::Conflict(UniqueKey::Email)), "{err:?}");

    let ext = UserUpdate {
        external_id: Some(Some("ext-alice".into())),
        ..UserUpdate::default()
    };
    let err = store.update_user(bob.id, ext).await.expect_err("conflict");
    assert!(
        matches!(err, Error::Conflict(UniqueKey::ExternalId)),
        "{err:?}"
    );

    assert_eq!(store.get_user(bob.id).await.expect("bob"), bob);
    let found = store
        .find_user_by_email("bob@example.test")
        .await
        .expect("q");
    assert_eq!(found.map(|u| u.id), Some(bob.id));
    assert!(take_events(&store).await.is_empty());
}

pub async fn delete_user_cascades(db: Database) {
    let (store, _) = clocked(&db);
    let user = store.create_user(alice()).await.expect("created");
    let group = store
        .create_group(usher_core::NewGroup::named("staff"))
        .await
        .expect("group");
    store.add_member(group.id, user.id).await.expect("added");
    let upstream = UpstreamId::parse("corp").expect("id");
    store
        .link_identity(usher_core::NewIdentityLink {
            upstream: upstream.clone(),
            subject: "sub-1".into(),
            user_id: user.id,
        })
        .await
        .expect("linked");
    take_events(&store).await;

    store.delete_user(user.id).await.expect("deleted");
    assert_eq!(
        take_events(&store).await,
        [
            LifecycleEvent::MembershipRemoved {
                group_id: group.id,
                user_id: user.id
            },
            LifecycleEvent::UserDeleted {
                user_id: user.id,
                snapshot: usher_core::UserSnapshot::from(&user),
            }
        ]
    );
    assert!(matches!(
        store.get_user(user.id).await,
        Err(Error::NotFound { .. })
    ));
    let members = store
        .members_of(group.id, PageRequest::default())
        .await
        .expect("q");
    assert!(members.items.is_empty());
    assert!(
        store
            .find_user_by_link(&upstream, "sub-1")
            .await
            .expect("q")
            .is_none()
    );
    assert!(
        store
            .find_user_by_email("alice@example.test")
            .await
            .expect("q")
            .is_none()
    );
    // The address and the link are free for someone else.
    let other = store
        .create_user(NewUser::named("alice2").with_email("alice@example.test", true))
        .await
        .expect("address reusable");
    store
        .link_identity(usher_core::NewIdentityLink {
            upstream,
            subject: "sub-1".into(),
            user_id: other.id,
        })
        .await
        .expect("link reusable");
    assert!(matches!(
        store.delete_user(user.id).await,
        Err(Error::NotFound { .. })
    ));
}

pub async fn paging_is_complete_and_stable(db: Database) {
    let (store, _) = clocked(&db);
    let group = store
        .create_group(usher_core::NewGroup::named("everyone"))
        .await
        .expect("group");
    let mut names = Vec::new();
    for i in (0..25).rev() {
        let name = format!("User{i:02}");
        let u = store
            .create_user(NewUser::named(&name))
            .await
            .expect("created");
        store.add_member(group.id, u.id).await.expect("added");
        names.push(name);
    }
    names.sort_by_key(|n| n.to_lowercase());

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut page = PageRequest::first(10);
    loop {
        let got = store.list_users(page.clone()).await.expect("page");
        sizes.push(got.items.len());
        seen.extend(got.items.into_iter().map(|u| u.username));
        match got.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(seen, names, "every user once, in username order");

    let mut ids = Vec::new();
    let mut page = PageRequest::first(10);
    let mut pages = 0;
    loop {
        let got = store
            .members_of(group.id, page.clone())
            .await
            .expect("page");
        pages += 1;
        ids.extend(got.items);
        match got.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(ids, sorted, "members in user id order, no duplicates");
    assert_eq!(ids.len(), 25);

    let bad = PageRequest {
        after: Some("not-a-uuid".into()),
        limit: 10,
    };
    assert!(matches!(
        store.members_of(group.id, bad).await,
        Err(Error::Invalid(_))
    ));
    // An exactly full last page has no next cursor pointing at nothing.
    let all = store
        .list_users(PageRequest::first(25))
        .await
        .expect("page");
    assert_eq!((all.items.len(), all.next), (25, None));
}
