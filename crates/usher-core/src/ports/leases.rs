use std::time::Duration;

use async_trait::async_trait;

use crate::Result;

/// Named leases shared by every instance: the planner runs under one
/// (`planner`), and each app's sender under another (`app:<id>`), which is how a
/// per-app rate limit holds across instances without a shared bucket.
#[async_trait]
pub trait Leases: Send + Sync {
    /// Takes `name` for `owner` until now + `ttl` when it is free, expired, or
    /// already `owner`'s (a renewal). `true` when `owner` holds it afterwards.
    /// Kept to the second: the lease ends at now + `ttl` rounded up, never early.
    async fn acquire(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool>;
    /// Gives it up if `owner` holds it.
    async fn release(&self, name: &str, owner: &str) -> Result<()>;
}
