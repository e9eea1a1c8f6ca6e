//! The trait every connector implements, and what it says it can do.

use async_trait::async_trait;

use crate::{
    ConnectorError, GroupRecord, MatchKeys, Page, PageRequest, RemoteGroup, RemoteId, RemoteUser,
    Result, UserRecord,
};

/// What a target supports; the core plans with it and never asks for more.
///
/// `#[non_exhaustive]` so capabilities can be added without breaking connectors:
/// start from [`Capabilities::default`] (users with deactivate and delete, no
/// groups, full updates, lookup, one member per call, pages of 100) and adjust with
/// the `with_*` methods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// The target's published rate limit, the default for every app on it (an
    /// app's own `rate_limit` overrides it); `None`: no limit known, usher only
    /// caps the requests in flight.
    pub rate_limit: Option<RateLimit>,
    /// Accounts can be created, updated and deprovisioned.
    pub users: bool,
    /// Groups can be pushed, with their members.
    pub groups: bool,
    /// Accounts can be deactivated and reactivated (kept, sign-in refused).
    pub deactivate: bool,
    /// Accounts can be deleted.
    pub delete: bool,
    /// The target takes partial updates (SCIM PATCH), so `update_*` sends only
    /// the difference; otherwise it replaces the whole object (PUT).
    pub partial_update: bool,
    /// The target looks objects up by attribute (a SCIM filter); without it,
    /// `find_*` scans listings, and the core relies on its mapping where it can.
    pub lookup: bool,
    /// At most this many members per `add_members` or `remove_members` call
    /// (at least 1).
    pub member_batch_size: u32,
    /// At most this many items per listed page (at least 1).
    pub max_page_size: u32,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            rate_limit: None,
            users: true,
            groups: false,
            deactivate: true,
            delete: true,
            partial_update: false,
            lookup: true,
            member_batch_size: 1,
            max_page_size: 100,
        }
    }
}

impl Capabilities {
    /// The target's published rate limit.
    pub fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Whether accounts can be pushed.
    pub fn with_users(mut self, on: bool) -> Self {
        self.users = on;
        self
    }

    /// Whether groups can be pushed.
    pub fn with_groups(mut self, on: bool) -> Self {
        self.groups = on;
        self
    }

    /// Whether accounts can be deactivated and reactivated.
    pub fn with_deactivate(mut self, on: bool) -> Self {
        self.deactivate = on;
        self
    }

    /// Whether accounts can be deleted.
    pub fn with_delete(mut self, on: bool) -> Self {
        self.delete = on;
        self
    }

    /// Whether the target takes partial updates.
    pub fn with_partial_update(mut self, on: bool) -> Self {
        self.partial_update = on;
        self
    }

    /// Whether the target looks objects up by attribute.
    pub fn with_lookup(mut self, on: bool) -> Self {
        self.lookup = on;
        self
    }

    /// Members per call; 0 is taken as 1, since a batch of none could not progress.
    pub fn with_member_batch_size(mut self, size: u32) -> Self {
        self.member_batch_size = size.max(1);
        self
    }

    /// Items per page; 0 is taken as 1.
    pub fn with_max_page_size(mut self, size: u32) -> Self {
        self.max_page_size = size.max(1);
        self
    }
}

/// A target's published rate limit (Slack's tiers, a vendor's documented quota):
/// the pace usher keeps for an app on that target unless the app overrides it.
/// Enforced by the core, per app, by one sender at a time, so it holds across
/// every usher instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// Sustained requests per minute (at least 1).
    pub per_minute: u32,
    /// Requests that may go at once after a quiet spell (at least 1).
    pub burst: u32,
    /// Requests in flight at most (at least 1).
    pub concurrency: u32,
}

impl RateLimit {
    /// A limit; each value below 1 is taken as 1, since a limit of none could
    /// not progress.
    pub fn new(per_minute: u32, burst: u32, concurrency: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            burst: burst.max(1),
            concurrency: concurrency.max(1),
        }
    }
}

