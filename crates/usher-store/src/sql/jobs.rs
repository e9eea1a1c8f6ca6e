//! `Jobs` for [`SqlStore`]: the outbound job queue in `provisioning_jobs`.
//!
//! The one-pending and one-in-flight rules per (app, object) are partial unique
//! indexes, so no race can break them; every statement that would make a job
//! pending while a newer one already waits drops the older job instead (the newer
//! plan supersedes it). Claims and the ends of attempts are conditional writes
//! (`state = 'in_flight' AND lease_owner = ?`, `state = 'pending'`) checked by the
//! rows they touched, so of two workers only one ever holds a job: on PostgreSQL
//! the claim also skips rows another claimer has locked (`FOR UPDATE SKIP
//! LOCKED`); SQLite runs writers one at a time (`BEGIN IMMEDIATE`).
//!
//! Times are whole seconds (see [`timestamps`]): `next_run_at` is rounded up (never
//! due before asked), a lease ends at `now + lease` rounded up, and "due" and
//! "expired" compare with the stored clock.

use std::time::Duration;

use async_trait::async_trait;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::prelude::Uuid;
use sea_orm::sea_query::{
    Alias, CaseStatement, Expr, ExprTrait, LockBehavior, LockType, OnConflict, Query,
    SelectStatement,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait, UpdateMany,
};
use time::OffsetDateTime;
use usher_core::outbound::{Attempt, Job, JobState, NewJob, ObjectRef, QueueStatus, RemoteChange};
use usher_core::ports::Jobs;
use usher_core::{ApplicationId, Error, PageRequest, Result};

use super::SqlStore;
use super::entities::{outbox_events, provisioning_jobs as jobs, remote_objects};
use super::errors::{db_err, is_unique_violation};
use super::leases::{check_name, lease_end};
use super::objects::{object_ref, object_uuid};
use super::provision::cut;
use super::remote_objects::{MAX_MESSAGE_LEN, apply_remote, insert_attempt};
use super::store::finish;
use super::timestamps;

/// Outbox ids per `UPDATE ... WHERE id IN (...)`, well under every bind limit.
const MARK_CHUNK: usize = 500;
/// Most jobs one claim takes.
const MAX_CLAIM: u32 = 1000;
/// Longest label kept on a job (the report's name for the object).
const MAX_LABEL_LEN: usize = 512;
/// Longest cause (an event kind).
const MAX_CAUSE_LEN: usize = 64;
/// Races lost to concurrent enqueues before a statement gives up: each loss means
/// another plan for one of its jobs' objects committed meanwhile.
const MAX_LOST_RACES: u32 = 3;

/// The conflict target's predicate, written literally as in the partial index
/// `ux_provisioning_jobs_pending`: a bound parameter would keep both backends from
/// proving the index applies.
const PENDING_PREDICATE: &str = r#""state" = 'pending'"#;
/// A coalesced job keeps the older `changed_at`, so latency counts from the first
/// change (`excluded` is the row the insert proposed).
const OLDER_CHANGED_AT: &str = r#"CASE WHEN "excluded"."changed_at" < "provisioning_jobs"."changed_at" THEN "excluded"."changed_at" ELSE "provisioning_jobs"."changed_at" END"#;

fn in_state(state: JobState) -> Expr {
    jobs::Column::State.eq(state.as_str())
}

/// `EXISTS` another job in `state` for the same (app, object) as the row at hand.
fn sibling_in(state: JobState) -> Expr {
    let other = Alias::new("other");
    let same = |col: jobs::Column| Expr::col((other.clone(), col)).equals((jobs::Entity, col));
    let sub: SelectStatement = Query::select()
        .expr(Expr::val(1))
        .from_as(jobs::Entity, other.clone())
        .and_where(same(jobs::Column::ApplicationId))
        .and_where(same(jobs::Column::ObjectKind))
        .and_where(same(jobs::Column::ObjectId))
        .and_where(Expr::col((other.clone(), jobs::Column::State)).eq(state.as_str()))
        .to_owned();
    Expr::exists(sub)
}

