//! Users, their email addresses, groups, memberships and identity links.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    boolean, integer, json, string, string_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null, uuid,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    UsernameNormalized,
    DisplayName,
    GivenName,
    FamilyName,
    Active,
    ExternalId,
    Attributes,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UserEmails {
    Table,
    UserId,
    Address,
    AddressNormalized,
    Verified,
    IsPrimary,
    Position,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
    Name,
    NameNormalized,
    DisplayName,
    ExternalId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum GroupMembers {
    Table,
    GroupId,
    UserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum IdentityLinks {
    Table,
    UpstreamId,
    Subject,
    UserId,
    CreatedAt,
    LastLoginAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(uuid(Users::Id).primary_key())
                    .col(string(Users::Username))
                    .col(string(Users::UsernameNormalized))
                    .col(string_null(Users::DisplayName))
                    .col(string_null(Users::GivenName))
                    .col(string_null(Users::FamilyName))
                    .col(boolean(Users::Active))
                    .col(string_null(Users::ExternalId))
                    .col(json(Users::Attributes))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "ux_users_username",
            Users::Table,
            [Users::UsernameNormalized],
        )
        .await?;
        // NULLs never collide (both backends), so many users may lack an external id.
        unique(
            manager,
            "ux_users_external_id",
            Users::Table,
            [Users::ExternalId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserEmails::Table)
                    .col(uuid(UserEmails::UserId))
                    .col(string(UserEmails::Address))
                    .col(string(UserEmails::AddressNormalized))
                    .col(boolean(UserEmails::Verified))
                    .col(boolean(UserEmails::IsPrimary))
                    .col(integer(UserEmails::Position))
                    // (user, position) keeps a user's addresses in the order given and
                    // serves the lookups of a user's addresses.
                    .primary_key(
                        Index::create()
                            .name("pk_user_emails")
                            .col(UserEmails::UserId)
                            .col(UserEmails::Position),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_emails_user")
                            .from(UserEmails::Table, UserEmails::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Global, not per user: two users sharing an address would let one take over
        // the other's account through link-by-verified-email or home-realm discovery.
        unique(
            manager,
            "ux_user_emails_address",
            UserEmails::Table,
            [UserEmails::AddressNormalized],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Groups::Table)
                    .col(uuid(Groups::Id).primary_key())
                    .col(string(Groups::Name))
                    .col(string(Groups::NameNormalized))
                    .col(string_null(Groups::DisplayName))
                    .col(string_null(Groups::ExternalId))
                    .col(timestamp_with_time_zone(Groups::CreatedAt))
                    .col(timestamp_with_time_zone(Groups::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        unique(
            manager,
            "ux_groups_name",
            Groups::Table,
            [Groups::NameNormalized],
        )
        .await?;
        unique(
            manager,
            "ux_groups_external_id",
            Groups::Table,
            [Groups::ExternalId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(GroupMembers::Table)
                    .col(uuid(GroupMembers::GroupId))
                    .col(uuid(GroupMembers::UserId))
                    .col(timestamp_with_time_zone(GroupMembers::CreatedAt))
                    .primary_key(
                        Index::create()
                            .name("pk_group_members")
                            .col(GroupMembers::GroupId)
                            .col(GroupMembers::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_group_members_group")
                            .from(GroupMembers::Table, GroupMembers::GroupId)
                            .to(Groups::Table, Groups::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_group_members_user")
                            .from(GroupMembers::Table, GroupMembers::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // groups_of(user) and the cascade from users both search by user.
        index(
            manager,
            "ix_group_members_user",
            GroupMembers::Table,
            [GroupMembers::UserId],
        )
        .await?;

        // No foreign key to `upstreams`: a link may be made for an upstream declared
        // only in the config file before (or without) it being stored, and
        // `Registry::delete_upstream` deletes the upstream's links in its own
        // transaction instead of relying on a cascade.
        manager
            .create_table(
                Table::create()
                    .table(IdentityLinks::Table)
                    .col(string(IdentityLinks::UpstreamId))
                    .col(string(IdentityLinks::Subject))
                    .col(uuid(IdentityLinks::UserId))
                    .col(timestamp_with_time_zone(IdentityLinks::CreatedAt))
                    .col(timestamp_with_time_zone_null(IdentityLinks::LastLoginAt))
                    .primary_key(
                        Index::create()
                            .name("pk_identity_links")
                            .col(IdentityLinks::UpstreamId)
                            .col(IdentityLinks::Subject),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_identity_links_user")
                            .from(IdentityLinks::Table, IdentityLinks::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_identity_links_user",
            IdentityLinks::Table,
            [IdentityLinks::UserId],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IdentityLinks::Table.into_iden(),
            GroupMembers::Table.into_iden(),
            Groups::Table.into_iden(),
            UserEmails::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Creates a named unique index.
pub(crate) async fn unique<T, C>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    cols: impl IntoIterator<Item = C>,
) -> Result<(), DbErr>
where
    T: IntoIden,
    C: IntoIden,
{
    let mut stmt = Index::create();
    stmt.name(name).table(table).unique();
    for col in cols {
        stmt.col(col);
    }
    manager.create_index(stmt).await
}

/// Creates a named (non-unique) index.
pub(crate) async fn index<T, C>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    cols: impl IntoIterator<Item = C>,
) -> Result<(), DbErr>
where
    T: IntoIden,
    C: IntoIden,
{
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(col);
    }
    manager.create_index(stmt).await
}
