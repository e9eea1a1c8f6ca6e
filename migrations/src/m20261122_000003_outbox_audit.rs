//! The outbox of lifecycle events and the audit log.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_pk_auto, json, string, string_null, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

use crate::m20261122_000001_directory::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OutboxEvents {
    Table,
    Id,
    Kind,
    Payload,
    OccurredAt,
    ProcessedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    Actor,
    Action,
    Target,
    Details,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OutboxEvents::Table)
                    .col(big_pk_auto(OutboxEvents::Id))
                    .col(string(OutboxEvents::Kind))
                    .col(json(OutboxEvents::Payload))
                    .col(timestamp_with_time_zone(OutboxEvents::OccurredAt))
                    .col(timestamp_with_time_zone_null(OutboxEvents::ProcessedAt))
                    .to_owned(),
            )
            .await?;
        // Consumers ask for "unprocessed, id > cursor, by id": a partial index keeps
        // that cheap however many processed events pile up.
        manager
            .create_index(
                Index::create()
                    .name("ix_outbox_events_pending")
                    .table(OutboxEvents::Table)
                    .col(OutboxEvents::Id)
                    .and_where(Expr::col(OutboxEvents::ProcessedAt).is_null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(big_pk_auto(AuditLog::Id))
                    .col(timestamp_with_time_zone(AuditLog::At))
                    .col(string(AuditLog::Actor))
                    .col(string(AuditLog::Action))
                    .col(string_null(AuditLog::Target))
                    .col(json(AuditLog::Details))
                    .to_owned(),
            )
            .await?;
        index(manager, "ix_audit_log_at", AuditLog::Table, [AuditLog::At]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLog::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(OutboxEvents::Table).to_owned())
            .await
    }
}
