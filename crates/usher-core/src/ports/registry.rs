use async_trait::async_trait;

use crate::{Result, Upstream, UpstreamId};

/// Upstream IdPs as stored (applications have their own port,
/// [`Applications`](super::Applications)).
#[async_trait]
pub trait Registry: Send + Sync {
    /// Creates or replaces an upstream (config is the source of truth for upstreams
    /// declared in the file, so start-up upserts them).
    async fn put_upstream(&self, upstream: Upstream) -> Result<Upstream>;
    /// Reads an upstream.
    async fn get_upstream(&self, id: &UpstreamId) -> Result<Upstream>;
    /// Removes an upstream; its identity links go with it.
    async fn delete_upstream(&self, id: &UpstreamId) -> Result<()>;
    /// All upstreams in id order.
    async fn list_upstreams(&self) -> Result<Vec<Upstream>>;
}
