//! Outbound provisioning: the job queue, the remote mapping, the outbound report
//! and named leases.
//!
//! `provisioning_jobs` holds at most one `pending` and one `in_flight` job per
//! (application, object), enforced by two partial unique indexes, so coalescing and
//! "one object in flight at a time" hold even against a racing writer.
//! `remote_objects` is what each app holds for one local user or group.
//! `outbound_attempts` is the report (no foreign keys: it outlives what it names).
//! `leases` are the planner's and each app sender's.
//!
//! No foreign key to `applications` yet: the store deletes an app's jobs and
//! mapping in the transaction that deletes the app.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_pk_auto, integer, integer_null, json, string, string_null, text_null,
    timestamp_with_time_zone, timestamp_with_time_zone_null, uuid,
};

use crate::m20261122_000001_directory::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ProvisioningJobs {
    Table,
    Id,
    ApplicationId,
    ObjectKind,
    ObjectId,
    State,
    Desired,
    Label,
    Cause,
    Attempts,
    NextRunAt,
    LeaseOwner,
    LeaseExpiresAt,
    LastError,
    ChangedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RemoteObjects {
    Table,
    ApplicationId,
    ObjectKind,
    ObjectId,
    RemoteId,
    State,
    Pushed,
    Digest,
    ChangedAt,
    AcknowledgedAt,
}

#[derive(DeriveIden)]
enum OutboundAttempts {
    Table,
    Id,
    At,
    ApplicationId,
    ObjectKind,
    ObjectId,
    Label,
    Operation,
    Result,
    RemoteCode,
    Message,
    HttpStatus,
    DurationMs,
    Attempt,
}

#[derive(DeriveIden)]
enum Leases {
    Table,
    Name,
    Owner,
    ExpiresAt,
}

/// One job per (application, object) in `state`: the store's upsert names the same
/// predicate as its conflict target, literally, so both backends infer the index.
fn one_job_per_object(name: &str, state: &str) -> IndexCreateStatement {
    Index::create()
        .name(name)
        .table(ProvisioningJobs::Table)
        .col(ProvisioningJobs::ApplicationId)
        .col(ProvisioningJobs::ObjectKind)
        .col(ProvisioningJobs::ObjectId)
        .unique()
        .and_where(Expr::col(ProvisioningJobs::State).eq(state))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProvisioningJobs::Table)
                    .col(big_pk_auto(ProvisioningJobs::Id))
                    .col(uuid(ProvisioningJobs::ApplicationId))
                    .col(string(ProvisioningJobs::ObjectKind))
                    .col(uuid(ProvisioningJobs::ObjectId))
                    .col(string(ProvisioningJobs::State))
                    .col(json(ProvisioningJobs::Desired))
                    .col(string(ProvisioningJobs::Label))
                    .col(string(ProvisioningJobs::Cause))
                    .col(integer(ProvisioningJobs::Attempts))
                    .col(timestamp_with_time_zone(ProvisioningJobs::NextRunAt))
                    .col(string_null(ProvisioningJobs::LeaseOwner))
                    .col(timestamp_with_time_zone_null(
                        ProvisioningJobs::LeaseExpiresAt,
                    ))
                    .col(text_null(ProvisioningJobs::LastError))
                    .col(timestamp_with_time_zone(ProvisioningJobs::ChangedAt))
                    .col(timestamp_with_time_zone(ProvisioningJobs::CreatedAt))
                    .col(timestamp_with_time_zone(ProvisioningJobs::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(one_job_per_object(
                "ux_provisioning_jobs_pending",
                "pending",
            ))
            .await?;
        manager
            .create_index(one_job_per_object(
                "ux_provisioning_jobs_in_flight",
                "in_flight",
            ))
            .await?;
        // A sender claims "this app's due pending jobs, by next_run_at".
        index(
            manager,
            "ix_provisioning_jobs_claim",
            ProvisioningJobs::Table,
            [
                ProvisioningJobs::ApplicationId,
                ProvisioningJobs::State,
                ProvisioningJobs::NextRunAt,
            ],
        )
        .await?;
        // "Which apps have due jobs", across apps, without scanning the queue.
        index(
            manager,
            "ix_provisioning_jobs_due",
            ProvisioningJobs::Table,
            [ProvisioningJobs::State, ProvisioningJobs::NextRunAt],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(RemoteObjects::Table)
                    .col(uuid(RemoteObjects::ApplicationId))
                    .col(string(RemoteObjects::ObjectKind))
                    .col(uuid(RemoteObjects::ObjectId))
                    .col(string(RemoteObjects::RemoteId))
                    .col(string(RemoteObjects::State))
                    .col(json(RemoteObjects::Pushed))
                    .col(string(RemoteObjects::Digest))
                    .col(timestamp_with_time_zone(RemoteObjects::ChangedAt))
                    .col(timestamp_with_time_zone(RemoteObjects::AcknowledgedAt))
                    .primary_key(
                        Index::create()
                            .name("pk_remote_objects")
                            .col(RemoteObjects::ApplicationId)
                            .col(RemoteObjects::ObjectKind)
                            .col(RemoteObjects::ObjectId),
                    )
                    .to_owned(),
            )
            .await?;
        // One user's mappings across apps (`usher users status`).
        index(
            manager,
            "ix_remote_objects_object",
            RemoteObjects::Table,
            [RemoteObjects::ObjectKind, RemoteObjects::ObjectId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(OutboundAttempts::Table)
                    .col(big_pk_auto(OutboundAttempts::Id))
                    .col(timestamp_with_time_zone(OutboundAttempts::At))
                    .col(uuid(OutboundAttempts::ApplicationId))
                    .col(string(OutboundAttempts::ObjectKind))
                    .col(uuid(OutboundAttempts::ObjectId))
                    .col(string(OutboundAttempts::Label))
                    .col(string(OutboundAttempts::Operation))
                    .col(string(OutboundAttempts::Result))
                    .col(string_null(OutboundAttempts::RemoteCode))
                    .col(text_null(OutboundAttempts::Message))
                    .col(integer_null(OutboundAttempts::HttpStatus))
                    .col(big_integer(OutboundAttempts::DurationMs))
                    .col(integer(OutboundAttempts::Attempt))
                    .to_owned(),
            )
            .await?;
        // The report's queries: one object over time, one app over time, and the
        // prune (and unfiltered reads) by time.
        index(
            manager,
            "ix_outbound_attempts_object",
            OutboundAttempts::Table,
            [
                OutboundAttempts::ObjectKind,
                OutboundAttempts::ObjectId,
                OutboundAttempts::At,
            ],
        )
        .await?;
        index(
            manager,
            "ix_outbound_attempts_app",
            OutboundAttempts::Table,
            [OutboundAttempts::ApplicationId, OutboundAttempts::At],
        )
        .await?;
        index(
            manager,
            "ix_outbound_attempts_at",
            OutboundAttempts::Table,
            [OutboundAttempts::At],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Leases::Table)
                    .col(string(Leases::Name))
                    .col(string(Leases::Owner))
                    .col(timestamp_with_time_zone(Leases::ExpiresAt))
                    .primary_key(Index::create().name("pk_leases").col(Leases::Name))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Leases::Table.into_iden(),
            OutboundAttempts::Table.into_iden(),
            RemoteObjects::Table.into_iden(),
            ProvisioningJobs::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
