//! The append-only audit log.

use async_trait::async_trait;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use time::OffsetDateTime;
use usher_core::ports::AuditLog;
use usher_core::{AuditEntry, NewAuditEntry, PageRequest, Result};

use super::SqlStore;
use super::entities::audit_log;
use super::errors::db_err;
use super::timestamps;

/// Appends an audit record on `conn`, the transaction that makes the change.
pub(crate) async fn record_in(
    conn: &impl ConnectionTrait,
    at: OffsetDateTime,
    actor: &str,
    action: &str,
    target: &str,
) -> Result<()> {
    audit_log::Entity::insert(audit_log::ActiveModel {
        id: NotSet,
        at: Set(at),
        actor: Set(actor.to_owned()),
        action: Set(action.to_owned()),
        target: Set(Some(target.to_owned())),
        details: Set(serde_json::Value::Object(serde_json::Map::new())),
    })
    .exec_without_returning(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

fn to_entry(row: audit_log::Model) -> AuditEntry {
    AuditEntry {
        id: row.id,
        at: row.at,
        actor: row.actor,
        action: row.action,
        target: row.target,
        details: row.details,
    }
}

#[async_trait]
impl AuditLog for SqlStore {
    async fn record(&self, entry: NewAuditEntry) -> Result<AuditEntry> {
        let at = self.now();
        let inserted = audit_log::Entity::insert(audit_log::ActiveModel {
            id: NotSet,
            at: Set(at),
            actor: Set(entry.actor.clone()),
            action: Set(entry.action.clone()),
            target: Set(entry.target.clone()),
            details: Set(entry.details.clone()),
        })
        .exec(self.conn())
        .await
        .map_err(db_err)?;
        Ok(AuditEntry {
            id: inserted.last_insert_id,
            at,
            actor: entry.actor,
            action: entry.action,
            target: entry.target,
            details: entry.details,
        })
    }

    async fn between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        let limit = PageRequest::first(limit).effective_limit();
        // Stored times are whole seconds, so rounding the bounds up keeps `[from, to)`
        // exact while comparing values of the same shape (see `timestamps`).
        let rows = audit_log::Entity::find()
            .filter(audit_log::Column::At.gte(timestamps::ceil(from)))
            .filter(audit_log::Column::At.lt(timestamps::ceil(to)))
            .order_by_asc(audit_log::Column::At)
            .order_by_asc(audit_log::Column::Id)
            .limit(u64::from(limit))
            .all(self.conn())
            .await
            .map_err(db_err)?;
        Ok(rows.into_iter().map(to_entry).collect())
    }
}
