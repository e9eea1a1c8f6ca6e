//! Ports: what the domain needs from the outside world, as traits. `usher-store`
//! implements the storage ports on SQLite, PostgreSQL, memory and Redis; protocol
//! crates and the provisioning engine receive them as `Arc<dyn ...>` and never name
//! an implementation.

mod app_gate;
mod applications;
mod audit;
mod clock;
mod consents;
mod credentials;
mod directory;
mod ephemeral;
mod jobs;
mod keys;
mod leases;
mod logout;
mod outbox;
mod refresh_tokens;
mod registry;
mod remote_objects;
mod report;
mod scim_clients;

pub use app_gate::{Admission, AppGate};
pub use applications::Applications;
pub use audit::AuditLog;
pub use clock::{Clock, ManualClock, SystemClock};
pub use consents::{Consent, Consents};
pub use credentials::Credentials;
pub use directory::{Directory, Provision};
pub use ephemeral::EphemeralStore;
pub use jobs::Jobs;
pub use keys::{KeyAlgorithm, KeyStatus, KeyStore, SigningKey};
pub use leases::Leases;
pub use logout::LogoutListener;
pub use outbox::{Outbox, OutboxRow, UnreadableEvent};
pub use refresh_tokens::{RefreshFamily, RefreshGrant, RefreshTokens, Rotation};
pub use registry::Registry;
pub use remote_objects::RemoteObjects;
pub use report::ProvisioningReport;
pub use scim_clients::{ScimClient, ScimClients};
