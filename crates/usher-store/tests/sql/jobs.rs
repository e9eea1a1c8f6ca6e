//! The outbound job queue: coalescing, the one-pending/one-in-flight rules, and
//! leases taken over on a moved clock (races between instances: `job_races`).

use std::time::Duration as StdDuration;

use serde_json::json;
use time::{Duration, OffsetDateTime};
use usher_core::outbound::{
    Attempt, AttemptQuery, AttemptResult, Job, JobState, NewJob, ObjectRef, QueueStatus,
    RemoteChange, RemoteState,
};
use usher_core::ports::{Jobs, Outbox, RemoteObjects};
use usher_core::{ApplicationId, Error, NewUser, UserId};
use usher_store::{Database, SqlStore};

use super::harness::{START, clocked};

/// The lease every test takes on a job.
pub const LEASE: StdDuration = StdDuration::from_secs(30);

pub fn user() -> ObjectRef {
    ObjectRef::User(UserId::new())
}

pub fn plan(app: ApplicationId, object: ObjectRef, version: u32, at: OffsetDateTime) -> NewJob {
    NewJob {
        app,
        object,
        desired: json!({ "version": version }),
        label: format!("label-{version}"),
        cause: "user_updated".into(),
        changed_at: at,
    }
}

pub fn report(job: &Job, result: AttemptResult) -> Attempt {
    Attempt {
        app: job.app,
        object: job.object,
        label: job.label.clone(),
        operation: "update".into(),
        result,
        remote_code: None,
        message: None,
        http_status: Some(200),
        duration_ms: 12,
        attempt: job.attempts,
    }
}

pub fn upsert(remote_id: &str, state: RemoteState) -> RemoteChange {
    RemoteChange::Upsert {
        remote_id: remote_id.into(),
        state,
        pushed: json!({ "userName": remote_id }),
        digest: format!("digest-{remote_id}"),
    }
}

pub async fn jobs_of(store: &SqlStore, app: ApplicationId) -> Vec<Job> {
    store.list_jobs(app, 1000).await.expect("jobs list")
}

pub async fn claim_one(store: &SqlStore, app: ApplicationId, owner: &str) -> Option<Job> {
    let mut got = store.claim(app, owner, LEASE, 10).await.expect("claim");
    assert!(got.len() <= 1, "one job expected: {got:?}");
    got.pop()
}

pub async fn attempt_count(store: &SqlStore, app: ApplicationId) -> usize {
    let query = AttemptQuery {
        app: Some(app),
        limit: 1000,
        ..AttemptQuery::default()
    };
    store.attempts(&query).await.expect("attempts").len()
}

pub async fn enqueue_coalesces_into_the_pending_job(db: Database) {
    let (store, clock) = clocked(&db);
    let app = ApplicationId::new();
    let alice = user();
    store
        .enqueue(vec![plan(app, alice, 1, START)], &[])
        .await
        .expect("enqueued");
    // A failed attempt leaves the job pending later, with an error and an attempt.
    let job = claim_one(&store, app, "w1").await.expect("claimed");
    assert_eq!(job.attempts, 1);
    let later = START + Duration::minutes(10);
    assert!(
        store
            .retry(
                job.id,
                "w1",
                later,
                "503",
                None,
                report(&job, AttemptResult::Retry)
            )
            .await
            .expect("retried")
    );

    clock.advance(Duration::minutes(1));
    let mut newer = plan(app, alice, 2, START + Duration::seconds(50));
    newer.cause = "user_deactivated".into();
    store.enqueue(vec![newer], &[]).await.expect("enqueued");

    let [pending] = jobs_of(&store, app).await.try_into().expect("one job");
    assert_eq!(pending.id, job.id, "the pending job is replaced in place");
    assert_eq!(pending.desired, json!({ "version": 2 }));
    assert_eq!(
        (pending.label.as_str(), pending.cause.as_str()),
        ("label-2", "user_deactivated")
    );
    assert_eq!(pending.attempts, 0, "attempts reset");
    assert_eq!(pending.next_run_at, START + Duration::minutes(1), "due now");
    assert_eq!(pending.last_error, None);
    assert_eq!(pending.changed_at, START, "the older change time is kept");
    assert_eq!(pending.created_at, START);

    // An even older change time (events read out of order) wins.
    store
        .enqueue(vec![plan(app, alice, 3, START - Duration::hours(1))], &[])
        .await
        .expect("enqueued");
    let [pending] = jobs_of(&store, app).await.try_into().expect("one job");
    assert_eq!(pending.changed_at, START - Duration::hours(1));
    assert_eq!(pending.desired, json!({ "version": 3 }));
}

