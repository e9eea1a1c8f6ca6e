//! `RemoteObjects` for [`SqlStore`]: the remote mapping (what each app holds for a
//! local user or group) and the outbound report. Both are written only by the job
//! transactions in `jobs.rs`, through [`apply_remote`] and [`insert_attempt`], so a
//! report row never exists without the job state change it belongs to.

use async_trait::async_trait;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use time::OffsetDateTime;
use usher_core::outbound::{
    Attempt, AttemptEntry, AttemptQuery, AttemptResult, ObjectRef, RemoteChange, RemoteObject,
    RemoteState,
};
use usher_core::ports::RemoteObjects;
use usher_core::{ApplicationId, Error, PageRequest, Result, UserId};

use super::SqlStore;
use super::entities::{outbound_attempts, remote_objects};
use super::errors::db_err;
use super::objects::{object_ref, object_uuid};
use super::provision::cut;
use super::timestamps;

/// Longest label (username, group name) kept in a report row.
const MAX_LABEL_LEN: usize = 512;
/// Longest operation name kept.
const MAX_OPERATION_LEN: usize = 64;
/// Longest remote error code kept: the app chose it, so it is cut, never refused.
const MAX_REMOTE_CODE_LEN: usize = 256;
/// Longest message kept (the app's error text is quoted in it).
pub(super) const MAX_MESSAGE_LEN: usize = 2048;
/// Report rows deleted per statement by the prune, so it never holds a long lock.
const PRUNE_BATCH: u64 = 1000;

