//! usher-provisioning end to end: jobs delivered through the real SCIM connector
//! into scim2-server (`delivery`), and into a target that fails on purpose
//! (`faults`). The pure parts (backoff, token bucket) are unit tests in src/.
#![allow(clippy::unwrap_used)]

mod delivery;
mod faults;
mod support;