pub async fn pending_and_in_flight_coexist_but_never_two_pending(db: Database) {
    let (store, _clock) = clocked(&db);
    let app = ApplicationId::new();
    let alice = user();
    store
        .enqueue(vec![plan(app, alice, 1, START)], &[])
        .await
        .expect("enqueued");
    let first = claim_one(&store, app, "w1").await.expect("claimed");
    for version in 2..=4 {
        store
            .enqueue(vec![plan(app, alice, version, START)], &[])
            .await
            .expect("enqueued while in flight");
    }
    let status = store.status(app).await.expect("status");
    assert_eq!((status.pending, status.in_flight), (1, 1), "{status:?}");

    // The object is in flight: its newer job waits, for every claimer.
    assert!(claim_one(&store, app, "w2").await.is_none());
    assert!(claim_one(&store, app, "w1").await.is_none());

    assert!(
        store
            .complete(first.id, "w1", None, report(&first, AttemptResult::Success))
            .await
            .expect("completed")
    );
    let second = claim_one(&store, app, "w2").await.expect("the newer job");
    assert_eq!(
        second.desired,
        json!({ "version": 4 }),
        "the latest plan is pushed"
    );

    // A retry while a newer plan waits drops the older job instead of making a
    // second pending one; the report row is still written.
    store
        .enqueue(vec![plan(app, alice, 5, START)], &[])
        .await
        .expect("enqueued");
    assert!(
        store
            .retry(
                second.id,
                "w2",
                START,
                "timeout",
                None,
                report(&second, AttemptResult::Retry)
            )
            .await
            .expect("retried")
    );
    let [left] = jobs_of(&store, app).await.try_into().expect("one job");
    assert_eq!(
        (left.state, left.desired.clone()),
        (JobState::Pending, json!({ "version": 5 }))
    );
    assert_eq!(attempt_count(&store, app).await, 2);

    // Two plans for one object in one batch: the second replaces the first.
    let bob = user();
    store
        .enqueue(
            vec![plan(app, bob, 1, START), plan(app, bob, 2, START)],
            &[],
        )
        .await
        .expect("enqueued");
    assert_eq!(store.status(app).await.expect("status").pending, 2);
}

pub async fn enqueue_marks_its_events_processed_atomically(db: Database) {
    let (store, _clock) = clocked(&db);
    use usher_core::ports::Directory;
    for name in ["alice", "bob"] {
        store
            .create_user(NewUser::named(name))
            .await
            .expect("created");
    }
    let events: Vec<i64> = store
        .unprocessed(0, 100)
        .await
        .expect("outbox reads")
        .iter()
        .map(|e| e.id)
        .collect();
    assert!(!events.is_empty());
    let app = ApplicationId::new();
    let good = plan(app, user(), 1, START);
    let mut bad = plan(app, user(), 1, START);
    bad.cause = String::new();

    // The bad job comes after the events and the good job in the transaction.
    let err = store
        .enqueue(vec![good.clone(), bad], &events)
        .await
        .expect_err("an empty cause is refused");
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    let left = store.unprocessed(0, 100).await.expect("outbox");
    assert_eq!(left.len(), events.len(), "no event marked");
    assert!(jobs_of(&store, app).await.is_empty(), "no job enqueued");

    store.enqueue(vec![good], &events).await.expect("enqueued");
    assert!(store.unprocessed(0, 100).await.expect("outbox").is_empty());
    assert_eq!(jobs_of(&store, app).await.len(), 1);

    // Marking again (a planner retrying) is harmless.
    store
        .enqueue(Vec::new(), &events)
        .await
        .expect("marked again");
}

