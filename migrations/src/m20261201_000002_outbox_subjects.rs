//! The outbox, made fit to be consumed: every event gets a subject (the object it
//! is about, as a kind and an id, indexed together), an actor (who made the
//! change) and a schema version (the payload's shape); processed events get an
//! index on `processed_at`, so pruning them does not scan the table.
//!
//! Rows written before (schema version 1) get their subject from their payload and
//! `system` as their actor, and are marked processed: their payloads are of the
//! old shape (`group_changed`, a `user_deleted` without a snapshot), which today's
//! reader refuses, and nothing consumed them, so there is no progress to keep. The
//! planner's first pass over each app (the `application_changed` its first sync
//! announces) plans everyone from the directory as it is, which is what those
//! events would have told it. They are pruned with the rest once old.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, string, string_null, uuid_null};
use sea_orm_migration::sea_orm::prelude::{TimeDateTimeWithTimeZone, Uuid};
use sea_orm_migration::sea_orm::{ConnectionTrait, JsonValue};

use crate::m20261122_000001_directory::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OutboxEvents {
    Table,
    Id,
    Payload,
    ProcessedAt,
    SubjectKind,
    SubjectId,
    Actor,
    SchemaVersion,
}

/// Old rows read and updated per round.
const BATCH: u64 = 500;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite takes no more. The store always writes a
        // subject; the columns allow NULL only because SQLite cannot add a NOT NULL
        // column without a default, and a subject has none.
        add_column(manager, string_null(OutboxEvents::SubjectKind)).await?;
        add_column(manager, uuid_null(OutboxEvents::SubjectId)).await?;
        add_column(
            manager,
            string(OutboxEvents::Actor).default("system").to_owned(),
        )
        .await?;
        add_column(
            manager,
            integer(OutboxEvents::SchemaVersion).default(1).to_owned(),
        )
        .await?;

        fill_subjects(manager).await?;
        let now = TimeDateTimeWithTimeZone::now_utc()
            .replace_nanosecond(0)
            .map_err(|e| DbErr::Custom(format!("now: {e}")))?;
        manager
            .exec_stmt(
                Query::update()
                    .table(OutboxEvents::Table)
                    .value(OutboxEvents::ProcessedAt, now)
                    .and_where(Expr::col(OutboxEvents::ProcessedAt).is_null())
                    .to_owned(),
            )
            .await?;

        // "Everything about this user", oldest first.
        index(
            manager,
            "ix_outbox_events_subject",
            OutboxEvents::Table,
            [
                OutboxEvents::SubjectKind,
                OutboxEvents::SubjectId,
                OutboxEvents::Id,
            ],
        )
        .await?;
        // Pruning: processed before a time.
        index(
            manager,
            "ix_outbox_events_processed_at",
            OutboxEvents::Table,
            [OutboxEvents::ProcessedAt],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["ix_outbox_events_processed_at", "ix_outbox_events_subject"] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(OutboxEvents::Table)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            OutboxEvents::SchemaVersion,
            OutboxEvents::Actor,
            OutboxEvents::SubjectId,
            OutboxEvents::SubjectKind,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(OutboxEvents::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

async fn add_column(manager: &SchemaManager<'_>, column: ColumnDef) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table(OutboxEvents::Table)
                .add_column(column)
                .to_owned(),
        )
        .await
}

/// Sets each old row's subject from its payload, in batches by id. A payload
/// that names no id keeps a NULL subject (it was unreadable anyway).
async fn fill_subjects(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let mut after = 0_i64;
    loop {
        let rows = db
            .query_all(
                Query::select()
                    .columns([OutboxEvents::Id, OutboxEvents::Payload])
                    .from(OutboxEvents::Table)
                    .and_where(Expr::col(OutboxEvents::Id).gt(after))
                    .order_by(OutboxEvents::Id, Order::Asc)
                    .limit(BATCH),
            )
            .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.try_get("", "id")?;
        for row in rows {
            let id: i64 = row.try_get("", "id")?;
            let payload: JsonValue = row.try_get("", "payload")?;
            let Some((kind, subject)) = subject_of(&payload) else {
                continue;
            };
            db.execute(
                Query::update()
                    .table(OutboxEvents::Table)
                    .value(OutboxEvents::SubjectKind, kind)
                    .value(OutboxEvents::SubjectId, subject)
                    .and_where(Expr::col(OutboxEvents::Id).eq(id)),
            )
            .await?;
        }
    }
}

/// A version 1 payload's subject, as version 2 names it: a membership event is
/// about its user.
fn subject_of(payload: &JsonValue) -> Option<(&'static str, Uuid)> {
    [
        ("user_id", "user"),
        ("group_id", "group"),
        ("application_id", "application"),
    ]
    .into_iter()
    .find_map(|(field, kind)| {
        let id = payload.get(field)?.as_str()?;
        Some((kind, Uuid::parse_str(id).ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_payloads_name_their_subject() {
        let user = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
        let group = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0002);
        let joined = serde_json_value(&format!(
            r#"{{"type":"membership_added","group_id":"{group}","user_id":"{user}"}}"#
        ));
        assert_eq!(subject_of(&joined), Some(("user", user)));
        let changed = serde_json_value(&format!(
            r#"{{"type":"group_changed","group_id":"{group}"}}"#
        ));
        assert_eq!(subject_of(&changed), Some(("group", group)));
        let junk = serde_json_value(r#"{"type":"user_created","user_id":"not-a-uuid"}"#);
        assert_eq!(subject_of(&junk), None);
    }

    fn serde_json_value(text: &str) -> JsonValue {
        sea_orm_migration::sea_orm::sea_query::prelude::serde_json::from_str(text)
            .expect("test JSON")
    }
}
