//! The job queue raced for real: two pools (as two instances would have) on one
//! database, and a retry against another connection's uncommitted enqueue.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use serde_json::json;
use usher_core::ApplicationId;
use usher_core::outbound::{AttemptResult, JobState, NewJob, ObjectRef, QueueStatus};
use usher_core::ports::{Jobs, ManualClock};
use usher_store::{Database, SqlStore};

use super::harness::{START, clocked};
use super::jobs::{LEASE, attempt_count, claim_one, jobs_of, plan, report, user};

/// Two pools (as two instances would have) claim the same app's jobs in a loop:
/// no job is handed out twice and every job is handed out once.
pub async fn two_pools_claim_each_job_exactly_once(url: String, db: Database) {
    const JOBS: usize = 200;
    let clock = Arc::new(ManualClock::at(START));
    let first = db.store_with_clock(clock.clone());
    let second = Database::connect(&url)
        .await
        .expect("second pool")
        .store_with_clock(clock);
    let app = ApplicationId::new();
    let plans: Vec<NewJob> = (0..JOBS)
        .map(|n| plan(app, user(), n as u32, START))
        .collect();
    first.enqueue(plans, &[]).await.expect("enqueued");

    let claimer = |store: SqlStore, owner: &'static str| {
        tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let got = store.claim(app, owner, LEASE, 7).await.expect("claim");
                if got.is_empty() {
                    return seen;
                }
                for job in got {
                    let done = report(&job, AttemptResult::Success);
                    assert!(
                        store
                            .complete(job.id, owner, None, done)
                            .await
                            .expect("complete"),
                        "{owner} holds the job it claimed"
                    );
                    seen.push(job.id);
                }
            }
        })
    };
    let a = claimer(first.clone(), "instance-a");
    let b = claimer(second, "instance-b");
    let (a, b) = (a.await.expect("joined"), b.await.expect("joined"));
    let mut all = HashSet::new();
    for id in a.iter().chain(&b) {
        assert!(all.insert(*id), "job {id} was claimed twice");
    }
    assert_eq!(
        all.len(),
        JOBS,
        "every job claimed ({} and {})",
        a.len(),
        b.len()
    );
    assert_eq!(
        first.status(app).await.expect("status"),
        QueueStatus::default()
    );
    assert_eq!(attempt_count(&first, app).await, JOBS);
}

/// PostgreSQL only: a worker's retry races a plan for the same object that another
/// instance is enqueueing (inserted, not yet committed). The retry's statement does
/// not see that plan, waits on the pending index, and must then yield to it: the
/// retried job is dropped for the newer plan, and the attempt is still recorded.
pub async fn a_retry_racing_an_enqueue_yields_to_the_new_plan(url: String, db: Database) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};

    let (store, _clock) = clocked(&db);
    let app = ApplicationId::new();
    let alice = user();
    store
        .enqueue(vec![plan(app, alice, 1, START)], &[])
        .await
        .expect("enqueued");
    let job = claim_one(&store, app, "w1").await.expect("claimed");

    let planner = sea_orm::Database::connect(url.as_str())
        .await
        .expect("second connection");
    let enqueueing = planner.begin().await.expect("begin");
    let ObjectRef::User(alice_id) = alice else {
        unreachable!("a user")
    };
    enqueueing
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "INSERT INTO provisioning_jobs (application_id, object_kind, object_id, state, \
             desired, label, cause, attempts, next_run_at, changed_at, created_at, updated_at) \
             VALUES ($1, 'user', $2, 'pending', '{\"version\": 2}', 'label-2', 'user_updated', \
             0, now(), now(), now(), now())",
            [app.0.into(), alice_id.0.into()],
        ))
        .await
        .expect("the newer plan, uncommitted");

    let retrying = {
        let store = store.clone();
        let job = job.clone();
        tokio::spawn(async move {
            let row = report(&job, AttemptResult::Retry);
            store.retry(job.id, "w1", START, "503", None, row).await
        })
    };
    // Wait (by condition, not by time) until the retry blocks on the index.
    let waiting = Statement::from_string(
        DbBackend::Postgres,
        "SELECT count(*) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    );
    for _ in 0..500 {
        let row = planner
            .query_one_raw(waiting.clone())
            .await
            .expect("activity");
        let n: i64 = row.expect("a row").try_get("", "n").expect("count");
        if n > 0 {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
    enqueueing.commit().await.expect("the newer plan commits");

    let ended = retrying
        .await
        .expect("joined")
        .expect("the retry yields, not fails");
    assert!(ended, "the lease was held");
    let [left] = jobs_of(&store, app).await.try_into().expect("one job");
    assert_ne!(left.id, job.id, "the retried job gave way");
    assert_eq!(
        (left.state, left.desired.clone()),
        (JobState::Pending, json!({ "version": 2 }))
    );
    assert_eq!(
        attempt_count(&store, app).await,
        1,
        "the attempt is recorded"
    );
}