pub async fn claim_respects_next_run_at_order_and_limit(db: Database) {
    let (store, clock) = clocked(&db);
    let app = ApplicationId::new();
    let other_app = ApplicationId::new();
    let objects: Vec<ObjectRef> = (0..3).map(|_| user()).collect();
    for (n, object) in objects.iter().enumerate() {
        store
            .enqueue(
                vec![plan(app, *object, 1, START + Duration::seconds(n as i64))],
                &[],
            )
            .await
            .expect("enqueued");
    }
    assert!(
        store
            .claim(app, "w1", LEASE, 0)
            .await
            .expect("claim")
            .is_empty()
    );
    assert!(
        store
            .claim(other_app, "w1", LEASE, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(store.apps_with_due_jobs().await.expect("due"), vec![app]);

    let two = store.claim(app, "w1", LEASE, 2).await.expect("claim");
    let got: Vec<ObjectRef> = two.iter().map(|j| j.object).collect();
    assert_eq!(got, objects[..2], "oldest first (same time: by id)");
    for job in &two {
        assert_eq!(job.state, JobState::InFlight);
        assert_eq!(job.lease_owner.as_deref(), Some("w1"));
        assert_eq!(job.lease_expires_at, Some(START + Duration::seconds(30)));
    }
    // The first goes back for a minute; the third is now the only due one.
    let later = START + Duration::seconds(59) + Duration::milliseconds(200);
    assert!(
        store
            .retry(
                two[0].id,
                "w1",
                later,
                "429",
                None,
                report(&two[0], AttemptResult::Retry)
            )
            .await
            .expect("retried")
    );
    let third = store.claim(app, "w1", LEASE, 10).await.expect("claim");
    assert_eq!(
        third.iter().map(|j| j.object).collect::<Vec<_>>(),
        [objects[2]]
    );
    assert!(
        store
            .claim(app, "w1", LEASE, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    assert!(store.apps_with_due_jobs().await.expect("due").is_empty());
    for job in [&two[1], &third[0]] {
        let done = report(job, AttemptResult::Success);
        assert!(
            store
                .complete(job.id, "w1", None, done)
                .await
                .expect("completed")
        );
    }

    // Never before it was asked to run: 59.2 s is stored as 60 s.
    clock.advance(Duration::seconds(59));
    assert!(
        store
            .claim(app, "w1", LEASE, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    clock.advance(Duration::seconds(1));
    let again = claim_one(&store, app, "w1").await.expect("due again");
    assert_eq!((again.id, again.attempts), (two[0].id, 2));
    assert_eq!(again.last_error.as_deref(), Some("429"));
}

pub async fn an_expired_lease_is_taken_over(db: Database) {
    let (store, clock) = clocked(&db);
    let app = ApplicationId::new();
    let alice = user();
    store
        .enqueue(vec![plan(app, alice, 1, START)], &[])
        .await
        .expect("enqueued");
    let lost = claim_one(&store, app, "dead-worker")
        .await
        .expect("claimed");
    assert!(claim_one(&store, app, "w2").await.is_none(), "leased");

    // Renewing moves the expiry; only the holder can.
    clock.advance(Duration::seconds(20));
    store.renew(&[lost.id], "w2", LEASE).await.expect("renew");
    store
        .renew(&[lost.id], "dead-worker", LEASE)
        .await
        .expect("renew");
    clock.advance(Duration::seconds(29));
    assert!(
        claim_one(&store, app, "w2").await.is_none(),
        "renewed until 50 s"
    );
    assert!(store.apps_with_due_jobs().await.expect("due").is_empty());

    clock.advance(Duration::seconds(1));
    assert_eq!(store.apps_with_due_jobs().await.expect("due"), vec![app]);
    let taken = claim_one(&store, app, "w2").await.expect("taken over");
    assert_eq!((taken.id, taken.attempts), (lost.id, 2));
    assert_eq!(taken.lease_owner.as_deref(), Some("w2"));

    // The old holder comes back: nothing it reports is written.
    let stale = RemoteChange::Upsert {
        remote_id: "stale".into(),
        state: RemoteState::Active,
        pushed: json!({}),
        digest: "x".into(),
    };
    for ended in [
        store
            .complete(
                lost.id,
                "dead-worker",
                Some(stale.clone()),
                report(&lost, AttemptResult::Success),
            )
            .await,
        store
            .retry(
                lost.id,
                "dead-worker",
                START,
                "e",
                Some(stale.clone()),
                report(&lost, AttemptResult::Retry),
            )
            .await,
        store
            .park(
                lost.id,
                "dead-worker",
                "e",
                Some(stale.clone()),
                report(&lost, AttemptResult::Failed),
            )
            .await,
        store
            .complete(999_999, "w2", None, report(&lost, AttemptResult::Success))
            .await,
    ] {
        assert!(!ended.expect("answers"), "a lost lease ends nothing");
    }
    assert_eq!(attempt_count(&store, app).await, 0);
    assert!(
        store
            .remote_object(app, alice)
            .await
            .expect("read")
            .is_none()
    );
    let [still] = jobs_of(&store, app).await.try_into().expect("one job");
    assert_eq!(
        (still.state, still.lease_owner.as_deref()),
        (JobState::InFlight, Some("w2"))
    );

    // An expired lease whose object has a newer plan waiting is dropped for it.
    store
        .enqueue(vec![plan(app, alice, 2, START)], &[])
        .await
        .expect("enqueued");
    clock.advance(Duration::seconds(31));
    let newer = claim_one(&store, app, "w3").await.expect("the newer plan");
    assert_eq!(newer.desired, json!({ "version": 2 }));
    assert_eq!(
        jobs_of(&store, app).await.len(),
        1,
        "the expired job is gone"
    );
}

pub async fn retry_and_park_record_state_mapping_and_report(db: Database) {
    let (store, clock) = clocked(&db);
    let app = ApplicationId::new();
    let alice = user();
    store
        .enqueue(vec![plan(app, alice, 1, START - Duration::seconds(5))], &[])
        .await
        .expect("enqueued");
    let job = claim_one(&store, app, "w1").await.expect("claimed");
    // The create went through before the group step failed: the mapping is kept.
    let mut failed = report(&job, AttemptResult::Retry);
    failed.operation = "create".into();
    failed.remote_code = Some("x".repeat(10_000));
    failed.message = Some("é".repeat(5_000));
    failed.http_status = Some(503);
    assert!(
        store
            .retry(
                job.id,
                "w1",
                START + Duration::seconds(30),
                &"boom ".repeat(1_000),
                Some(upsert("r-1", RemoteState::Active)),
                failed,
            )
            .await
            .expect("retried")
    );
    let [pending] = jobs_of(&store, app).await.try_into().expect("one job");
    assert_eq!(pending.state, JobState::Pending);
    assert_eq!(pending.next_run_at, START + Duration::seconds(30));
    assert_eq!(
        (pending.lease_owner.clone(), pending.lease_expires_at),
        (None, None)
    );
    assert!(
        pending
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("boom") && e.len() <= 2048)
    );
    let mapped = store
        .remote_object(app, alice)
        .await
        .expect("read")
        .expect("mapped");
    assert_eq!(
        (mapped.remote_id.as_str(), mapped.state),
        ("r-1", RemoteState::Active)
    );
    assert_eq!(
        mapped.changed_at,
        START - Duration::seconds(5),
        "the job's change time"
    );
    assert_eq!(mapped.acknowledged_at, START);
    let rows = store
        .attempts(&AttemptQuery {
            object: Some(alice),
            ..AttemptQuery::default()
        })
        .await
        .expect("attempts");
    let [row] = rows.try_into().expect("one row");
    assert_eq!(
        (row.attempt.result, row.attempt.http_status),
        (AttemptResult::Retry, Some(503))
    );
    assert!(
        row.attempt.remote_code.is_some_and(|c| c.len() <= 256),
        "cut, not refused"
    );
    assert!(
        row.attempt
            .message
            .is_some_and(|m| m.len() <= 2048 && m.starts_with('é'))
    );

    clock.advance(Duration::seconds(30));
    let job = claim_one(&store, app, "w1").await.expect("due again");
    assert_eq!(job.attempts, 2);
    assert!(
        store
            .park(
                job.id,
                "w1",
                "400 invalid value",
                None,
                report(&job, AttemptResult::Failed)
            )
            .await
            .expect("parked")
    );
    let status = store.status(app).await.expect("status");
    assert_eq!(
        status,
        QueueStatus {
            pending: 0,
            in_flight: 0,
            parked: 1,
            oldest_change: None,
        },
        "a parked job is not waiting"
    );
    assert!(
        claim_one(&store, app, "w1").await.is_none(),
        "parked jobs are not claimed"
    );
    let [parked] = jobs_of(&store, app).await.try_into().expect("one job");
    assert_eq!(parked.last_error.as_deref(), Some("400 invalid value"));
    assert_eq!(parked.attempts, 2);

    // A newer plan supersedes the parked job.
    store
        .enqueue(vec![plan(app, alice, 2, START)], &[])
        .await
        .expect("enqueued");
    let [newer] = jobs_of(&store, app).await.try_into().expect("one job");
    assert_eq!((newer.state, newer.attempts), (JobState::Pending, 0));
    assert_ne!(newer.id, parked.id);
}

pub async fn release_all_gives_back_unrun_attempts(db: Database) {
    let (store, clock) = clocked(&db);
    let app = ApplicationId::new();
    let (alice, bob, carol) = (user(), user(), user());
    store
        .enqueue(
            vec![
                plan(app, alice, 1, START),
                plan(app, bob, 1, START),
                plan(app, carol, 1, START),
            ],
            &[],
        )
        .await
        .expect("enqueued");
    let mine = store.claim(app, "stopping", LEASE, 2).await.expect("claim");
    let theirs = store.claim(app, "other", LEASE, 10).await.expect("claim");
    assert_eq!((mine.len(), theirs.len()), (2, 1));
    // One of mine has a newer plan waiting: giving it back leaves only the newer.
    store
        .enqueue(vec![plan(app, mine[1].object, 2, START)], &[])
        .await
        .expect("enqueued");

    clock.advance(Duration::seconds(5));
    assert_eq!(store.release_all("stopping").await.expect("released"), 2);
    assert_eq!(store.release_all("stopping").await.expect("released"), 0);
    let status = store.status(app).await.expect("status");
    assert_eq!((status.pending, status.in_flight), (2, 1), "{status:?}");
    let back = store.claim(app, "next", LEASE, 10).await.expect("claim");
    let mut got: Vec<(ObjectRef, u32)> = back.iter().map(|j| (j.object, j.attempts)).collect();
    got.sort();
    let mut want = vec![(mine[0].object, 1), (mine[1].object, 1)];
    want.sort();
    assert_eq!(got, want, "released attempts are not counted");
}

pub async fn retry_now_wakes_pending_and_optionally_parked(db: Database) {
    let (store, _clock) = clocked(&db);
    let app = ApplicationId::new();
    let (alice, bob, carol) = (user(), user(), user());
    store
        .enqueue(
            vec![
                plan(app, alice, 1, START),
                plan(app, bob, 1, START),
                plan(app, carol, 1, START),
            ],
            &[],
        )
        .await
        .expect("enqueued");
    let claimed = store.claim(app, "w1", LEASE, 2).await.expect("claim");
    let (waiting, parked) = (&claimed[0], &claimed[1]);
    let hour = START + Duration::hours(1);
    assert!(
        store
            .retry(
                waiting.id,
                "w1",
                hour,
                "503",
                None,
                report(waiting, AttemptResult::Retry)
            )
            .await
            .expect("retried")
    );
    assert!(
        store
            .park(
                parked.id,
                "w1",
                "400",
                None,
                report(parked, AttemptResult::Failed)
            )
            .await
            .expect("parked")
    );

    // Carol's job is already due and does not count.
    assert_eq!(store.retry_now(app, false).await.expect("retry now"), 1);
    assert_eq!(store.status(app).await.expect("status").parked, 1);
    assert_eq!(store.retry_now(app, false).await.expect("retry now"), 0);
    assert_eq!(
        store
            .retry_now(ApplicationId::new(), true)
            .await
            .expect("other app"),
        0
    );

    assert_eq!(store.retry_now(app, true).await.expect("retry parked"), 1);
    let jobs = jobs_of(&store, app).await;
    assert!(
        jobs.iter()
            .all(|j| j.state == JobState::Pending && j.next_run_at == START)
    );
    let revived = jobs
        .iter()
        .find(|j| j.id == parked.id)
        .expect("kept its id");
    assert_eq!(revived.attempts, 0, "a revived job starts over");
    assert_eq!(
        store
            .claim(app, "w1", LEASE, 10)
            .await
            .expect("claim")
            .len(),
        3
    );
}

pub async fn status_and_listing(db: Database) {
    let (store, clock) = clocked(&db);
    let app = ApplicationId::new();
    assert_eq!(
        store.status(app).await.expect("status"),
        QueueStatus::default()
    );
    let objects: Vec<ObjectRef> = (0..4).map(|_| user()).collect();
    // Changed at START-30, START-20, START-10, START-0.
    for (n, object) in objects.iter().enumerate() {
        let at = START - Duration::seconds(30 - 10 * n as i64);
        store
            .enqueue(vec![plan(app, *object, 1, at)], &[])
            .await
            .expect("enqueued");
    }
    clock.advance(Duration::seconds(1));
    let claimed = store.claim(app, "w1", LEASE, 2).await.expect("claim");
    // The oldest change is parked and no longer counts as waiting.
    assert!(
        store
            .park(
                claimed[0].id,
                "w1",
                "400",
                None,
                report(&claimed[0], AttemptResult::Failed)
            )
            .await
            .expect("parked")
    );
    // A second plan for the in-flight object adds a pending job beside it.
    store
        .enqueue(vec![plan(app, claimed[1].object, 2, START)], &[])
        .await
        .expect("enqueued");
    let status = store.status(app).await.expect("status");
    assert_eq!(
        status,
        QueueStatus {
            pending: 3,
            in_flight: 1,
            parked: 1,
            oldest_change: Some(START - Duration::seconds(20)),
        }
    );
    let listed = jobs_of(&store, app).await;
    let states: Vec<JobState> = listed.iter().map(|j| j.state).collect();
    use JobState::{InFlight, Parked, Pending};
    assert_eq!(states, [Pending, Pending, Pending, InFlight, Parked]);
    assert!(
        listed[..3].windows(2).all(|w| w[0].id < w[1].id),
        "by id within a state"
    );
    assert_eq!(store.list_jobs(app, 2).await.expect("list").len(), 2);
}
