//! sea-orm entities, one per table. They mirror `migrations` exactly and never leave
//! the `sql` module: the ports speak in core types.

pub(crate) mod application_assignments;
pub(crate) mod applications;
pub(crate) mod audit_log;
pub(crate) mod consents;
pub(crate) mod group_members;
pub(crate) mod groups;
pub(crate) mod identity_links;
pub(crate) mod leases;
pub(crate) mod outbound_attempts;
pub(crate) mod outbox_events;
pub(crate) mod provisioning_jobs;
pub(crate) mod provisioning_report;
pub(crate) mod refresh_token_families;
pub(crate) mod remote_objects;
pub(crate) mod scim_clients;
pub(crate) mod signing_keys;
pub(crate) mod upstreams;
pub(crate) mod user_credentials;
pub(crate) mod user_emails;
pub(crate) mod users;
