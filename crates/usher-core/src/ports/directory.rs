use async_trait::async_trait;

use crate::jit::{JitOutcome, Plan};
use crate::query::{GroupQuery, Slice, UserQuery};
use crate::{
    Group, GroupChange, GroupId, GroupUpdate, IdentityLink, NewGroup, NewIdentityLink, NewUser,
    Page, PageRequest, Result, UpstreamId, User, UserId, UserUpdate,
};

/// A JIT plan to apply for an upstream identity (see [`Directory::provision`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Provision {
    /// The upstream.
    pub upstream: UpstreamId,
    /// Its subject (the link's key).
    pub subject: String,
    /// What [`decide`](crate::jit::decide) planned.
    pub plan: Plan,
    /// The browser's address, for the report row.
    pub client_ip: Option<String>,
}

/// Users, groups, memberships and identity links.
///
/// Every method that changes something writes the matching
/// [`LifecycleEvent`](crate::LifecycleEvent) to the outbox in the same transaction:
/// either both are stored or neither is.
/// The event names the write's actor: the `actor` of the provisioning writes,
/// `jit:<upstream>` for [`Directory::provision`], and
/// [`SYSTEM_ACTOR`](crate::SYSTEM_ACTOR) for the methods that carry none. Uniqueness violations come back as
/// [`Error::Conflict`](crate::Error::Conflict) and change nothing; a missing user
/// or group as [`Error::NotFound`](crate::Error::NotFound).
#[async_trait]
pub trait Directory: Send + Sync {
    /// Creates a user. Emits `UserCreated`.
    async fn create_user(&self, user: NewUser) -> Result<User>;
    /// Reads a user.
    async fn get_user(&self, id: UserId) -> Result<User>;
    /// Finds a user by username (case-insensitive).
    async fn find_user_by_username(&self, username: &str) -> Result<Option<User>>;
    /// Finds the user that has this email address (case-insensitive).
    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>>;
    /// Finds a user by the id its provisioning source knows it by.
    async fn find_user_by_external_id(&self, external_id: &str) -> Result<Option<User>>;
    /// Finds the user an upstream identity is linked to.
    async fn find_user_by_link(&self, upstream: &UpstreamId, subject: &str)
    -> Result<Option<User>>;
    /// Changes a user. Emits `UserDeactivated` or `UserReactivated` when `active`
    /// flips, and `UserUpdated` when anything else changed; nothing when nothing did.
    async fn update_user(&self, id: UserId, update: UserUpdate) -> Result<User>;
    /// Deletes a user with its memberships and links. Emits `MembershipRemoved` for
    /// each group it was in, then `UserDeleted` with a snapshot of the user.
    async fn delete_user(&self, id: UserId) -> Result<()>;
    /// Users in username order.
    async fn list_users(&self, page: PageRequest) -> Result<Page<User>>;

    /// Creates a group. Emits `GroupCreated`.
    async fn create_group(&self, group: NewGroup) -> Result<Group>;
    /// Reads a group.
    async fn get_group(&self, id: GroupId) -> Result<Group>;
    /// Finds a group by name (case-insensitive).
    async fn find_group_by_name(&self, name: &str) -> Result<Option<Group>>;
    /// Changes a group. Emits `GroupUpdated` when something changed.
    async fn update_group(&self, id: GroupId, update: GroupUpdate) -> Result<Group>;
    /// Deletes a group and its memberships. Emits `MembershipRemoved` for each
    /// member, then `GroupDeleted` with a snapshot of the group.
    async fn delete_group(&self, id: GroupId) -> Result<()>;
    /// Groups in name order.
    async fn list_groups(&self, page: PageRequest) -> Result<Page<Group>>;

