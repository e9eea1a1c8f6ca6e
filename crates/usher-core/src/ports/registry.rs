use async_trait::async_trait;

use crate::{
    AppKind, Application, ApplicationId, ApplicationUpdate, NewApplication, Result, Upstream,
    UpstreamId,
};

/// Applications and upstream IdPs: what admins configure.
#[async_trait]
pub trait Registry: Send + Sync {
    /// Registers an application; its name and protocol identifier must be unique.
    async fn create_application(&self, app: NewApplication) -> Result<Application>;
    /// Reads an application.
    async fn get_application(&self, id: ApplicationId) -> Result<Application>;
    /// Finds an application by its protocol identifier (client id, entity id).
    async fn find_application(&self, kind: &AppKind) -> Result<Option<Application>>;
    /// Changes an application.
    async fn update_application(
        &self,
        id: ApplicationId,
        update: ApplicationUpdate,
    ) -> Result<Application>;
    /// Removes an application.
    async fn delete_application(&self, id: ApplicationId) -> Result<()>;
    /// All applications in name order.
    async fn list_applications(&self) -> Result<Vec<Application>>;

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