/// Applies what an attempt learned about `object` in `app`, on `conn` (the job's
/// transaction). `changed_at` is the job's: when the change it pushed was committed.
pub(super) async fn apply_remote(
    conn: &impl ConnectionTrait,
    app: ApplicationId,
    object: ObjectRef,
    change: RemoteChange,
    changed_at: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<()> {
    let key = (app.0, object.kind().to_owned(), object_uuid(object));
    match change {
        RemoteChange::Forget => {
            remote_objects::Entity::delete_by_id(key)
                .exec(conn)
                .await
                .map_err(db_err)?;
        }
        RemoteChange::Upsert {
            remote_id,
            state,
            pushed,
            digest,
        } => {
            let (application_id, object_kind, object_id) = key;
            remote_objects::Entity::insert(remote_objects::ActiveModel {
                application_id: Set(application_id),
                object_kind: Set(object_kind),
                object_id: Set(object_id),
                remote_id: Set(remote_id),
                state: Set(state.as_str().to_owned()),
                pushed: Set(pushed),
                digest: Set(digest),
                changed_at: Set(timestamps::stored(changed_at)),
                acknowledged_at: Set(now),
            })
            .on_conflict(
                OnConflict::columns([
                    remote_objects::Column::ApplicationId,
                    remote_objects::Column::ObjectKind,
                    remote_objects::Column::ObjectId,
                ])
                .update_columns([
                    remote_objects::Column::RemoteId,
                    remote_objects::Column::State,
                    remote_objects::Column::Pushed,
                    remote_objects::Column::Digest,
                    remote_objects::Column::ChangedAt,
                    remote_objects::Column::AcknowledgedAt,
                ])
                .to_owned(),
            )
            .exec_without_returning(conn)
            .await
            .map_err(db_err)?;
        }
    }
    Ok(())
}

/// Writes one report row on `conn` (the job's transaction), stamped `at`.
pub(super) async fn insert_attempt(
    conn: &impl ConnectionTrait,
    attempt: Attempt,
    at: OffsetDateTime,
) -> Result<()> {
    outbound_attempts::Entity::insert(outbound_attempts::ActiveModel {
        id: NotSet,
        at: Set(at),
        application_id: Set(attempt.app.0),
        object_kind: Set(attempt.object.kind().to_owned()),
        object_id: Set(object_uuid(attempt.object)),
        label: Set(cut(attempt.label, MAX_LABEL_LEN)),
        operation: Set(cut(attempt.operation, MAX_OPERATION_LEN)),
        result: Set(attempt.result.as_str().to_owned()),
        remote_code: Set(attempt.remote_code.map(|c| cut(c, MAX_REMOTE_CODE_LEN))),
        message: Set(attempt.message.map(|m| cut(m, MAX_MESSAGE_LEN))),
        http_status: Set(attempt.http_status.map(i32::from)),
        duration_ms: Set(i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX)),
        attempt: Set(i32::try_from(attempt.attempt).unwrap_or(i32::MAX)),
    })
    .exec_without_returning(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

fn to_remote(row: remote_objects::Model) -> Result<RemoteObject> {
    let state = RemoteState::parse(&row.state).ok_or_else(|| {
        Error::Internal(format!("remote object state {:?} is unknown", row.state))
    })?;
    Ok(RemoteObject {
        app: ApplicationId(row.application_id),
        object: object_ref(&row.object_kind, row.object_id)?,
        remote_id: row.remote_id,
        state,
        pushed: row.pushed,
        digest: row.digest,
        changed_at: row.changed_at,
        acknowledged_at: row.acknowledged_at,
    })
}

fn to_attempt(row: outbound_attempts::Model) -> Result<AttemptEntry> {
    let corrupt = |what: &str| Error::Internal(format!("outbound attempt {}: bad {what}", row.id));
    Ok(AttemptEntry {
        id: row.id,
        at: row.at,
        attempt: Attempt {
            app: ApplicationId(row.application_id),
            object: object_ref(&row.object_kind, row.object_id)?,
            label: row.label.clone(),
            operation: row.operation.clone(),
            result: AttemptResult::parse(&row.result).ok_or_else(|| corrupt("result"))?,
            remote_code: row.remote_code.clone(),
            message: row.message.clone(),
            http_status: row
                .http_status
                .map(u16::try_from)
                .transpose()
                .map_err(|_| corrupt("http_status"))?,
            duration_ms: u64::try_from(row.duration_ms).map_err(|_| corrupt("duration_ms"))?,
            attempt: u32::try_from(row.attempt).map_err(|_| corrupt("attempt"))?,
        },
    })
}

#[async_trait]
impl RemoteObjects for SqlStore {
    async fn remote_object(
        &self,
        app: ApplicationId,
        object: ObjectRef,
    ) -> Result<Option<RemoteObject>> {
        remote_objects::Entity::find_by_id((app.0, object.kind().to_owned(), object_uuid(object)))
            .one(self.conn())
            .await
            .map_err(db_err)?
            .map(to_remote)
            .transpose()
    }

    async fn remote_objects_of_user(&self, user: UserId) -> Result<Vec<RemoteObject>> {
        remote_objects::Entity::find()
            .filter(remote_objects::Column::ObjectKind.eq(ObjectRef::User(user).kind()))
            .filter(remote_objects::Column::ObjectId.eq(user.0))
            .order_by_asc(remote_objects::Column::ApplicationId)
            .all(self.conn())
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_remote)
            .collect()
    }

    async fn mapped_users(
        &self,
        app: ApplicationId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<UserId>> {
        let limit = PageRequest::first(limit).effective_limit();
        let mut select = remote_objects::Entity::find()
            .select_only()
            .column(remote_objects::Column::ObjectId)
            .filter(remote_objects::Column::ApplicationId.eq(app.0))
            .filter(remote_objects::Column::ObjectKind.eq("user"))
            .filter(remote_objects::Column::State.is_in([
                RemoteState::Active.as_str(),
                RemoteState::Deactivated.as_str(),
            ]));
        if let Some(after) = after {
            select = select.filter(remote_objects::Column::ObjectId.gt(after.0));
        }
        let ids: Vec<sea_orm::prelude::Uuid> = select
            .order_by_asc(remote_objects::Column::ObjectId)
            .limit(u64::from(limit))
            .into_tuple()
            .all(self.conn())
            .await
            .map_err(db_err)?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    async fn attempts(&self, query: &AttemptQuery) -> Result<Vec<AttemptEntry>> {
        let limit = PageRequest::first(query.limit).effective_limit();
        let mut select = outbound_attempts::Entity::find();
        if let Some(object) = query.object {
            select = select
                .filter(outbound_attempts::Column::ObjectKind.eq(object.kind()))
                .filter(outbound_attempts::Column::ObjectId.eq(object_uuid(object)));
        }
        if let Some(app) = query.app {
            select = select.filter(outbound_attempts::Column::ApplicationId.eq(app.0));
        }
        if let Some(result) = query.result {
            select = select.filter(outbound_attempts::Column::Result.eq(result.as_str()));
        }
        // Whole seconds, rounded up: `[since, until)` exact (see `timestamps`).
        if let Some(since) = query.since {
            select = select.filter(outbound_attempts::Column::At.gte(timestamps::ceil(since)));
        }
        if let Some(until) = query.until {
            select = select.filter(outbound_attempts::Column::At.lt(timestamps::ceil(until)));
        }
        select = if query.newest_first {
            select
                .order_by_desc(outbound_attempts::Column::At)
                .order_by_desc(outbound_attempts::Column::Id)
        } else {
            select
                .order_by_asc(outbound_attempts::Column::At)
                .order_by_asc(outbound_attempts::Column::Id)
        };
        select
            .limit(u64::from(limit))
            .all(self.conn())
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_attempt)
            .collect()
    }

    async fn prune_attempts(&self, before: OffsetDateTime) -> Result<u64> {
        let before = timestamps::ceil(before);
        let mut total = 0;
        loop {
            let batch = Query::select()
                .column(outbound_attempts::Column::Id)
                .from(outbound_attempts::Entity)
                .and_where(outbound_attempts::Column::At.lt(before))
                .order_by(outbound_attempts::Column::Id, sea_orm::Order::Asc)
                .limit(PRUNE_BATCH)
                .to_owned();
            let deleted = outbound_attempts::Entity::delete_many()
                .filter(outbound_attempts::Column::Id.in_subquery(batch))
                .exec(self.conn())
                .await
                .map_err(db_err)?;
            total += deleted.rows_affected;
            if deleted.rows_affected < PRUNE_BATCH {
                return Ok(total);
            }
        }
    }
}
