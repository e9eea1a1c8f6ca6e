//! Signing keys, private parts sealed under the master key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    blob, blob_null, string, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Kid,
    Algorithm,
    PrivateKeySealed,
    MasterKeyId,
    PublicKey,
    Certificate,
    CreatedAt,
    RetiredAt,
    PublishUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .col(string(SigningKeys::Kid))
                    .col(string(SigningKeys::Algorithm))
                    .col(blob(SigningKeys::PrivateKeySealed))
                    // Fingerprint of the master key that sealed the row, so a wrong key
                    // is reported as such instead of as a corrupt row.
                    .col(string(SigningKeys::MasterKeyId))
                    .col(blob(SigningKeys::PublicKey))
                    .col(blob_null(SigningKeys::Certificate))
                    .col(timestamp_with_time_zone(SigningKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(SigningKeys::RetiredAt))
                    .col(timestamp_with_time_zone_null(SigningKeys::PublishUntil))
                    .primary_key(
                        Index::create()
                            .name("pk_signing_keys")
                            .col(SigningKeys::Kid),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SigningKeys::Table).to_owned())
            .await
    }
}
