//! Inbound SCIM: a version on users and groups (the ETag), the provisioning source
//! that owns a user or group (which SCIM client may see and change it), the kind
//! of an email address (SCIM `type`), and the SCIM clients' token digests.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, boolean, string, string_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null,
};

use crate::m20261122_000001_directory::{index, unique};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Version,
    ProvisionedBy,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Version,
    ProvisionedBy,
}

#[derive(DeriveIden)]
enum UserEmails {
    Table,
    Kind,
}

#[derive(DeriveIden)]
enum ScimClients {
    Table,
    Name,
    TokenDigest,
    CreatedAt,
    LastUsedAt,
    FromConfig,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per ALTER: SQLite takes a single ADD COLUMN per statement.
        let adds: Vec<(DynIden, ColumnDef)> = vec![
            (
                Users::Table.into_iden(),
                big_integer(Users::Version).default(1).to_owned(),
            ),
            (
                Users::Table.into_iden(),
                string_null(Users::ProvisionedBy).to_owned(),
            ),
            (
                Groups::Table.into_iden(),
                big_integer(Groups::Version).default(1).to_owned(),
            ),
            (
                Groups::Table.into_iden(),
                string_null(Groups::ProvisionedBy).to_owned(),
            ),
            (
                UserEmails::Table.into_iden(),
                string_null(UserEmails::Kind).to_owned(),
            ),
        ];
        for (table, mut column) in adds {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        // A SCIM client lists only what it provisioned.
        index(
            manager,
            "ix_users_provisioned_by",
            Users::Table,
            [Users::ProvisionedBy],
        )
        .await?;
        index(
            manager,
            "ix_groups_provisioned_by",
            Groups::Table,
            [Groups::ProvisionedBy],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(ScimClients::Table)
                    .col(string(ScimClients::Name))
                    .col(string(ScimClients::TokenDigest))
                    .col(timestamp_with_time_zone(ScimClients::CreatedAt))
                    .col(timestamp_with_time_zone_null(ScimClients::LastUsedAt))
                    .col(boolean(ScimClients::FromConfig))
                    .primary_key(
                        Index::create()
                            .name("pk_scim_clients")
                            .col(ScimClients::Name),
                    )
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "ux_scim_clients_token",
            ScimClients::Table,
            [ScimClients::TokenDigest],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ScimClients::Table).to_owned())
            .await?;
        for (name, table) in [
            ("ix_users_provisioned_by", Users::Table.into_iden()),
            ("ix_groups_provisioned_by", Groups::Table.into_iden()),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        for (table, column) in [
            (Users::Table.into_iden(), Users::Version.into_iden()),
            (Users::Table.into_iden(), Users::ProvisionedBy.into_iden()),
            (Groups::Table.into_iden(), Groups::Version.into_iden()),
            (Groups::Table.into_iden(), Groups::ProvisionedBy.into_iden()),
            (UserEmails::Table.into_iden(), UserEmails::Kind.into_iden()),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
