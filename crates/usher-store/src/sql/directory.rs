//! `Directory` for [`SqlStore`]: the trait's methods, each delegating to the module
//! that owns the concept (`users`, `groups`, `links`).

use async_trait::async_trait;
use usher_core::jit::JitOutcome;
use usher_core::ports::{Directory, Provision};
use usher_core::query::{GroupQuery, Slice, UserQuery};
use usher_core::{
    Group, GroupChange, GroupId, GroupUpdate, IdentityLink, NewGroup, NewIdentityLink, NewUser,
    Page, PageRequest, Result, UpstreamId, User, UserId, UserUpdate,
};

use super::SqlStore;
use super::entities::users;
use super::users::normalize_username;

#[async_trait]
impl Directory for SqlStore {
    async fn create_user(&self, user: NewUser) -> Result<User> {
        self.create_user_impl(user, None).await
    }

    async fn get_user(&self, id: UserId) -> Result<User> {
        self.get_user_impl(id).await
    }

    async fn find_user_by_username(&self, username: &str) -> Result<Option<User>> {
        self.find_user_where(
            users::Column::UsernameNormalized,
            normalize_username(username),
        )
        .await
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        self.find_user_by_email_impl(email).await
    }

    async fn find_user_by_external_id(&self, external_id: &str) -> Result<Option<User>> {
        self.find_user_where(users::Column::ExternalId, external_id.to_owned())
            .await
    }

    async fn find_user_by_link(
        &self,
        upstream: &UpstreamId,
        subject: &str,
    ) -> Result<Option<User>> {
        self.find_user_by_link_impl(upstream, subject).await
    }

    async fn update_user(&self, id: UserId, update: UserUpdate) -> Result<User> {
        self.update_user_impl(id, update, None, None).await
    }

    async fn delete_user(&self, id: UserId) -> Result<()> {
        self.delete_user_impl(id, None, None).await
    }

    async fn list_users(&self, page: PageRequest) -> Result<Page<User>> {
        self.list_users_impl(page).await
    }

    async fn create_group(&self, group: NewGroup) -> Result<Group> {
        self.create_group_impl(group, &[], None).await
    }

    async fn get_group(&self, id: GroupId) -> Result<Group> {
        self.get_group_impl(id).await
    }

    async fn find_group_by_name(&self, name: &str) -> Result<Option<Group>> {
        self.find_group_by_name_impl(name).await
    }

    async fn update_group(&self, id: GroupId, update: GroupUpdate) -> Result<Group> {
        self.update_group_impl(id, update).await
    }

    async fn delete_group(&self, id: GroupId) -> Result<()> {
        self.delete_group_impl(id, None, None).await
    }

    async fn list_groups(&self, page: PageRequest) -> Result<Page<Group>> {
        self.list_groups_impl(page).await
    }

    async fn add_member(&self, group: GroupId, user: UserId) -> Result<bool> {
        self.add_member_impl(group, user).await
    }

    async fn remove_member(&self, group: GroupId, user: UserId) -> Result<bool> {
        self.remove_member_impl(group, user).await
    }

    async fn members_of(&self, group: GroupId, page: PageRequest) -> Result<Page<UserId>> {
        self.members_of_impl(group, page).await
    }

    async fn groups_of(&self, user: UserId) -> Result<Vec<Group>> {
        self.groups_of_impl(user).await
    }

    async fn link_identity(&self, link: NewIdentityLink) -> Result<IdentityLink> {
        self.link_identity_impl(link).await
    }

    async fn unlink_identity(&self, upstream: &UpstreamId, subject: &str) -> Result<bool> {
        self.unlink_identity_impl(upstream, subject).await
    }

    async fn links_of(&self, user: UserId) -> Result<Vec<IdentityLink>> {
        self.links_of_impl(user).await
    }

    async fn query_users(&self, query: &UserQuery) -> Result<Slice<User>> {
        self.query_users_impl(query).await
    }

    async fn query_groups(&self, query: &GroupQuery) -> Result<Slice<Group>> {
        self.query_groups_impl(query).await
    }

    async fn provision_user(&self, user: NewUser, actor: &str) -> Result<User> {
        self.create_user_impl(user, Some(actor)).await
    }

    async fn replace_user(
        &self,
        id: UserId,
        update: UserUpdate,
        if_version: Option<i64>,
        actor: &str,
    ) -> Result<User> {
        self.update_user_impl(id, update, if_version, Some(actor))
            .await
    }

    async fn remove_user(&self, id: UserId, if_version: Option<i64>, actor: &str) -> Result<()> {
        self.delete_user_impl(id, if_version, Some(actor)).await
    }

    async fn provision_group(
        &self,
        group: NewGroup,
        members: &[UserId],
        actor: &str,
    ) -> Result<Group> {
        self.create_group_impl(group, members, Some(actor)).await
    }

    async fn change_group(
        &self,
        id: GroupId,
        change: GroupChange,
        if_version: Option<i64>,
        actor: &str,
    ) -> Result<Group> {
        self.change_group_impl(id, change, if_version, Some(actor))
            .await
    }

    async fn remove_group(&self, id: GroupId, if_version: Option<i64>, actor: &str) -> Result<()> {
        self.delete_group_impl(id, if_version, Some(actor)).await
    }

    async fn member_ids(&self, group: GroupId, limit: u32) -> Result<Vec<UserId>> {
        self.member_ids_impl(group, limit).await
    }

    async fn touch_link(&self, upstream: &UpstreamId, subject: &str) -> Result<()> {
        self.touch_link_impl(upstream, subject).await
    }

    async fn provision(&self, request: Provision) -> Result<Option<(User, JitOutcome)>> {
        self.provision_impl(request).await
    }
}