    /// Adds a user to a group; `false` when already a member (and no event).
    /// Emits `MembershipAdded`.
    async fn add_member(&self, group: GroupId, user: UserId) -> Result<bool>;
    /// Removes a user from a group; `false` when not a member (and no event).
    /// Emits `MembershipRemoved`.
    async fn remove_member(&self, group: GroupId, user: UserId) -> Result<bool>;
    /// The members of a group, in user id order.
    async fn members_of(&self, group: GroupId, page: PageRequest) -> Result<Page<UserId>>;
    /// The groups a user belongs to, in name order.
    async fn groups_of(&self, user: UserId) -> Result<Vec<Group>>;

    /// Links an upstream identity to a user.
    async fn link_identity(&self, link: NewIdentityLink) -> Result<IdentityLink>;
    /// Removes a link; `false` when there was none.
    async fn unlink_identity(&self, upstream: &UpstreamId, subject: &str) -> Result<bool>;
    /// A user's links.
    async fn links_of(&self, user: UserId) -> Result<Vec<IdentityLink>>;
    /// Records a sign-in through a link.
    async fn touch_link(&self, upstream: &UpstreamId, subject: &str) -> Result<()>;

    /// Applies a JIT plan in ONE transaction: creates the user (`Create`) or
    /// updates it, links `(upstream, subject)` (`Create`, `Link`) or records the
    /// sign-in on the link (`SignIn`), creates missing groups, adds and removes the
    /// memberships, writes the provisioning report row and every lifecycle event.
    /// When anything fails, nothing is stored. `Ok(None)`: the user to link or sign
    /// in has been deactivated meanwhile (nothing stored). A taken username or email
    /// is `Error::Conflict`; a link made meanwhile `Conflict(IdentityLink)`.
    async fn provision(&self, request: Provision) -> Result<Option<(User, JitOutcome)>>;
    /// Users matching a query, with the number of all matches. Storage translates
    /// the filter with bound parameters and refuses one over the
    /// [bounds](crate::query::check_bounds) with `Error::Invalid`.
    async fn query_users(&self, query: &UserQuery) -> Result<Slice<User>>;
    /// Groups matching a query, with the number of all matches.
    async fn query_groups(&self, query: &GroupQuery) -> Result<Slice<Group>>;

    // Provisioning writes (SCIM). Each also writes an audit record naming `actor`,
    // in the same transaction as the change and its outbox events; `if_version`
    // makes the write conditional (`Error::VersionMismatch` when the stored version
    // differs, nothing written).

    /// Creates a user as [`Directory::create_user`] does, audited.
    async fn provision_user(&self, user: NewUser, actor: &str) -> Result<User>;
    /// Changes a user as [`Directory::update_user`] does, conditionally and audited.
    async fn replace_user(
        &self,
        id: UserId,
        update: UserUpdate,
        if_version: Option<i64>,
        actor: &str,
    ) -> Result<User>;
    /// Deletes a user as [`Directory::delete_user`] does, conditionally and audited.
    async fn remove_user(&self, id: UserId, if_version: Option<i64>, actor: &str) -> Result<()>;
    /// Creates a group with its first members in one transaction. Emits
    /// `GroupCreated` and one `MembershipAdded` per member; an unknown member is
    /// `Error::NotFound` and nothing is written.
    async fn provision_group(
        &self,
        group: NewGroup,
        members: &[UserId],
        actor: &str,
    ) -> Result<Group>;
    /// Changes a group's fields and members in one transaction, conditionally and
    /// audited: the version increases once when anything changed. Adding an unknown
    /// user is `Error::NotFound` and nothing is written.
    async fn change_group(
        &self,
        id: GroupId,
        change: GroupChange,
        if_version: Option<i64>,
        actor: &str,
    ) -> Result<Group>;
    /// Deletes a group as [`Directory::delete_group`] does, conditionally and audited.
    async fn remove_group(&self, id: GroupId, if_version: Option<i64>, actor: &str) -> Result<()>;
    /// Every member of a group, in user id order (at most `limit`).
    async fn member_ids(&self, group: GroupId, limit: u32) -> Result<Vec<UserId>>;
}
