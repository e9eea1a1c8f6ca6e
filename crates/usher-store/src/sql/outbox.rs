//! The outbox: lifecycle events written inside directory transactions, read in id
//! order by the provisioning planner, pruned once processed and old.

use async_trait::async_trait;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use time::OffsetDateTime;
use usher_core::ports::{Outbox, OutboxRow, UnreadableEvent};
use usher_core::{
    Error, LifecycleEvent, OutboxEvent, PageRequest, Result, SCHEMA_VERSION, Subject,
};

use super::SqlStore;
use super::entities::outbox_events;
use super::errors::db_err;
use super::timestamps;

/// Ids per `UPDATE ... WHERE id IN (...)`, well under every backend's bind limit.
const MARK_CHUNK: usize = 500;
/// Rows per pruning `DELETE`: each is its own short statement, so writers (whose
/// events insert into the same table) wait at most for one batch.
const PRUNE_BATCH: u64 = 1_000;

/// Appends `event` to the outbox on `conn`, which must be the transaction that makes
/// the change the event describes. `actor` is who made it (`scim:<client>`,
/// `jit:<upstream>`, `cli:<os user>`, `config`, or [`usher_core::SYSTEM_ACTOR`]).
pub(crate) async fn emit(
    conn: &impl ConnectionTrait,
    event: LifecycleEvent,
    actor: &str,
    at: OffsetDateTime,
) -> Result<()> {
    let payload = serde_json::to_value(&event)
        .map_err(|e| Error::Internal(format!("serializing {}: {e}", event.kind())))?;
    let subject = event.subject();
    outbox_events::Entity::insert(outbox_events::ActiveModel {
        id: NotSet,
        kind: Set(event.kind().to_owned()),
        payload: Set(payload),
        occurred_at: Set(at),
        processed_at: Set(None),
        subject_kind: Set(Some(subject.kind().to_owned())),
        subject_id: Set(Some(subject.id())),
        actor: Set(actor.to_owned()),
        schema_version: Set(SCHEMA_VERSION),
    })
    .exec_without_returning(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Marks events handled on `conn`; ids already marked keep their first time. For a
/// consumer in this crate that writes its results in its own transaction (the job
/// queue): passing that transaction makes the results and the marks one commit.
pub(crate) async fn mark_processed_in(
    conn: &impl ConnectionTrait,
    ids: &[i64],
    now: OffsetDateTime,
) -> Result<()> {
    for chunk in ids.chunks(MARK_CHUNK) {
        outbox_events::Entity::update_many()
            .col_expr(outbox_events::Column::ProcessedAt, Expr::value(now))
            .filter(outbox_events::Column::Id.is_in(chunk.iter().copied()))
            // Keeps the first processing time when a consumer retries.
            .filter(outbox_events::Column::ProcessedAt.is_null())
            .exec(conn)
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

fn to_event(row: outbox_events::Model) -> Result<OutboxEvent> {
    let corrupt = |what: String| Error::Internal(format!("outbox event {} {what}", row.id));
    // Rows of an older shape are marked processed by the migration that
    // introduced the new one; one seen here was written by an older usher still
    // running against this database.
    if row.schema_version != SCHEMA_VERSION {
        return Err(corrupt(format!(
            "has schema version {}, this usher reads {SCHEMA_VERSION}: upgrade every instance",
            row.schema_version
        )));
    }
    let event: LifecycleEvent = serde_json::from_value(row.payload.clone())
        .map_err(|e| corrupt(format!("is corrupt: {e}")))?;
    let subject = match (&row.subject_kind, row.subject_id) {
        (Some(kind), Some(id)) => Subject::from_parts(kind, id),
        _ => None,
    }
    .ok_or_else(|| corrupt("has no valid subject".into()))?;
    if subject != event.subject() {
        return Err(corrupt("has a subject its payload does not name".into()));
    }
    Ok(OutboxEvent {
        id: row.id,
        event,
        subject,
        actor: row.actor,
        schema_version: row.schema_version,
        occurred_at: row.occurred_at,
        processed_at: row.processed_at,
    })
}

/// Reads a row the tolerant way: an unreadable one becomes [`OutboxRow::Unreadable`].
fn to_row(row: outbox_events::Model) -> OutboxRow {
    let id = row.id;
    // A shape from a newer usher is left for it (a rolling upgrade); an older
    // one is marked processed by the migration that introduced this one.
    let newer = row.schema_version > SCHEMA_VERSION;
    match to_event(row) {
        Ok(event) => OutboxRow::Event(event),
        Err(e) => OutboxRow::Unreadable(UnreadableEvent {
            id,
            newer,
            reason: e.to_string(),
        }),
    }
}

impl SqlStore {
    /// The unprocessed rows after `after`, oldest first.
    async fn unprocessed_models(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<outbox_events::Model>> {
        let limit = PageRequest::first(limit).effective_limit();
        outbox_events::Entity::find()
            .filter(outbox_events::Column::ProcessedAt.is_null())
            .filter(outbox_events::Column::Id.gt(after))
            .order_by_asc(outbox_events::Column::Id)
            .limit(u64::from(limit))
            .all(self.conn())
            .await
            .map_err(db_err)
    }
}

#[async_trait]
impl Outbox for SqlStore {
    async fn unprocessed(&self, after: i64, limit: u32) -> Result<Vec<OutboxEvent>> {
        self.unprocessed_models(after, limit)
            .await?
            .into_iter()
            .map(to_event)
            .collect()
    }

    async fn unprocessed_rows(&self, after: i64, limit: u32) -> Result<Vec<OutboxRow>> {
        Ok(self
            .unprocessed_models(after, limit)
            .await?
            .into_iter()
            .map(to_row)
            .collect())
    }

    async fn mark_processed(&self, ids: &[i64]) -> Result<()> {
        mark_processed_in(self.conn(), ids, self.now()).await
    }

    async fn prune_processed(&self, older_than: OffsetDateTime) -> Result<u64> {
        // Whole seconds, rounded up: `processed_at < older_than` exact (see
        // `timestamps`).
        let before = timestamps::ceil(older_than);
        let mut pruned = 0;
        loop {
            // DELETE ... WHERE id IN (SELECT id ... LIMIT n): both backends take
            // it, and neither has a portable DELETE ... LIMIT.
            let batch = Query::select()
                .column(outbox_events::Column::Id)
                .from(outbox_events::Entity)
                .and_where(outbox_events::Column::ProcessedAt.is_not_null())
                .and_where(outbox_events::Column::ProcessedAt.lt(before))
                .order_by(outbox_events::Column::Id, sea_orm::Order::Asc)
                .limit(PRUNE_BATCH)
                .to_owned();
            let deleted = outbox_events::Entity::delete_many()
                .filter(outbox_events::Column::Id.in_subquery(batch))
                .exec(self.conn())
                .await
                .map_err(db_err)?
                .rows_affected;
            pruned += deleted;
            if deleted < PRUNE_BATCH {
                return Ok(pruned);
            }
        }
    }
}
