//! usher-provisioning end to end: jobs delivered through the real SCIM connector
//! into scim2-server (`delivery`), and into a target that fails on purpose
//! (`faults`), and the runtime on SQLite and PostgreSQL sending enqueued jobs
//! (`runtime`). The pure parts (backoff, token bucket) are unit tests in src/.
#![allow(clippy::unwrap_used)]

mod db;
mod delivery;
mod faults;
mod runtime;
mod support;
