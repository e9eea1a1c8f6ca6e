//! The remote mapping and the outbound report, written through job completions
//! (their only writer), and the named leases.

use std::time::Duration as StdDuration;

use time::Duration;
use usher_core::outbound::{AttemptQuery, AttemptResult, ObjectRef, RemoteChange, RemoteState};
use usher_core::ports::{Jobs, Leases, RemoteObjects};
use usher_core::{ApplicationId, GroupId, UserId};
use usher_store::{Database, SqlStore};

use super::harness::{START, clocked};
use super::jobs::{LEASE, plan, report, upsert};

/// Runs one job for `object` to the end with `result`, applying `change`.
async fn push(
    store: &SqlStore,
    app: ApplicationId,
    object: ObjectRef,
    change: Option<RemoteChange>,
    result: AttemptResult,
) {
    store
        .enqueue(vec![plan(app, object, 1, START)], &[])
        .await
        .expect("enqueued");
    let [job] = store
        .claim(app, "w", LEASE, 10)
        .await
        .expect("claim")
        .try_into()
        .expect("one job");
    let row = report(&job, result);
    let ended = match result {
        AttemptResult::Retry => store.retry(job.id, "w", START, "e", change, row).await,
        AttemptResult::Failed => store.park(job.id, "w", "e", change, row).await,
        _ => store.complete(job.id, "w", change, row).await,
    };
    assert!(ended.expect("ended"), "the lease is held");
}

pub async fn remote_mapping_upsert_forget_and_mapped_users(db: Database) {
    let (store, clock) = clocked(&db);
    let (wiki, crm) = (ApplicationId::new(), ApplicationId::new());
    let mut users: Vec<UserId> = (0..5).map(|_| UserId::new()).collect();
    users.sort();
    for (n, user) in users.iter().enumerate() {
        let state = if n == 3 {
            RemoteState::Deactivated
        } else {
            RemoteState::Active
        };
        let change = upsert(&format!("wiki-{n}"), state);
        push(
            &store,
            wiki,
            ObjectRef::User(*user),
            Some(change),
            AttemptResult::Success,
        )
        .await;
    }
    let group = ObjectRef::Group(GroupId::new());
    push(
        &store,
        wiki,
        group,
        Some(upsert("g", RemoteState::Active)),
        AttemptResult::Success,
    )
    .await;
    clock.advance(Duration::seconds(7));
    let alice = ObjectRef::User(users[0]);
    push(
        &store,
        crm,
        alice,
        Some(upsert("crm-0", RemoteState::Active)),
        AttemptResult::Success,
    )
    .await;

    let mapped = store
        .remote_object(crm, alice)
        .await
        .expect("read")
        .expect("mapped");
    assert_eq!((mapped.app, mapped.object), (crm, alice));
    assert_eq!(mapped.remote_id, "crm-0");
    assert_eq!(mapped.pushed, serde_json::json!({ "userName": "crm-0" }));
    assert_eq!(mapped.digest, "digest-crm-0");
    assert_eq!(
        (mapped.changed_at, mapped.acknowledged_at),
        (START, START + Duration::seconds(7))
    );
    let of_alice = store.remote_objects_of_user(users[0]).await.expect("read");
    let mut apps: Vec<ApplicationId> = of_alice.iter().map(|r| r.app).collect();
    apps.sort();
    let mut want = vec![wiki, crm];
    want.sort();
    assert_eq!(apps, want, "one row per app");

    // An update replaces the row; a delete keeps it as `deleted`, out of the
    // mapped users; a forget removes it.
    push(
        &store,
        wiki,
        ObjectRef::User(users[1]),
        Some(upsert("wiki-1b", RemoteState::Active)),
        AttemptResult::Success,
    )
    .await;
    push(
        &store,
        wiki,
        ObjectRef::User(users[2]),
        Some(upsert("wiki-2", RemoteState::Deleted)),
        AttemptResult::Success,
    )
    .await;
    push(
        &store,
        wiki,
        ObjectRef::User(users[4]),
        Some(RemoteChange::Forget),
        AttemptResult::Success,
    )
    .await;
    let b = store
        .remote_object(wiki, ObjectRef::User(users[1]))
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(b.remote_id, "wiki-1b");
    assert!(
        store
            .remote_object(wiki, ObjectRef::User(users[4]))
            .await
            .expect("read")
            .is_none()
    );
    // No change: the mapping stays as it was.
    push(
        &store,
        wiki,
        ObjectRef::User(users[1]),
        None,
        AttemptResult::NoChange,
    )
    .await;
    assert!(
        store
            .remote_object(wiki, ObjectRef::User(users[1]))
            .await
            .expect("read")
            .is_some()
    );

    // Active or deactivated users only (no groups), in id order, paged.
    let page = store.mapped_users(wiki, None, 2).await.expect("page");
    assert_eq!(page, [users[0], users[1]]);
    let page = store
        .mapped_users(wiki, Some(users[1]), 2)
        .await
        .expect("page");
    assert_eq!(
        page,
        [users[3]],
        "deleted and forgotten users are not mapped"
    );
    assert!(
        store
            .mapped_users(wiki, Some(users[3]), 2)
            .await
            .expect("page")
            .is_empty()
    );
    assert_eq!(
        store.mapped_users(crm, None, 0).await.expect("page"),
        [users[0]]
    );
    assert!(
        store
            .mapped_users(ApplicationId::new(), None, 10)
            .await
            .expect("page")
            .is_empty()
    );
}