/// Leased by `owner` (expired or not: nobody has taken it over yet).
fn held_by(id: i64, owner: &str) -> Condition {
    Condition::all()
        .add(jobs::Column::Id.eq(id))
        .add(in_state(JobState::InFlight))
        .add(jobs::Column::LeaseOwner.eq(owner))
}

fn check_new_job(job: &NewJob) -> Result<()> {
    if job.label.len() > MAX_LABEL_LEN {
        return Err(Error::Invalid(format!(
            "a job's label is at most {MAX_LABEL_LEN} bytes ({})",
            job.object
        )));
    }
    if job.cause.is_empty() || job.cause.len() > MAX_CAUSE_LEN {
        return Err(Error::Invalid(format!(
            "a job's cause must be 1 to {MAX_CAUSE_LEN} bytes ({})",
            job.object
        )));
    }
    Ok(())
}

fn to_job(row: jobs::Model) -> Result<Job> {
    let corrupt = |what: &str| Error::Internal(format!("job {}: bad {what}", row.id));
    Ok(Job {
        id: row.id,
        app: ApplicationId(row.application_id),
        object: object_ref(&row.object_kind, row.object_id)?,
        state: JobState::parse(&row.state).ok_or_else(|| corrupt("state"))?,
        attempts: u32::try_from(row.attempts).map_err(|_| corrupt("attempts"))?,
        desired: row.desired,
        label: row.label,
        cause: row.cause,
        next_run_at: row.next_run_at,
        lease_owner: row.lease_owner,
        lease_expires_at: row.lease_expires_at,
        last_error: row.last_error,
        changed_at: row.changed_at,
        created_at: row.created_at,
    })
}

