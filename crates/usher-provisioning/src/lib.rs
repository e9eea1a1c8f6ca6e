//! The outbound provisioning core: it keeps every downstream app's accounts and
//! groups in the state usher's directory and the app's assignment call for.
//!
//! The flow (docs/provisioning.md has the whole story):
//!
//! 1. [`planner`] reads lifecycle events from the outbox, works out the
//!    [`Desired`] state of every affected (app, user) and (app, group) with the
//!    app's attribute [`mapping`], and enqueues jobs in the transaction that marks
//!    the events processed. A leaver's sessions are ended before the event is
//!    marked, so that too is retried until it succeeds.
//! 2. The [`Sender`]s (one per app at a time, under a lease shared by all
//!    instances) claim the app's due jobs and [`deliver`] them through the app's
//!    connector, paced by its [`Pace`] (a token bucket and a concurrency cap),
//!    retrying with [`Backoff`]. [`Provisioning`] runs the planner's and the
//!    senders' loops in every instance.
//! 3. [`gate`] answers the front-ends before an SSO response: assigned or not,
//!    and for `on_first_sign_in` apps, the account made first.
//!
//! Everything durable goes through the ports of `usher-core`; connectors are
//! reached through [`ConnectorSource`]. This crate names no web framework, ORM or
//! cache.

#![deny(missing_docs)]
// A panic in a unit test is a failing test, not a crash on input.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod backoff;
mod connectors;
mod deliver;
mod desired;
mod gate;
mod leaver;
pub mod mapping;
pub mod planner;
mod rate;
mod runtime;
mod sender;

pub use backoff::{Backoff, app_probe_delay};
pub use connectors::{ConnectorSource, RegistrySource};
pub use deliver::{Delivered, Delivery, MEMBER_WAIT_ATTEMPTS, Outcome, TargetTrouble, deliver};
pub use desired::{Desired, digest};
pub use gate::{FIRST_SIGN_IN, FirstSignInGate};
pub use leaver::{SessionEnder, SessionsEnder};
pub use planner::{Planner, PlannerPorts};
pub use rate::{DEFAULT_CONCURRENCY, Limits, Pace, PacedConnector, TokenBucket};
pub use runtime::{Handle, PlanStep, Provisioning, ProvisioningBuilder, Waker, instance_id};
pub use sender::{APP_LEASE_TTL, AppStatus, JOB_LEASE, Ran, Sender};
