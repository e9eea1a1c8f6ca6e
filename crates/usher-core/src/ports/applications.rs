use async_trait::async_trait;

use crate::{Application, ApplicationId, ApplicationSpec, GroupId, Result, SignIn, UserId};

/// Applications and their assignments.
///
/// Every change to an application's assignment or provisioning side writes
/// `ApplicationChanged` to the outbox in the same transaction, so the planner
/// re-plans the app; writes are audited with their actor in that transaction too.
#[async_trait]
pub trait Applications: Send + Sync {
    /// Makes the configuration-managed applications exactly `specs`: an app whose
    /// name is new is created with a new id, one that exists keeps its id and is
    /// updated when anything differs, and a configuration-managed app no longer in
    /// `specs` is removed (its remote accounts are left as they are). One
    /// transaction; a name or sign-in key used twice, or taken by an
    /// API-managed app, is `Error::Conflict` and nothing changes. Audited as
    /// `config`.
    async fn sync_config_applications(
        &self,
        specs: Vec<ApplicationSpec>,
    ) -> Result<Vec<Application>>;
    /// Reads an application.
    async fn get_application(&self, id: ApplicationId) -> Result<Application>;
    /// Finds an application by its unique name.
    async fn find_application_by_name(&self, name: &str) -> Result<Option<Application>>;
    /// Finds the application whose sign-in side is this client or SP.
    async fn find_application_by_sign_in(&self, sign_in: &SignIn) -> Result<Option<Application>>;
    /// Every application, in name order.
    async fn list_applications(&self) -> Result<Vec<Application>>;
    /// Whether `user` is assigned to `app`: `everyone`, directly, or through a
    /// group it belongs to. Says nothing about whether the user is active.
    async fn is_assigned(&self, app: ApplicationId, user: UserId) -> Result<bool>;
    /// The applications `user` is assigned to.
    async fn applications_of_user(&self, user: UserId) -> Result<Vec<ApplicationId>>;
    /// The applications that assign `group` (directly).
    async fn applications_of_group(&self, group: GroupId) -> Result<Vec<ApplicationId>>;
    /// Users assigned to `app`, in id order after `after`, at most `limit`.
    async fn assigned_users(
        &self,
        app: ApplicationId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<UserId>>;
}
