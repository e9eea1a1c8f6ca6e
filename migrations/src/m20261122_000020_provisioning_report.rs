//! The provisioning report: one row per JIT decision (created, updated, linked,
//! signed_in, denied), with the upstream, subject, user, client address and time.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_pk_auto, string, string_null, timestamp_with_time_zone, uuid_null,
};

use crate::m20261122_000001_directory::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ProvisioningReport {
    Table,
    Id,
    At,
    UpstreamId,
    Subject,
    UserId,
    Decision,
    Reason,
    ClientIp,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // No foreign keys: the report outlives the users and upstreams it names
        // (a deleted user's history is exactly what an auditor asks about).
        manager
            .create_table(
                Table::create()
                    .table(ProvisioningReport::Table)
                    .col(big_pk_auto(ProvisioningReport::Id))
                    .col(timestamp_with_time_zone(ProvisioningReport::At))
                    .col(string(ProvisioningReport::UpstreamId))
                    .col(string(ProvisioningReport::Subject))
                    .col(uuid_null(ProvisioningReport::UserId))
                    .col(string(ProvisioningReport::Decision))
                    .col(string_null(ProvisioningReport::Reason))
                    .col(string_null(ProvisioningReport::ClientIp))
                    .to_owned(),
            )
            .await?;
        // The three queries: by time, by user over time, by upstream over time.
        index(
            manager,
            "ix_provisioning_report_at",
            ProvisioningReport::Table,
            [ProvisioningReport::At],
        )
        .await?;
        index(
            manager,
            "ix_provisioning_report_user",
            ProvisioningReport::Table,
            [ProvisioningReport::UserId, ProvisioningReport::At],
        )
        .await?;
        index(
            manager,
            "ix_provisioning_report_upstream",
            ProvisioningReport::Table,
            [ProvisioningReport::UpstreamId, ProvisioningReport::At],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ProvisioningReport::Table).to_owned())
            .await
    }
}
