//! Local passwords: one PHC-format hash per user that has one. Kept apart from
//! `users` so that reading a user never reads a password hash.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string, timestamp_with_time_zone, uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UserCredentials {
    Table,
    UserId,
    PasswordHash,
    UpdatedAt,
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
                    .table(UserCredentials::Table)
                    .col(uuid(UserCredentials::UserId))
                    .col(string(UserCredentials::PasswordHash))
                    .col(timestamp_with_time_zone(UserCredentials::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .name("pk_user_credentials")
                            .col(UserCredentials::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_credentials_user")
                            .from(UserCredentials::Table, UserCredentials::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UserCredentials::Table).to_owned())
            .await
    }
}
