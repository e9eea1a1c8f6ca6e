//! The outbox: lifecycle events written inside directory transactions, read in id
//! order by the provisioning engine.

use async_trait::async_trait;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use time::OffsetDateTime;
use usher_core::ports::{Outbox, OutboxRow, UnreadableEvent};
use usher_core::{Error, LifecycleEvent, OutboxEvent, PageRequest, Result};

use super::SqlStore;
use super::entities::outbox_events;
use super::errors::db_err;

/// Ids per `UPDATE ... WHERE id IN (...)`, well under every backend's bind limit.
const MARK_CHUNK: usize = 500;

/// Appends `event` to the outbox on `conn`, which must be the transaction that makes
/// the change the event describes.
pub(crate) async fn emit(
    conn: &impl ConnectionTrait,
    event: LifecycleEvent,
    at: OffsetDateTime,
) -> Result<()> {
    let payload = serde_json::to_value(&event)
        .map_err(|e| Error::Internal(format!("serializing {}: {e}", event.kind())))?;
    outbox_events::Entity::insert(outbox_events::ActiveModel {
        id: NotSet,
        kind: Set(event.kind().to_owned()),
        payload: Set(payload),
        occurred_at: Set(at),
        processed_at: Set(None),
    })
    .exec_without_returning(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

fn to_event(row: outbox_events::Model) -> Result<OutboxEvent> {
    let event = serde_json::from_value(row.payload)
        .map_err(|e| Error::Internal(format!("outbox event {} is corrupt: {e}", row.id)))?;
    Ok(OutboxEvent {
        id: row.id,
        event,
        occurred_at: row.occurred_at,
        processed_at: row.processed_at,
    })
}

/// Reads a row the tolerant way: an unreadable one becomes [`OutboxRow::Unreadable`].
fn to_row(row: outbox_events::Model) -> OutboxRow {
    let id = row.id;
    match to_event(row) {
        Ok(event) => OutboxRow::Event(event),
        Err(e) => OutboxRow::Unreadable(UnreadableEvent {
            id,
            // This schema has no version column yet: every unreadable row is
            // corrupt as far as this usher can tell.
            newer: false,
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
        let now = self.now();
        for chunk in ids.chunks(MARK_CHUNK) {
            outbox_events::Entity::update_many()
                .col_expr(outbox_events::Column::ProcessedAt, Expr::value(now))
                .filter(outbox_events::Column::Id.is_in(chunk.iter().copied()))
                // Keeps the first processing time when a consumer retries.
                .filter(outbox_events::Column::ProcessedAt.is_null())
                .exec(self.conn())
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }
}
