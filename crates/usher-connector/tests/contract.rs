//! The trait's contract, exercised through `dyn Connector` (which also proves the
//! trait is object safe and its futures `Send`).

use std::sync::Arc;

use usher_connector::{
    Connector, Email, ErrorKind, GroupRecord, MatchKey, MatchKeys, PageRequest, RemoteId,
    UserRecord,
};

use crate::memory_target::MemoryTestConnector;

fn alice() -> UserRecord {
    let mut user = UserRecord::new("0190c3e2-aaaa-7000-8000-000000000001", "alice");
    user.display_name = Some("Alice Liddell".into());
    user.emails = vec![Email::new("alice@example.com", true)];
    user
}

fn target() -> (Arc<MemoryTestConnector>, Arc<dyn Connector>) {
    let memory = Arc::new(MemoryTestConnector::default());
    let connector: Arc<dyn Connector> = memory.clone();
    (memory, connector)
}

#[tokio::test]
async fn a_retried_create_finds_and_adopts_the_first_account_instead_of_duplicating() {
    let (memory, connector) = target();
    let keys = MatchKeys::default();

    // First attempt: nothing to adopt, so create; then the response is "lost".
    assert!(
        connector
            .find_user(&keys, &alice())
            .await
            .expect("find")
            .is_none()
    );
    let first = connector.create_user(&alice()).await.expect("create");

    // The retry looks up first, by match keys, and adopts.
    let found = connector.find_user(&keys, &alice()).await.expect("find");
    assert_eq!(found.map(|r| r.id), Some(first.clone()));

    // A create that races past the lookup is a conflict naming the account.
    let err = connector.create_user(&alice()).await.expect_err("conflict");
    assert_eq!(
        err.kind(),
        &ErrorKind::Conflict {
            existing: Some(first)
        }
    );
    assert_eq!(err.remote_code(), Some("uniqueness"));
    assert_eq!(memory.user_count(), 1);
}

#[tokio::test]
async fn match_keys_are_tried_in_the_configured_order() {
    // Made by hand on the target: same userName, no usher id, another email.
    let mut by_hand = UserRecord::new("", "alice");
    by_hand.emails = vec![Email::new("a.liddell@example.com", true)];
    let mut other = UserRecord::new("", "liddell");
    other.emails = vec![Email::new("alice@example.com", true)];
    let (seeded, connector) = target();
    let hand_id = seeded.seed(by_hand);
    let other_id = seeded.seed(other);

    let default = connector.find_user(&MatchKeys::default(), &alice()).await;
    assert_eq!(default.expect("find").map(|r| r.id), Some(hand_id));

    let email_first = MatchKeys::new(vec![MatchKey::Email, MatchKey::UserName]).expect("valid");
    let found = connector
        .find_user(&email_first, &alice())
        .await
        .expect("find");
    assert_eq!(found.map(|r| r.id), Some(other_id));

    let external_only = MatchKeys::new(vec![MatchKey::ExternalId]).expect("valid");
    assert!(
        connector
            .find_user(&external_only, &alice())
            .await
            .expect("find")
            .is_none()
    );
}

#[tokio::test]
async fn an_update_with_what_was_pushed_last_sends_only_the_difference() {
    let (memory, connector) = target();
    let id = connector.create_user(&alice()).await.expect("create");

    let mut renamed = alice();
    renamed.display_name = Some("Alice Hargreaves".into());
    connector
        .update_user(&id, &renamed, Some(&alice()))
        .await
        .expect("update");
    // Unknown last state (an adopted account): everything is sent.
    connector
        .update_user(&id, &renamed, None)
        .await
        .expect("update");

    let updates = memory.updates();
    assert_eq!(updates[0], ["display_name"]);
    assert_eq!(updates[1].len(), 5, "{:?}", updates[1]);
    assert_eq!(
        memory.user(&id).and_then(|u| u.display_name).as_deref(),
        Some("Alice Hargreaves")
    );
}

#[tokio::test]
async fn deprovisioning_repeats_safely_and_reactivation_keeps_the_same_account() {
    let (memory, connector) = target();
    let id = connector.create_user(&alice()).await.expect("create");

    connector.deactivate_user(&id).await.expect("deactivate");
    connector
        .deactivate_user(&id)
        .await
        .expect("deactivate again");
    assert_eq!(memory.user(&id).map(|u| u.active), Some(false));
    connector.reactivate_user(&id).await.expect("reactivate");
    assert_eq!(memory.user(&id).map(|u| u.active), Some(true));
    assert_eq!(memory.user_count(), 1);

    connector.delete_user(&id).await.expect("delete");
    connector
        .delete_user(&id)
        .await
        .expect("delete again: already gone");
    let err = connector.deactivate_user(&id).await.expect_err("gone");
    assert_eq!(err.kind(), &ErrorKind::NotFound);
    assert_eq!(err.http_status(), Some(404));
}

#[tokio::test]
async fn listing_pages_with_a_cursor_until_the_last_page() {
    let (memory, connector) = target();
    for n in 0..5 {
        memory.seed(UserRecord::new(format!("id-{n}"), format!("user{n}")));
    }
    let size = connector.capabilities().max_page_size;
    let mut page = PageRequest::first(size);
    let mut seen = Vec::new();
    loop {
        let listed = connector.list_users(&page).await.expect("list");
        assert!(listed.items.len() <= size as usize);
        seen.extend(listed.items.into_iter().map(|r| r.user.user_name));
        match listed.next {
            Some(cursor) => page = PageRequest::after(cursor, size),
            None => break,
        }
    }
    assert_eq!(seen, ["user0", "user1", "user2", "user3", "user4"]);
}

#[tokio::test]
async fn group_members_are_added_and_removed_idempotently_in_batches() {
    let (memory, connector) = target();
    let caps = connector.capabilities();
    assert!(caps.groups);
    let users: Vec<RemoteId> = (0..3)
        .map(|n| memory.seed(UserRecord::new(format!("id-{n}"), format!("user{n}"))))
        .collect();
    let group = GroupRecord::new("0190c3e2-bbbb-7000-8000-000000000001", "engineering");

    let batch = caps.member_batch_size as usize;
    let (first, rest) = users.split_at(batch.min(users.len()));
    let id = connector
        .create_group(&group, first)
        .await
        .expect("create group");
    for chunk in rest.chunks(batch) {
        connector.add_members(&id, chunk).await.expect("add");
    }
    connector
        .add_members(&id, &users[..1])
        .await
        .expect("add again");
    assert_eq!(memory.members(&id), users);

    connector
        .remove_members(&id, &users[1..2])
        .await
        .expect("remove");
    connector
        .remove_members(&id, &users[1..2])
        .await
        .expect("remove again");
    assert_eq!(memory.members(&id), [users[0].clone(), users[2].clone()]);

    let found = connector
        .find_group(&GroupRecord::new("", "engineering"))
        .await;
    assert_eq!(found.expect("find").map(|g| g.id), Some(id));
}

#[tokio::test]
async fn a_connector_is_shared_by_concurrent_workers() {
    let (memory, connector) = target();
    let workers: Vec<_> = (0..4)
        .map(|n| {
            let connector = Arc::clone(&connector);
            tokio::spawn(async move {
                let user = UserRecord::new(format!("id-{n}"), format!("user{n}"));
                connector.create_user(&user).await
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("joins").expect("created");
    }
    assert_eq!(memory.user_count(), 4);
    connector.test_connection().await.expect("reachable");
}