/// One downstream target, configured: how usher creates, updates and deprovisions
/// accounts and groups in it. See the crate documentation for the contract
/// (idempotency, errors, capabilities); used as `dyn Connector` by the core.
///
/// The group operations have defaults that refuse with [`ConnectorError::fatal`],
/// for connectors whose [`Capabilities::groups`] is false; the core does not call
/// them then.
///
/// `Debug` is required so whatever holds a connector can be printed; settings
/// inside keep their credentials in [`Secret`](crate::Secret)s, which print redacted.
#[async_trait]
pub trait Connector: Send + Sync + std::fmt::Debug {
    /// What this target supports.
    fn capabilities(&self) -> Capabilities;

    /// Checks that the target answers and accepts the credentials, without
    /// changing anything: the first thing an administrator runs.
    async fn test_connection(&self) -> Result<()>;

    /// Creates the account and returns its remote id. Sets `external_id` on the
    /// target where it can; an account that already exists is a
    /// [`Conflict`](crate::ErrorKind::Conflict), never a second account.
    async fn create_user(&self, user: &UserRecord) -> Result<RemoteId>;

    /// Makes the account `id` match `desired`. `last_pushed` is what usher pushed
    /// last, to send only the difference; `None` means unknown: send everything.
    async fn update_user(
        &self,
        id: &RemoteId,
        desired: &UserRecord,
        last_pushed: Option<&UserRecord>,
    ) -> Result<()>;

    /// Deactivates the account (already inactive: success).
    async fn deactivate_user(&self, id: &RemoteId) -> Result<()>;

    /// Reactivates the same account (already active: success).
    async fn reactivate_user(&self, id: &RemoteId) -> Result<()>;

    /// Deletes the account (already gone: success).
    async fn delete_user(&self, id: &RemoteId) -> Result<()>;

    /// The account that matches `user` on the first of `keys` that finds one,
    /// or `None`.
    async fn find_user(&self, keys: &MatchKeys, user: &UserRecord) -> Result<Option<RemoteUser>>;

    /// One page of the target's accounts, for reconciliation.
    async fn list_users(&self, page: &PageRequest) -> Result<Page<RemoteUser>>;

    /// Creates the group with its first members (at most
    /// [`Capabilities::member_batch_size`]; the rest follow by `add_members`) and
    /// returns its remote id. An existing group is a conflict, as for accounts.
    async fn create_group(&self, group: &GroupRecord, members: &[RemoteId]) -> Result<RemoteId> {
        let _ = (group, members);
        Err(unsupported("groups"))
    }

    /// Makes the group `id` match `desired` (its name and attributes, not its
    /// members); `last_pushed` as for [`Connector::update_user`].
    async fn update_group(
        &self,
        id: &RemoteId,
        desired: &GroupRecord,
        last_pushed: Option<&GroupRecord>,
    ) -> Result<()> {
        let _ = (id, desired, last_pushed);
        Err(unsupported("groups"))
    }

    /// Deletes the group (already gone: success).
    async fn delete_group(&self, id: &RemoteId) -> Result<()> {
        let _ = id;
        Err(unsupported("groups"))
    }

    /// The group that matches `group` by external id, then by display name.
    async fn find_group(&self, group: &GroupRecord) -> Result<Option<RemoteGroup>> {
        let _ = group;
        Err(unsupported("groups"))
    }

    /// One page of the target's groups, for reconciliation.
    async fn list_groups(&self, page: &PageRequest) -> Result<Page<RemoteGroup>> {
        let _ = page;
        Err(unsupported("groups"))
    }

    /// Adds these accounts to the group (members already in it: success).
    async fn add_members(&self, group: &RemoteId, members: &[RemoteId]) -> Result<()> {
        let _ = (group, members);
        Err(unsupported("groups"))
    }

    /// Removes these accounts from the group (members not in it: success).
    async fn remove_members(&self, group: &RemoteId, members: &[RemoteId]) -> Result<()> {
        let _ = (group, members);
        Err(unsupported("groups"))
    }
}

fn unsupported(what: &str) -> ConnectorError {
    ConnectorError::fatal(format!("this connector does not support {what}"))
}
