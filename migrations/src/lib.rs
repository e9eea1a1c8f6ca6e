//! usher's database schema as timestamped sea-orm migrations, portable between
//! SQLite and PostgreSQL (schema builders only, no backend-specific SQL).
//!
//! Constraint and index names are part of the contract with `usher-store`: it tells
//! which uniqueness rule a write broke from the name PostgreSQL reports (or, on
//! SQLite, from the columns it reports), so rename them only together with
//! `usher-store/src/sql/errors.rs`.
//!
//! Timestamps are `timestamp with time zone`; SQLite keeps them as RFC 3339 text,
//! which only sorts correctly when every value has the same shape, so the store
//! writes whole seconds in UTC.

pub use sea_orm_migration::MigratorTrait;
use sea_orm_migration::{MigrationTrait, async_trait};

mod m20261122_000001_directory;
mod m20261122_000002_registry;
mod m20261122_000003_outbox_audit;
mod m20261122_000004_signing_keys;
mod m20261122_000005_user_credentials;
mod m20261122_000010_scim;
mod m20261122_000020_provisioning_report;
mod m20261201_000001_durable_grants;
mod m20261201_000002_outbox_subjects;
mod m20261201_000003_applications;
mod m20261201_000004_provisioning_jobs;

/// Runs usher's migrations in order; already applied ones are skipped.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_directory::Migration),
            Box::new(m20261122_000002_registry::Migration),
            Box::new(m20261122_000003_outbox_audit::Migration),
            Box::new(m20261122_000004_signing_keys::Migration),
            Box::new(m20261122_000005_user_credentials::Migration),
            Box::new(m20261122_000010_scim::Migration),
            Box::new(m20261122_000020_provisioning_report::Migration),
            Box::new(m20261201_000001_durable_grants::Migration),
            Box::new(m20261201_000002_outbox_subjects::Migration),
            Box::new(m20261201_000003_applications::Migration),
            Box::new(m20261201_000004_provisioning_jobs::Migration),
        ]
    }
}
