use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::outbound::{Attempt, Job, NewJob, ObjectRef, QueueStatus, RemoteChange};
use crate::{ApplicationId, Result};

/// The durable job queue of outbound provisioning.
///
/// At most one pending and one in-flight job exist per (application, object).
/// Claims take a lease; a worker that dies loses it when it expires and another
/// takes the job over. Every method that ends an attempt takes the report row and
/// the remote mapping change and writes them in one transaction with the job's
/// new state, and only while the caller still holds the lease (`Ok(false)`
/// otherwise, and nothing is written). A lease that expired but that no claim has
/// taken over yet is still held. The mapping's `changed_at` is the job's.
///
/// A job that would become pending (a retry, a recovered or released lease) while
/// a newer pending job waits for the same object is dropped instead, and so is one
/// that would be parked: the newer plan supersedes it, as in [`enqueue`](Self::enqueue).
///
/// Times are kept to the second: a lease ends at `now + lease` rounded up, and a
/// `next_run_at` is rounded up, so neither comes early.
#[async_trait]
pub trait Jobs: Send + Sync {
    /// In ONE transaction: enqueues `jobs` and marks the outbox events `processed`
    /// handled. A job for an (app, object) that already has a pending one replaces
    /// its desired state, label and cause, resets its attempts, clears its last
    /// error and makes it due now, keeping the older `changed_at`; a parked one for
    /// that object is dropped (the newer plan supersedes it). A job with an empty
    /// cause or an oversized label is `Error::Invalid`, and then nothing is
    /// written, not even the events' marks.
    async fn enqueue(&self, jobs: Vec<NewJob>, processed: &[i64]) -> Result<()>;
    /// Claims up to `limit` due pending jobs of `app` whose object has no job in
    /// flight, oldest due first: each becomes in flight, leased to `owner` for
    /// `lease`, its attempts counted. Before claiming, in-flight jobs whose lease
    /// expired go back to pending (or are dropped when a newer pending job exists
    /// for the same object). PostgreSQL claims with `FOR UPDATE SKIP LOCKED`.
    /// At most 1000 at once; a `limit` of 0 claims nothing.
    async fn claim(
        &self,
        app: ApplicationId,
        owner: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Job>>;
    /// Extends the leases `owner` holds on these jobs (long calls); jobs it no
    /// longer holds are left alone.
    async fn renew(&self, jobs: &[i64], owner: &str, lease: Duration) -> Result<()>;
    /// The job succeeded: delete it, apply `remote`, write `report`.
    async fn complete(
        &self,
        job: i64,
        owner: &str,
        remote: Option<RemoteChange>,
        report: Attempt,
    ) -> Result<bool>;
    /// The attempt failed but may succeed later: back to pending at `next_run_at`
    /// with `error`; apply `remote` (a create that succeeded before a later step
    /// failed), write `report`.
    async fn retry(
        &self,
        job: i64,
        owner: &str,
        next_run_at: OffsetDateTime,
        error: &str,
        remote: Option<RemoteChange>,
        report: Attempt,
    ) -> Result<bool>;
    /// The job failed for good: parked with `error`; apply `remote`, write `report`.
    async fn park(
        &self,
        job: i64,
        owner: &str,
        error: &str,
        remote: Option<RemoteChange>,
        report: Attempt,
    ) -> Result<bool>;
    /// Gives back every lease `owner` holds (graceful shutdown): its in-flight
    /// jobs become pending, due now, their attempt not counted.
    async fn release_all(&self, owner: &str) -> Result<u64>;
    /// Makes `app`'s pending jobs due now and, with `parked`, its parked jobs
    /// pending again with their attempts reset. Returns how many changed (a job
    /// that was already due does not count).
    async fn retry_now(&self, app: ApplicationId, parked: bool) -> Result<u64>;
    /// Counts by state.
    async fn status(&self, app: ApplicationId) -> Result<QueueStatus>;
    /// Jobs of `app`: pending, then in flight, then parked, each by id; at most
    /// `limit` (capped like every page; for status pages).
    async fn list_jobs(&self, app: ApplicationId, limit: u32) -> Result<Vec<Job>>;
    /// Every job about one object, in any app (for `usher users status`).
    async fn jobs_of(&self, object: ObjectRef) -> Result<Vec<Job>>;
    /// The apps that have a due pending job (or an expired lease), so idle apps
    /// cost a worker nothing. In id order.
    async fn apps_with_due_jobs(&self) -> Result<Vec<ApplicationId>>;
}
