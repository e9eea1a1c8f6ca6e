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
//! 2. The senders (one per app at a time, under a lease shared by all instances)
//!    claim the app's due jobs and [`deliver`] them through the app's connector,
//!    paced by its [`rate`] limit, retrying with [`backoff`].
//! 3. [`gate`] answers the front-ends before an SSO response: assigned or not,
//!    and for `on_first_sign_in` apps, the account made first.
//!
//! Everything durable goes through the ports of `usher-core`; connectors are
//! reached through [`ConnectorSource`]. This crate names no web framework, ORM or
//! cache.

#![deny(missing_docs)]

mod connectors;
mod desired;
mod gate;
mod leaver;
pub mod mapping;
pub mod planner;

pub use connectors::{ConnectorSource, RegistrySource};
pub use desired::{Desired, digest};
pub use gate::{FIRST_SIGN_IN, FirstSignInGate};
pub use leaver::{SessionEnder, SessionsEnder};
pub use planner::{Planner, PlannerPorts};
