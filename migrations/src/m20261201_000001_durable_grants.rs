//! Durable grants: the consents users gave clients and the refresh-token
//! families, moved out of the ephemeral store (which may lose them on a restart,
//! and whose cap legitimate long-lived entries would fill).
//!
//! `consents` has one row per scope granted, so two concurrent approvals add up
//! instead of one overwriting the other. `refresh_token_families` keeps each
//! family's grant and the digest of its current token only: a token names its
//! family, and any token of a family that is not the current one is a rotated
//! one (RFC 9700 §4.14.2). Both go with their user.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    json, string, string_null, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid,
};

use crate::m20261122_000001_directory::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Consents {
    Table,
    UserId,
    ClientId,
    Scope,
    GrantedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum RefreshTokenFamilies {
    Table,
    Id,
    UserId,
    ClientId,
    Sid,
    Scopes,
    AuthTime,
    Amr,
    Acr,
    TokenDigest,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Consents::Table)
                    .col(uuid(Consents::UserId))
                    .col(string(Consents::ClientId))
                    .col(string(Consents::Scope))
                    .col(timestamp_with_time_zone(Consents::GrantedAt))
                    .col(timestamp_with_time_zone(Consents::ExpiresAt))
                    .primary_key(
                        Index::create()
                            .name("pk_consents")
                            .col(Consents::UserId)
                            .col(Consents::ClientId)
                            .col(Consents::Scope),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_consents_user")
                            .from(Consents::Table, Consents::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The purge deletes by expiry.
        index(
            manager,
            "ix_consents_expires_at",
            Consents::Table,
            [Consents::ExpiresAt],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokenFamilies::Table)
                    .col(string(RefreshTokenFamilies::Id))
                    .col(uuid(RefreshTokenFamilies::UserId))
                    .col(string(RefreshTokenFamilies::ClientId))
                    .col(string(RefreshTokenFamilies::Sid))
                    .col(json(RefreshTokenFamilies::Scopes))
                    .col(timestamp_with_time_zone(RefreshTokenFamilies::AuthTime))
                    .col(json(RefreshTokenFamilies::Amr))
                    .col(string_null(RefreshTokenFamilies::Acr))
                    .col(string(RefreshTokenFamilies::TokenDigest))
                    .col(timestamp_with_time_zone(RefreshTokenFamilies::CreatedAt))
                    .col(timestamp_with_time_zone(RefreshTokenFamilies::ExpiresAt))
                    .col(timestamp_with_time_zone_null(
                        RefreshTokenFamilies::RevokedAt,
                    ))
                    .primary_key(
                        Index::create()
                            .name("pk_refresh_token_families")
                            .col(RefreshTokenFamilies::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refresh_token_families_user")
                            .from(RefreshTokenFamilies::Table, RefreshTokenFamilies::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Revoking a user's families, and the purge by expiry.
        index(
            manager,
            "ix_refresh_token_families_user",
            RefreshTokenFamilies::Table,
            [RefreshTokenFamilies::UserId],
        )
        .await?;
        index(
            manager,
            "ix_refresh_token_families_expires_at",
            RefreshTokenFamilies::Table,
            [RefreshTokenFamilies::ExpiresAt],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RefreshTokenFamilies::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Consents::Table).to_owned())
            .await
    }
}