pub async fn attempts_query_by_object_app_result_and_time_then_prune(db: Database) {
    let (store, clock) = clocked(&db);
    let (wiki, crm) = (ApplicationId::new(), ApplicationId::new());
    let (alice, bob) = (
        ObjectRef::User(UserId::new()),
        ObjectRef::User(UserId::new()),
    );
    // START: wiki/alice success; +60: wiki/bob failed; +120: crm/alice retry.
    push(&store, wiki, alice, None, AttemptResult::Success).await;
    clock.advance(Duration::seconds(60));
    push(&store, wiki, bob, None, AttemptResult::Failed).await;
    clock.advance(Duration::seconds(60));
    push(&store, crm, alice, None, AttemptResult::Retry).await;

    let read = |query: AttemptQuery| {
        let store = store.clone();
        async move {
            store
                .attempts(&query)
                .await
                .expect("attempts")
                .into_iter()
                .map(|e| (e.attempt.app, e.attempt.object, e.attempt.result, e.at))
                .collect::<Vec<_>>()
        }
    };
    let all = read(AttemptQuery::default()).await;
    assert_eq!(
        all,
        [
            (wiki, alice, AttemptResult::Success, START),
            (
                wiki,
                bob,
                AttemptResult::Failed,
                START + Duration::seconds(60)
            ),
            (
                crm,
                alice,
                AttemptResult::Retry,
                START + Duration::seconds(120)
            ),
        ],
        "oldest first"
    );
    let of_alice = read(AttemptQuery {
        object: Some(alice),
        ..AttemptQuery::default()
    })
    .await;
    assert_eq!(of_alice.len(), 2);
    assert!(of_alice.iter().all(|r| r.1 == alice));
    let in_wiki = read(AttemptQuery {
        app: Some(wiki),
        ..AttemptQuery::default()
    })
    .await;
    assert_eq!(
        in_wiki.iter().map(|r| r.1).collect::<Vec<_>>(),
        [alice, bob]
    );
    let failed = read(AttemptQuery {
        result: Some(AttemptResult::Failed),
        ..AttemptQuery::default()
    })
    .await;
    assert_eq!(failed.iter().map(|r| r.1).collect::<Vec<_>>(), [bob]);
    let both = read(AttemptQuery {
        object: Some(alice),
        app: Some(crm),
        ..AttemptQuery::default()
    })
    .await;
    assert_eq!(both.len(), 1);
    // `[since, until)`, with fractions rounded up as every time query does.
    let span = read(AttemptQuery {
        since: Some(START + Duration::milliseconds(500)),
        until: Some(START + Duration::seconds(120)),
        ..AttemptQuery::default()
    })
    .await;
    assert_eq!(span.iter().map(|r| r.1).collect::<Vec<_>>(), [bob]);
    let limited = read(AttemptQuery {
        limit: 1,
        ..AttemptQuery::default()
    })
    .await;
    assert_eq!(limited.len(), 1);

    // The report row is complete.
    let [row] = store
        .attempts(&AttemptQuery {
            result: Some(AttemptResult::Failed),
            ..AttemptQuery::default()
        })
        .await
        .expect("attempts")
        .try_into()
        .expect("one row");
    assert_eq!(row.attempt.operation, "update");
    assert_eq!(
        (
            row.attempt.http_status,
            row.attempt.duration_ms,
            row.attempt.attempt
        ),
        (Some(200), 12, 1)
    );
    assert_eq!(row.attempt.label, "label-1");

    assert_eq!(
        store
            .prune_attempts(START + Duration::seconds(60))
            .await
            .expect("pruned"),
        1
    );
    assert_eq!(
        store
            .prune_attempts(START + Duration::seconds(60))
            .await
            .expect("pruned"),
        0
    );
    assert_eq!(read(AttemptQuery::default()).await.len(), 2);
    assert_eq!(
        store
            .prune_attempts(START + Duration::days(1))
            .await
            .expect("pruned"),
        2
    );
    assert!(read(AttemptQuery::default()).await.is_empty());
}

