//! Applications (downstream apps) and upstream IdPs.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{boolean, json, string, timestamp_with_time_zone, uuid};

use crate::m20261122_000001_directory::unique;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
    Name,
    Kind,
    ProtocolKey,
    Access,
    Enabled,
    Settings,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Upstreams {
    Table,
    Id,
    Kind,
    DisplayName,
    Enabled,
    Settings,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Applications::Table)
                    .col(uuid(Applications::Id).primary_key())
                    .col(string(Applications::Name))
                    .col(string(Applications::Kind))
                    .col(string(Applications::ProtocolKey))
                    .col(json(Applications::Access))
                    .col(boolean(Applications::Enabled))
                    .col(json(Applications::Settings))
                    .col(timestamp_with_time_zone(Applications::CreatedAt))
                    .col(timestamp_with_time_zone(Applications::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "ux_applications_name",
            Applications::Table,
            [Applications::Name],
        )
        .await?;
        // One client_id / entity id per protocol: two apps answering to the same
        // client_id would let one receive tokens meant for the other.
        unique(
            manager,
            "ux_applications_protocol_key",
            Applications::Table,
            [Applications::Kind, Applications::ProtocolKey],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Upstreams::Table)
                    .col(string(Upstreams::Id))
                    .col(string(Upstreams::Kind))
                    .col(string(Upstreams::DisplayName))
                    .col(boolean(Upstreams::Enabled))
                    .col(json(Upstreams::Settings))
                    .col(timestamp_with_time_zone(Upstreams::CreatedAt))
                    .col(timestamp_with_time_zone(Upstreams::UpdatedAt))
                    .primary_key(Index::create().name("pk_upstreams").col(Upstreams::Id))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Upstreams::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Applications::Table).to_owned())
            .await
    }
}
