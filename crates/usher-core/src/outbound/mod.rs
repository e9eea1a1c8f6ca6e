//! Outbound provisioning: what usher keeps about pushing accounts and groups into
//! downstream apps. The types here are storage's contract with the provisioning
//! core (`usher-provisioning`), which alone decides what they mean:
//!
//! - [`ProvisioningSettings`]: an application's provisioning side (connector, mode,
//!   actions, attribute mapping, match keys, rate limit).
//! - [`Job`]: one (application, object) that must be brought to a desired state,
//!   leased by one worker at a time (see [`crate::ports::Jobs`]).
//! - [`RemoteObject`]: what usher knows the app holds for one local user or group
//!   (its remote id, what was pushed last, active or not).
//! - [`Attempt`]: one call to a connector, as the provisioning report shows it.

mod attempt;
mod job;
mod remote;
mod settings;

pub use attempt::{Attempt, AttemptEntry, AttemptQuery, AttemptResult};
pub use job::{Job, JobState, NewJob, ObjectRef, QueueStatus};
pub use remote::{RemoteChange, RemoteObject, RemoteState};
pub use settings::{
    DeprovisionAction, MatchKey, OnRemoteMissing, Operations, ProvisioningMode,
    ProvisioningSettings, RESERVED_MAPPING_FIELDS, RateLimit,
};