pub async fn leases_acquire_renew_expire_release(db: Database) {
    let (store, clock) = clocked(&db);
    let ttl = StdDuration::from_secs(10);
    assert!(
        store.acquire("planner", "a", ttl).await.expect("acquire"),
        "free"
    );
    assert!(
        !store.acquire("planner", "b", ttl).await.expect("acquire"),
        "held by a"
    );
    assert!(
        store.acquire("app:1", "b", ttl).await.expect("acquire"),
        "names are separate"
    );

    // a renews at +9 s, so b still cannot take it at +18 s.
    clock.advance(Duration::seconds(9));
    assert!(store.acquire("planner", "a", ttl).await.expect("renew"));
    clock.advance(Duration::seconds(9));
    assert!(!store.acquire("planner", "b", ttl).await.expect("acquire"));
    // Expired at +19 s: b takes it over, and a has lost it.
    clock.advance(Duration::seconds(1));
    assert!(store.acquire("planner", "b", ttl).await.expect("take over"));
    assert!(!store.acquire("planner", "a", ttl).await.expect("acquire"));

    // A sub-second lease is never shorter than asked: it lasts to the next second.
    assert!(
        store
            .acquire("short", "a", StdDuration::from_millis(300))
            .await
            .expect("acquire")
    );
    assert!(!store.acquire("short", "b", ttl).await.expect("acquire"));
    clock.advance(Duration::seconds(1));
    assert!(store.acquire("short", "b", ttl).await.expect("acquire"));

    // Releasing someone else's lease does nothing; releasing one's own frees it.
    store.release("planner", "a").await.expect("release");
    assert!(!store.acquire("planner", "a", ttl).await.expect("acquire"));
    store.release("planner", "b").await.expect("release");
    assert!(
        store.acquire("planner", "a", ttl).await.expect("acquire"),
        "free again"
    );

    assert!(
        store.acquire("", "a", ttl).await.is_err(),
        "an empty name is refused"
    );
    assert!(store.acquire("x", &"o".repeat(300), ttl).await.is_err());
    assert!(
        store.acquire("x", "a", StdDuration::MAX).await.is_err(),
        "overflow is refused"
    );
}
