//! usher-connector's one integration test binary: the error classification the job
//! queue relies on, secret redaction, match keys, the registry, and the trait's
//! contract exercised through `dyn Connector` on an in-memory test double.

mod contract;
mod errors;
mod match_keys;
mod memory_target;
mod registry;
mod secret;
