//! The SQL storage: the directory, registry, applications, outbox, audit log,
//! durable grants (consents, refresh-token families), key store and the outbound
//! provisioning queue (jobs, remote mapping, outbound report, leases) on SQLite
//! and PostgreSQL, through sea-orm.
//!
//! Every directory change and its lifecycle event are written in one transaction
//! (on SQLite a `BEGIN IMMEDIATE` one, so two writers queue on the busy timeout
//! instead of failing when a read lock cannot be upgraded). Timestamps are kept to
//! the whole second in UTC: see [`timestamps`].

mod application_assignments;
mod application_sync;
mod applications;
mod audit;
mod connector_settings;
mod consents;
mod credentials;
mod database;
mod directory;
mod entities;
mod errors;
mod groups;
mod jobs;
mod keys;
mod leases;
mod links;
mod objects;
mod outbox;
mod provision;
mod query;
mod refresh_tokens;
mod registry;
mod remote_objects;
mod scim_clients;
mod sealing;
mod store;
mod timestamps;
mod users;
mod wakeups;

pub use database::{Database, PoolStatus};
pub use keys::SqlKeyStore;
pub use sealing::MasterKey;
pub use store::SqlStore;
