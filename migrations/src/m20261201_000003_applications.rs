//! Applications in their final shape (one app, a sign-in side, a provisioning side,
//! one assignment) and their assignments.
//!
//! The `applications` table of `m20261122_000002_registry` was never written by any
//! code (the registry only ever stored upstreams), so it is dropped and created
//! again in the new shape rather than altered column by column: there is no data
//! to carry over, and SQLite cannot alter a column's type or constraints in place.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_pk_auto, blob_null, boolean, json, string, string_null, timestamp_with_time_zone, uuid,
    uuid_null,
};

use crate::m20261122_000001_directory::{index, unique};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
    Name,
    DisplayName,
    Enabled,
    ManagedBy,
    SignInProtocol,
    SignInKey,
    Spec,
    ConnectorSettingsSealed,
    MasterKeyId,
    CreatedAt,
    UpdatedAt,
    // The old shape's columns, for `down`.
    Kind,
    ProtocolKey,
    Access,
    Settings,
}

#[derive(DeriveIden)]
enum ApplicationAssignments {
    Table,
    Id,
    ApplicationId,
    PrincipalKind,
    GroupId,
    UserId,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
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
            .drop_table(Table::drop().table(Applications::Table).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Applications::Table)
                    // Stable: a configuration-managed app keeps its id across restarts
                    // (matched by name), so jobs and remote objects stay attached.
                    .col(uuid(Applications::Id).primary_key())
                    .col(string(Applications::Name))
                    .col(string(Applications::DisplayName))
                    .col(boolean(Applications::Enabled))
                    // `config` or `api`.
                    .col(string(Applications::ManagedBy))
                    // `oidc` or `saml` and the client id or entity id; both NULL for an
                    // app without a sign-in side.
                    .col(string_null(Applications::SignInProtocol))
                    .col(string_null(Applications::SignInKey))
                    // The rest of the spec (the provisioning side without its connector
                    // settings); the assignment is in `application_assignments`.
                    .col(json(Applications::Spec))
                    // The connector's settings hold secrets (tokens, passwords): sealed
                    // with AES-256-GCM under the master key, the app id as associated
                    // data, and the master key's fingerprint beside them so a wrong key
                    // is reported as such. NULL without a provisioning side.
                    .col(blob_null(Applications::ConnectorSettingsSealed))
                    .col(string_null(Applications::MasterKeyId))
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
        // client_id would let one receive tokens meant for the other. NULLs never
        // collide, so any number of apps may have no sign-in side.
        unique(
            manager,
            "ux_applications_sign_in",
            Applications::Table,
            [Applications::SignInProtocol, Applications::SignInKey],
        )
        .await?;

        // One row per assigned principal. A group and a user need their own column
        // each so that both can be foreign keys that cascade: deleting a group or a
        // user takes its assignments with it, and no assignment can name a group or
        // user that does not exist. `everyone` has neither.
        let kind = || Expr::col(ApplicationAssignments::PrincipalKind);
        let group = || Expr::col(ApplicationAssignments::GroupId);
        let user = || Expr::col(ApplicationAssignments::UserId);
        manager
            .create_table(
                Table::create()
                    .table(ApplicationAssignments::Table)
                    .col(big_pk_auto(ApplicationAssignments::Id))
                    .col(uuid(ApplicationAssignments::ApplicationId))
                    .col(string(ApplicationAssignments::PrincipalKind))
                    .col(uuid_null(ApplicationAssignments::GroupId))
                    .col(uuid_null(ApplicationAssignments::UserId))
                    .check(Check::named(
                        "ck_application_assignments_principal",
                        Condition::any()
                            .add(
                                kind()
                                    .eq("everyone")
                                    .and(group().is_null())
                                    .and(user().is_null()),
                            )
                            .add(
                                kind()
                                    .eq("group")
                                    .and(group().is_not_null())
                                    .and(user().is_null()),
                            )
                            .add(
                                kind()
                                    .eq("user")
                                    .and(user().is_not_null())
                                    .and(group().is_null()),
                            ),
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_application_assignments_application")
                            .from(
                                ApplicationAssignments::Table,
                                ApplicationAssignments::ApplicationId,
                            )
                            .to(Applications::Table, Applications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_application_assignments_group")
                            .from(
                                ApplicationAssignments::Table,
                                ApplicationAssignments::GroupId,
                            )
                            .to(Groups::Table, Groups::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_application_assignments_user")
                            .from(
                                ApplicationAssignments::Table,
                                ApplicationAssignments::UserId,
                            )
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // An app's rows, by group and by user: `is_assigned` and `assigned_users`
        // look up one app's rows, and a principal is assigned at most once.
        unique(
            manager,
            "ux_application_assignments_group",
            ApplicationAssignments::Table,
            [
                ApplicationAssignments::ApplicationId,
                ApplicationAssignments::GroupId,
            ],
        )
        .await?;
        unique(
            manager,
            "ux_application_assignments_user",
            ApplicationAssignments::Table,
            [
                ApplicationAssignments::ApplicationId,
                ApplicationAssignments::UserId,
            ],
        )
        .await?;
        // At most one `everyone` row per app (the two indexes above let NULLs repeat).
        manager
            .create_index(
                Index::create()
                    .name("ux_application_assignments_everyone")
                    .table(ApplicationAssignments::Table)
                    .col(ApplicationAssignments::ApplicationId)
                    .unique()
                    .and_where(kind().eq("everyone"))
                    .to_owned(),
            )
            .await?;
        // `applications_of_group`, `applications_of_user` (through the user's
        // groups), and the cascades from `groups` and `users`, search by principal.
        index(
            manager,
            "ix_application_assignments_group",
            ApplicationAssignments::Table,
            [ApplicationAssignments::GroupId],
        )
        .await?;
        index(
            manager,
            "ix_application_assignments_user",
            ApplicationAssignments::Table,
            [ApplicationAssignments::UserId],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(ApplicationAssignments::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Applications::Table).to_owned())
            .await?;
        // The old (empty) shape, so that `m20261122_000002_registry`'s `down` finds
        // what it created.
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
        unique(
            manager,
            "ux_applications_protocol_key",
            Applications::Table,
            [Applications::Kind, Applications::ProtocolKey],
        )
        .await
    }
}