/// Marks outbox events processed on `conn` (keeping the first processing time).
async fn mark_processed_in(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    now: OffsetDateTime,
) -> Result<()> {
    for chunk in ids.chunks(MARK_CHUNK) {
        outbox_events::Entity::update_many()
            .col_expr(outbox_events::Column::ProcessedAt, Expr::value(now))
            .filter(outbox_events::Column::Id.is_in(chunk.iter().copied()))
            .filter(outbox_events::Column::ProcessedAt.is_null())
            .exec(conn)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

/// Enqueues one job on `conn`: replaces the object's pending job if there is one
/// (one statement, so a racing enqueue cannot add a second) and drops its parked one.
async fn upsert_pending(
    conn: &impl ConnectionTrait,
    job: NewJob,
    now: OffsetDateTime,
) -> Result<()> {
    check_new_job(&job)?;
    let object_id = object_uuid(job.object);
    jobs::Entity::delete_many()
        .filter(jobs::Column::ApplicationId.eq(job.app.0))
        .filter(jobs::Column::ObjectKind.eq(job.object.kind()))
        .filter(jobs::Column::ObjectId.eq(object_id))
        .filter(in_state(JobState::Parked))
        .exec(conn)
        .await
        .map_err(db_err)?;
    jobs::Entity::insert(jobs::ActiveModel {
        id: NotSet,
        application_id: Set(job.app.0),
        object_kind: Set(job.object.kind().to_owned()),
        object_id: Set(object_id),
        state: Set(JobState::Pending.as_str().to_owned()),
        desired: Set(job.desired),
        label: Set(job.label),
        cause: Set(job.cause),
        attempts: Set(0),
        next_run_at: Set(now),
        lease_owner: Set(None),
        lease_expires_at: Set(None),
        last_error: Set(None),
        changed_at: Set(timestamps::stored(job.changed_at)),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            jobs::Column::ApplicationId,
            jobs::Column::ObjectKind,
            jobs::Column::ObjectId,
        ])
        .target_and_where(Expr::cust(PENDING_PREDICATE))
        .update_columns([
            jobs::Column::Desired,
            jobs::Column::Label,
            jobs::Column::Cause,
            jobs::Column::Attempts,
            jobs::Column::NextRunAt,
            jobs::Column::LastError,
            jobs::Column::UpdatedAt,
        ])
        .value(jobs::Column::ChangedAt, Expr::cust(OLDER_CHANGED_AT))
        .to_owned(),
    )
    .exec_without_returning(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// `update` with the lease cleared and `updated_at` stamped.
fn unleased(update: UpdateMany<jobs::Entity>, now: OffsetDateTime) -> UpdateMany<jobs::Entity> {
    update
        .col_expr(
            jobs::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            jobs::Column::LeaseExpiresAt,
            Expr::value(Option::<OffsetDateTime>::None),
        )
        .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
}

/// Runs `update`, which makes jobs pending (or parked), on the jobs whose object
/// has no newer plan waiting (it adds `NOT EXISTS` a pending sibling), in a
/// savepoint, and again if it lost a race: on PostgreSQL a plan enqueued
/// concurrently is not in the statement's snapshot, and when it commits the update
/// breaks `ux_provisioning_jobs_pending`. The next try sees that plan and leaves
/// its object's job to the caller's "superseded" path. (SQLite runs writers one at
/// a time and never loses.)
async fn update_unless_superseded(
    txn: &DatabaseTransaction,
    update: impl Fn() -> UpdateMany<jobs::Entity>,
) -> Result<u64> {
    let mut lost = 0;
    loop {
        let savepoint = txn.begin().await.map_err(db_err)?;
        let statement = update().filter(sibling_in(JobState::Pending).not());
        match statement.exec(&savepoint).await {
            Ok(done) => {
                savepoint.commit().await.map_err(db_err)?;
                return Ok(done.rows_affected);
            }
            Err(e) if is_unique_violation(&e) && lost < MAX_LOST_RACES => {
                savepoint.rollback().await.map_err(db_err)?;
                lost += 1;
            }
            Err(e) => return Err(db_err(e)),
        }
    }
}

/// Gives expired job leases of `app` back: pending again, or dropped when a newer
/// plan already waits for the object. Its attempt stays counted.
async fn recover_expired(
    txn: &DatabaseTransaction,
    app: ApplicationId,
    now: OffsetDateTime,
) -> Result<()> {
    let expired = Condition::all()
        .add(jobs::Column::ApplicationId.eq(app.0))
        .add(in_state(JobState::InFlight))
        .add(jobs::Column::LeaseExpiresAt.lte(now));
    update_unless_superseded(txn, || {
        unleased(jobs::Entity::update_many(), now)
            .col_expr(jobs::Column::State, Expr::value(JobState::Pending.as_str()))
            .filter(expired.clone())
    })
    .await?;
    jobs::Entity::delete_many()
        .filter(expired)
        .filter(sibling_in(JobState::Pending))
        .exec(txn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// How an attempt ended, for [`SqlStore::end_attempt`].
enum Ending<'a> {
    Done,
    Retry {
        next_run_at: OffsetDateTime,
        error: &'a str,
    },
    Park {
        error: &'a str,
    },
}

impl SqlStore {
    fn is_postgres(&self) -> bool {
        self.conn().get_database_backend() == DbBackend::Postgres
    }

    /// Ends `owner`'s attempt at job `id` in one transaction: the job's new state,
    /// the remote mapping and the report row, or nothing when the lease is gone.
    async fn end_attempt(
        &self,
        id: i64,
        owner: &str,
        ending: Ending<'_>,
        remote: Option<RemoteChange>,
        report: Attempt,
    ) -> Result<bool> {
        let now = self.now();
        let txn = self.begin().await?;
        let result = async {
            let mut find = jobs::Entity::find().filter(held_by(id, owner));
            if self.is_postgres() {
                // Holds the row until commit, so a concurrent lease recovery waits.
                find = find.lock(LockType::Update);
            }
            let Some(job) = find.one(&txn).await.map_err(db_err)? else {
                return Ok(false);
            };
            let written = match ending {
                Ending::Done => 0,
                Ending::Retry { next_run_at, error } => {
                    back_to(
                        &txn,
                        id,
                        owner,
                        JobState::Pending,
                        Some(next_run_at),
                        error,
                        now,
                    )
                    .await?
                }
                Ending::Park { error } => {
                    back_to(&txn, id, owner, JobState::Parked, None, error, now).await?
                }
            };
            // Done, or superseded by a newer plan that waits for the object.
            if written == 0 {
                let deleted = jobs::Entity::delete_many()
                    .filter(held_by(id, owner))
                    .exec(&txn)
                    .await
                    .map_err(db_err)?;
                if deleted.rows_affected == 0 {
                    return Ok(false);
                }
            }
            let app = ApplicationId(job.application_id);
            let object = object_ref(&job.object_kind, job.object_id)?;
            if let Some(change) = remote {
                apply_remote(&txn, app, object, change, job.changed_at, now).await?;
            }
            insert_attempt(&txn, report, now).await?;
            Ok(true)
        }
        .await;
        finish(txn, result).await
    }
}

/// Moves `owner`'s job `id` to `state` (pending at `next_run_at`, or parked) with
/// `error`, unless a newer plan already waits for the object; rows changed.
async fn back_to(
    txn: &DatabaseTransaction,
    id: i64,
    owner: &str,
    state: JobState,
    next_run_at: Option<OffsetDateTime>,
    error: &str,
    now: OffsetDateTime,
) -> Result<u64> {
    let error = cut(error.to_owned(), MAX_MESSAGE_LEN);
    update_unless_superseded(txn, || {
        let mut update = unleased(jobs::Entity::update_many(), now)
            .col_expr(jobs::Column::State, Expr::value(state.as_str()))
            .col_expr(jobs::Column::LastError, Expr::value(error.as_str()));
        if let Some(at) = next_run_at {
            let at = timestamps::ceil(at);
            update = update.col_expr(jobs::Column::NextRunAt, Expr::value(at));
        }
        update.filter(held_by(id, owner))
    })
    .await
}

/// Deletes `app`'s jobs and remote mapping on `conn`, the transaction that deletes
/// the application (there is no foreign key to `applications`). The report stays.
pub(super) async fn delete_outbound_of(
    conn: &impl ConnectionTrait,
    app: ApplicationId,
) -> Result<()> {
    jobs::Entity::delete_many()
        .filter(jobs::Column::ApplicationId.eq(app.0))
        .exec(conn)
        .await
        .map_err(db_err)?;
    remote_objects::Entity::delete_many()
        .filter(remote_objects::Column::ApplicationId.eq(app.0))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

#[async_trait]
impl Jobs for SqlStore {
    async fn enqueue(&self, new: Vec<NewJob>, processed: &[i64]) -> Result<()> {
        let now = self.now();
        let txn = self.begin().await?;
        let result = async {
            mark_processed_in(&txn, processed, now).await?;
            let woke = !new.is_empty();
            for job in new {
                upsert_pending(&txn, job, now).await?;
            }
            if woke {
                // Delivered at commit: every instance's senders look at once.
                super::wakeups::notify_in(&txn).await?;
            }
            Ok(())
        }
        .await;
        finish(txn, result).await
    }

    async fn claim(
        &self,
        app: ApplicationId,
        owner: &str,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<Job>> {
        check_name("owner", owner)?;
        let limit = Ord::min(limit, MAX_CLAIM);
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now = self.now();
        let expires_at = lease_end(now, lease)?;
        let txn = self.begin().await?;
        let result = async {
            recover_expired(&txn, app, now).await?;
            let mut due = jobs::Entity::find()
                .filter(jobs::Column::ApplicationId.eq(app.0))
                .filter(in_state(JobState::Pending))
                .filter(jobs::Column::NextRunAt.lte(now))
                .filter(sibling_in(JobState::InFlight).not())
                .order_by_asc(jobs::Column::NextRunAt)
                .order_by_asc(jobs::Column::Id)
                .limit(u64::from(limit));
            if self.is_postgres() {
                due = due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
            }
            let mut claimed = Vec::new();
            for row in due.all(&txn).await.map_err(db_err)? {
                let attempts = row.attempts.saturating_add(1);
                let taken = jobs::Entity::update_many()
                    .col_expr(
                        jobs::Column::State,
                        Expr::value(JobState::InFlight.as_str()),
                    )
                    .col_expr(jobs::Column::LeaseOwner, Expr::value(owner))
                    .col_expr(jobs::Column::LeaseExpiresAt, Expr::value(expires_at))
                    .col_expr(jobs::Column::Attempts, Expr::value(attempts))
                    .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
                    .filter(jobs::Column::Id.eq(row.id))
                    .filter(in_state(JobState::Pending))
                    .exec(&txn)
                    .await
                    .map_err(db_err)?;
                if taken.rows_affected == 1 {
                    claimed.push(to_job(jobs::Model {
                        state: JobState::InFlight.as_str().to_owned(),
                        lease_owner: Some(owner.to_owned()),
                        lease_expires_at: Some(expires_at),
                        attempts,
                        updated_at: now,
                        ..row
                    })?);
                }
            }
            Ok(claimed)
        }
        .await;
        finish(txn, result).await
    }

    async fn renew(&self, ids: &[i64], owner: &str, lease: Duration) -> Result<()> {
        let now = self.now();
        let expires_at = lease_end(now, lease)?;
        for chunk in ids.chunks(MARK_CHUNK) {
            jobs::Entity::update_many()
                .col_expr(jobs::Column::LeaseExpiresAt, Expr::value(expires_at))
                .filter(jobs::Column::Id.is_in(chunk.iter().copied()))
                .filter(in_state(JobState::InFlight))
                .filter(jobs::Column::LeaseOwner.eq(owner))
                .exec(self.conn())
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }

    async fn complete(
        &self,
        job: i64,
        owner: &str,
        remote: Option<RemoteChange>,
        report: Attempt,
    ) -> Result<bool> {
        self.end_attempt(job, owner, Ending::Done, remote, report)
            .await
    }

    async fn retry(
        &self,
        job: i64,
        owner: &str,
        next_run_at: OffsetDateTime,
        error: &str,
        remote: Option<RemoteChange>,
        report: Attempt,
    ) -> Result<bool> {
        let ending = Ending::Retry { next_run_at, error };
        self.end_attempt(job, owner, ending, remote, report).await
    }

    async fn park(
        &self,
        job: i64,
        owner: &str,
        error: &str,
        remote: Option<RemoteChange>,
        report: Attempt,
    ) -> Result<bool> {
        self.end_attempt(job, owner, Ending::Park { error }, remote, report)
            .await
    }

    async fn release_all(&self, owner: &str) -> Result<u64> {
        let now = self.now();
        let txn = self.begin().await?;
        let result = async {
            let mine = Condition::all()
                .add(in_state(JobState::InFlight))
                .add(jobs::Column::LeaseOwner.eq(owner));
            // The claim counted an attempt that never ran.
            let released = update_unless_superseded(&txn, || {
                unleased(jobs::Entity::update_many(), now)
                    .col_expr(jobs::Column::State, Expr::value(JobState::Pending.as_str()))
                    .col_expr(
                        jobs::Column::Attempts,
                        Expr::col(jobs::Column::Attempts).sub(1),
                    )
                    .col_expr(jobs::Column::NextRunAt, Expr::value(now))
                    .filter(mine.clone())
            })
            .await?;
            // What is left has a newer plan waiting: that one goes instead.
            let superseded = jobs::Entity::delete_many()
                .filter(mine)
                .filter(sibling_in(JobState::Pending))
                .exec(&txn)
                .await
                .map_err(db_err)?;
            Ok(released + superseded.rows_affected)
        }
        .await;
        finish(txn, result).await
    }

    async fn retry_now(&self, app: ApplicationId, parked: bool) -> Result<u64> {
        let now = self.now();
        let txn = self.begin().await?;
        let result = async {
            let waiting = jobs::Entity::update_many()
                .col_expr(jobs::Column::NextRunAt, Expr::value(now))
                .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
                .filter(jobs::Column::ApplicationId.eq(app.0))
                .filter(in_state(JobState::Pending))
                .filter(jobs::Column::NextRunAt.gt(now))
                .exec(&txn)
                .await
                .map_err(db_err)?
                .rows_affected;
            if !parked {
                return Ok(waiting);
            }
            // A parked job has no pending sibling (a new plan drops it), unless
            // one is enqueued meanwhile: then that one wins.
            let revived = update_unless_superseded(&txn, || {
                jobs::Entity::update_many()
                    .col_expr(jobs::Column::State, Expr::value(JobState::Pending.as_str()))
                    .col_expr(jobs::Column::Attempts, Expr::value(0))
                    .col_expr(jobs::Column::NextRunAt, Expr::value(now))
                    .col_expr(jobs::Column::UpdatedAt, Expr::value(now))
                    .filter(jobs::Column::ApplicationId.eq(app.0))
                    .filter(in_state(JobState::Parked))
            })
            .await?;
            Ok(waiting + revived)
        }
        .await;
        finish(txn, result).await
    }

    async fn status(&self, app: ApplicationId) -> Result<QueueStatus> {
        let counts: Vec<(String, i64)> = jobs::Entity::find()
            .select_only()
            .column(jobs::Column::State)
            .column_as(jobs::Column::Id.count(), "n")
            .filter(jobs::Column::ApplicationId.eq(app.0))
            .group_by(jobs::Column::State)
            .into_tuple()
            .all(self.conn())
            .await
            .map_err(db_err)?;
        let mut status = QueueStatus::default();
        for (state, n) in counts {
            let n = u64::try_from(n).unwrap_or_default();
            match JobState::parse(&state) {
                Some(JobState::Pending) => status.pending = n,
                Some(JobState::InFlight) => status.in_flight = n,
                Some(JobState::Parked) => status.parked = n,
                None => return Err(Error::Internal(format!("job state {state:?} is unknown"))),
            }
        }
        status.oldest_change = jobs::Entity::find()
            .filter(jobs::Column::ApplicationId.eq(app.0))
            .filter(
                jobs::Column::State
                    .is_in([JobState::Pending.as_str(), JobState::InFlight.as_str()]),
            )
            .order_by_asc(jobs::Column::ChangedAt)
            .one(self.conn())
            .await
            .map_err(db_err)?
            .map(|oldest| oldest.changed_at);
        Ok(status)
    }

    async fn list_jobs(&self, app: ApplicationId, limit: u32) -> Result<Vec<Job>> {
        let limit = PageRequest::first(limit).effective_limit();
        let state_order: Expr = CaseStatement::new()
            .case(in_state(JobState::Pending), 0)
            .case(in_state(JobState::InFlight), 1)
            .finally(2)
            .into();
        jobs::Entity::find()
            .filter(jobs::Column::ApplicationId.eq(app.0))
            .order_by_asc(state_order)
            .order_by_asc(jobs::Column::Id)
            .limit(u64::from(limit))
            .all(self.conn())
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_job)
            .collect()
    }

    async fn jobs_of(&self, object: ObjectRef) -> Result<Vec<Job>> {
        // At most one pending, one in flight and one parked per app: a bounded read.
        jobs::Entity::find()
            .filter(jobs::Column::ObjectKind.eq(object.kind()))
            .filter(jobs::Column::ObjectId.eq(object_uuid(object)))
            .order_by_asc(jobs::Column::ApplicationId)
            .order_by_asc(jobs::Column::Id)
            .all(self.conn())
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_job)
            .collect()
    }

    async fn apps_with_due_jobs(&self) -> Result<Vec<ApplicationId>> {
        let now = self.now();
        let due = Condition::any()
            .add(
                Condition::all()
                    .add(in_state(JobState::Pending))
                    .add(jobs::Column::NextRunAt.lte(now)),
            )
            .add(
                Condition::all()
                    .add(in_state(JobState::InFlight))
                    .add(jobs::Column::LeaseExpiresAt.lte(now)),
            );
        let apps: Vec<Uuid> = jobs::Entity::find()
            .select_only()
            .column(jobs::Column::ApplicationId)
            .distinct()
            .filter(due)
            .order_by_asc(jobs::Column::ApplicationId)
            .into_tuple()
            .all(self.conn())
            .await
            .map_err(db_err)?;
        Ok(apps.into_iter().map(ApplicationId).collect())
    }
}
