use std::time::Duration;

use async_trait::async_trait;

use crate::Result;

/// Short-lived shared state: pending logins, SSO sessions, authorization codes,
/// replay caches, rate-limit counters. Every value has a TTL; nothing here is
/// precious, but everything must be shared by all instances (hence Redis when
/// there are several).
///
/// Keys are opaque strings chosen by callers, who prefix them by purpose
/// (`session:`, `code:`); implementations may add their own namespace prefix.
#[async_trait]
pub trait EphemeralStore: Send + Sync {
    /// Stores `value` under `key` for `ttl`, replacing any previous value.
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<()>;
    /// Reads a value that has not expired.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Reads and removes a value in one atomic step: of two concurrent `take`s of
    /// the same key, exactly one gets the value (single-use codes rely on this).
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Stores `value` only if `key` holds nothing; `true` when stored. Atomic
    /// (replay caches rely on this).
    async fn put_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool>;
    /// Adds one to the counter at `key` and returns the new value. The TTL is set
    /// when the counter is created and not extended by later increments, which
    /// gives fixed-window rate limits.
    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64>;
    /// Adds `member` to the set at `key` and makes the set live at least `ttl` from
    /// now (the TTL only ever grows, so an index outlives every entry it names).
    /// A set and a plain value never share a key.
    async fn add_to_set(&self, key: &str, member: &str, ttl: Duration) -> Result<()>;
    /// Removes `member` from the set at `key`; `true` when it was there.
    async fn remove_from_set(&self, key: &str, member: &str) -> Result<bool>;
    /// The members of the set at `key` (empty when there is none), in no order.
    async fn set_members(&self, key: &str) -> Result<Vec<String>>;
    /// Removes a key; `true` when something was removed.
    async fn delete(&self, key: &str) -> Result<bool>;
    /// Checks the backend answers (for readiness).
    async fn ping(&self) -> Result<()>;
}
