use async_trait::async_trait;

use crate::outbound::{AttemptEntry, AttemptQuery, ObjectRef, RemoteObject};
use crate::{ApplicationId, Result, UserId};

/// The remote mapping (written by [`Jobs`](super::Jobs) with each attempt) and the
/// outbound half of the provisioning report.
#[async_trait]
pub trait RemoteObjects: Send + Sync {
    /// What `app` holds for `object`, if usher ever pushed or adopted it.
    async fn remote_object(
        &self,
        app: ApplicationId,
        object: ObjectRef,
    ) -> Result<Option<RemoteObject>>;
    /// Every app's mapping for one user (for `usher users status`), by app id.
    async fn remote_objects_of_user(&self, user: UserId) -> Result<Vec<RemoteObject>>;
    /// Users `app` holds an active or deactivated account for, in id order after
    /// `after` (a sync deprovisions those no longer assigned).
    async fn mapped_users(
        &self,
        app: ApplicationId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<UserId>>;
    /// Outbound report rows (`since` and `until` to the second, rounded up, as
    /// times are stored).
    async fn attempts(&self, query: &AttemptQuery) -> Result<Vec<AttemptEntry>>;
    /// Deletes report rows older than `before`, in bounded batches; how many.
    async fn prune_attempts(&self, before: time::OffsetDateTime) -> Result<u64>;
}
