//! Groups and memberships.

use sea_orm::ActiveValue::{Set, Unchanged};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TryInsertResult,
};
use time::OffsetDateTime;
use usher_core::{
    Error, Group, GroupChange, GroupId, GroupSnapshot, GroupUpdate, LifecycleEvent, NewGroup, Page,
    PageRequest, Result, SYSTEM_ACTOR, UserId,
};
use uuid::Uuid;

use super::SqlStore;
use super::audit::record_in;
use super::entities::{group_members, groups, users};
use super::errors::{db_err, is_foreign_key_violation};
use super::outbox::emit;
use super::store::finish;

/// Group names compare case-insensitively, like usernames.
fn normalize_name(name: &str) -> String {
    name.to_lowercase()
}

impl SqlStore {
    pub(super) async fn create_group_impl(
        &self,
        new: NewGroup,
        members: &[UserId],
        actor: Option<&str>,
    ) -> Result<Group> {
        new.validate()?;
        let now = self.now();
        let group = Group {
            id: GroupId::new(),
            name: new.name,
            display_name: new.display_name,
            external_id: new.external_id,
            created_at: now,
            updated_at: now,
            version: 1,
            provisioned_by: new.provisioned_by,
        };
        let by = actor.unwrap_or(SYSTEM_ACTOR);
        let txn = self.begin().await?;
        let result = async {
            groups::Entity::insert(to_active_model(&group))
                .exec_without_returning(&txn)
                .await
                .map_err(db_err)?;
            let event = LifecycleEvent::GroupCreated { group_id: group.id };
            emit(&txn, event, by, now).await?;
            add_members(&txn, group.id, members, by, now).await?;
            if let Some(actor) = actor {
                record_in(&txn, now, actor, "group.create", &group.id.to_string()).await?;
            }
            Ok(group)
        }
        .await;
        finish(txn, result).await
    }

    pub(super) async fn get_group_impl(&self, id: GroupId) -> Result<Group> {
        groups::Entity::find_by_id(id.0)
            .one(self.conn())
            .await
            .map_err(db_err)?
            .map(to_group)
            .ok_or(Error::not_found("group"))
    }

    pub(super) async fn find_group_by_name_impl(&self, name: &str) -> Result<Option<Group>> {
        Ok(groups::Entity::find()
            .filter(groups::Column::NameNormalized.eq(normalize_name(name)))
            .one(self.conn())
            .await
            .map_err(db_err)?
            .map(to_group))
    }

    pub(super) async fn update_group_impl(
        &self,
        id: GroupId,
        update: GroupUpdate,
    ) -> Result<Group> {
        update.validate()?;
        let now = self.now();
        let txn = self.begin().await?;
        let result = async {
            let old = lock_group(&txn, id).await?;
            let mut new = old.clone();
            update.apply_to(&mut new);
            if new == old {
                return Ok(old);
            }
            new.updated_at = now;
            new.version = old.version + 1;
            let mut model = to_active_model(&new);
            model.id = Unchanged(id.0);
            model.created_at = Unchanged(old.created_at);
            model.provisioned_by = Unchanged(old.provisioned_by.clone());
            model.update(&txn).await.map_err(db_err)?;
            let event = LifecycleEvent::GroupUpdated { group_id: id };
            emit(&txn, event, SYSTEM_ACTOR, now).await?;
            Ok(new)
        }
        .await;
        finish(txn, result).await
    }

    pub(super) async fn delete_group_impl(
        &self,
        id: GroupId,
        if_version: Option<i64>,
        actor: Option<&str>,
    ) -> Result<()> {
        let now = self.now();
        let by = actor.unwrap_or(SYSTEM_ACTOR);
        let txn = self.begin().await?;
        let result = async {
            // Locking the group first blocks concurrent add_member (its foreign key
            // check needs a share lock on this row), so no member joins unannounced
            // between the read below and the delete.
            let old = lock_group(&txn, id).await?;
            check_version(&old, if_version)?;
            let members: Vec<Uuid> = group_members::Entity::find()
                .select_only()
                .column(group_members::Column::UserId)
                .filter(group_members::Column::GroupId.eq(id.0))
                .order_by_asc(group_members::Column::UserId)
                .into_tuple()
                .all(&txn)
                .await
                .map_err(db_err)?;
            groups::Entity::delete_by_id(id.0)
                .exec(&txn)
                .await
                .map_err(db_err)?;
            for user in members {
                let event = LifecycleEvent::MembershipRemoved {
                    group_id: id,
                    user_id: UserId(user),
                };
                emit(&txn, event, by, now).await?;
            }
            let event = LifecycleEvent::GroupDeleted {
                group_id: id,
                snapshot: GroupSnapshot::from(&old),
            };
            emit(&txn, event, by, now).await?;
            if let Some(actor) = actor {
                record_in(&txn, now, actor, "group.delete", &id.to_string()).await?;
            }
            Ok(())
        }
        .await;
        finish(txn, result).await
    }

    pub(super) async fn change_group_impl(
        &self,
        id: GroupId,
        change: GroupChange,
        if_version: Option<i64>,
        actor: Option<&str>,
    ) -> Result<Group> {
        change.update.validate()?;
        let now = self.now();
        let by = actor.unwrap_or(SYSTEM_ACTOR);
        let txn = self.begin().await?;
        let result = async {
            // The row lock serializes writers of one group: two PATCHes adding
            // different members both land, one after the other.
            let old = lock_group(&txn, id).await?;
            check_version(&old, if_version)?;
            let mut new = old.clone();
            change.update.apply_to(&mut new);
            let fields_changed = new != old;
            let added = add_members(&txn, id, &change.add, by, now).await?;
            let mut removed = 0;
            for user in dedup(&change.remove) {
                let deleted = group_members::Entity::delete_many()
                    .filter(group_members::Column::GroupId.eq(id.0))
                    .filter(group_members::Column::UserId.eq(user.0))
                    .exec(&txn)
                    .await
                    .map_err(db_err)?;
                if deleted.rows_affected > 0 {
                    removed += 1;
                    let event = LifecycleEvent::MembershipRemoved {
                        group_id: id,
                        user_id: user,
                    };
                    emit(&txn, event, by, now).await?;
                }
            }
            if !fields_changed && added == 0 && removed == 0 {
                return Ok(old);
            }
            new.updated_at = now;
            new.version = old.version + 1;
            let mut model = to_active_model(&new);
            model.id = Unchanged(id.0);
            model.created_at = Unchanged(old.created_at);
            model.provisioned_by = Unchanged(old.provisioned_by.clone());
            model.update(&txn).await.map_err(db_err)?;
            if fields_changed {
                let event = LifecycleEvent::GroupUpdated { group_id: id };
                emit(&txn, event, by, now).await?;
            }
            if let Some(actor) = actor {
                record_in(&txn, now, actor, "group.update", &id.to_string()).await?;
            }
            Ok(new)
        }
        .await;
        finish(txn, result).await
    }

    pub(super) async fn member_ids_impl(&self, group: GroupId, limit: u32) -> Result<Vec<UserId>> {
        require_group(self.conn(), group).await?;
        let ids: Vec<Uuid> = group_members::Entity::find()
            .select_only()
            .column(group_members::Column::UserId)
            .filter(group_members::Column::GroupId.eq(group.0))
            .order_by_asc(group_members::Column::UserId)
            .limit(u64::from(limit))
            .into_tuple()
            .all(self.conn())
            .await
            .map_err(db_err)?;
        Ok(ids.into_iter().map(UserId).collect())
    }

    pub(super) async fn list_groups_impl(&self, page: PageRequest) -> Result<Page<Group>> {
        let limit = page.effective_limit();
        let mut query = groups::Entity::find()
            .order_by_asc(groups::Column::NameNormalized)
            .limit(u64::from(limit) + 1);
        if let Some(after) = page.after {
            query = query.filter(groups::Column::NameNormalized.gt(after));
        }
        let rows = query.all(self.conn()).await.map_err(db_err)?;
        Ok(Page::from_overfetch(rows, limit, |r| r.name_normalized.clone()).map(to_group))
    }

    pub(super) async fn add_member_impl(&self, group: GroupId, user: UserId) -> Result<bool> {
        let now = self.now();
        let txn = self.begin().await?;
        let result = add_member_in(&txn, group, user, SYSTEM_ACTOR, now).await;
        finish(txn, result).await
    }

    pub(super) async fn remove_member_impl(&self, group: GroupId, user: UserId) -> Result<bool> {
        let now = self.now();
        let txn = self.begin().await?;
        let result = remove_member_in(&txn, group, user, SYSTEM_ACTOR, now).await;
        finish(txn, result).await
    }

    pub(super) async fn members_of_impl(
        &self,
        group: GroupId,
        page: PageRequest,
    ) -> Result<Page<UserId>> {
        require_group(self.conn(), group).await?;
        let limit = page.effective_limit();
        let mut query = group_members::Entity::find()
            .select_only()
            .column(group_members::Column::UserId)
            .filter(group_members::Column::GroupId.eq(group.0))
            .order_by_asc(group_members::Column::UserId)
            .limit(u64::from(limit) + 1);
        if let Some(after) = page.after {
            let after = Uuid::parse_str(&after)
                .map_err(|_| Error::Invalid("malformed page cursor".into()))?;
            query = query.filter(group_members::Column::UserId.gt(after));
        }
        let ids: Vec<Uuid> = query.into_tuple().all(self.conn()).await.map_err(db_err)?;
        Ok(Page::from_overfetch(ids, limit, Uuid::to_string).map(UserId))
    }

    pub(super) async fn groups_of_impl(&self, user: UserId) -> Result<Vec<Group>> {
        require_user(self.conn(), user).await?;
        let group_ids: Vec<Uuid> = group_members::Entity::find()
            .select_only()
            .column(group_members::Column::GroupId)
            .filter(group_members::Column::UserId.eq(user.0))
            .into_tuple()
            .all(self.conn())
            .await
            .map_err(db_err)?;
        if group_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = groups::Entity::find()
            .filter(groups::Column::Id.is_in(group_ids))
            .order_by_asc(groups::Column::NameNormalized)
            .all(self.conn())
            .await
            .map_err(db_err)?;
        Ok(rows.into_iter().map(to_group).collect())
    }
}

/// Adds a membership on `txn` with its event; `false` when already a member.
pub(crate) async fn add_member_in(
    txn: &impl ConnectionTrait,
    group: GroupId,
    user: UserId,
    actor: &str,
    now: OffsetDateTime,
) -> Result<bool> {
    require_group(txn, group).await?;
    require_user(txn, user).await?;
    let row = group_members::ActiveModel {
        group_id: Set(group.0),
        user_id: Set(user.0),
        created_at: Set(now),
    };
    // ON CONFLICT DO NOTHING: of two concurrent adds, one inserts and reports
    // the event, the other sees the row and reports nothing.
    let inserted = group_members::Entity::insert(row)
        .on_conflict_do_nothing_on([
            group_members::Column::GroupId,
            group_members::Column::UserId,
        ])
        .exec_without_returning(txn)
        .await
        .map_err(|e| {
            if is_foreign_key_violation(&e) {
                Error::not_found("group or user")
            } else {
                db_err(e)
            }
        })?;
    if !matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
        return Ok(false);
    }
    let event = LifecycleEvent::MembershipAdded {
        group_id: group,
        user_id: user,
    };
    emit(txn, event, actor, now).await?;
    bump_version(txn, group, now).await?;
    Ok(true)
}

/// Removes a membership on `txn` with its event; `false` when not a member.
pub(crate) async fn remove_member_in(
    txn: &impl ConnectionTrait,
    group: GroupId,
    user: UserId,
    actor: &str,
    now: OffsetDateTime,
) -> Result<bool> {
    require_group(txn, group).await?;
    require_user(txn, user).await?;
    let deleted = group_members::Entity::delete_many()
        .filter(group_members::Column::GroupId.eq(group.0))
        .filter(group_members::Column::UserId.eq(user.0))
        .exec(txn)
        .await
        .map_err(db_err)?;
    if deleted.rows_affected == 0 {
        return Ok(false);
    }
    let event = LifecycleEvent::MembershipRemoved {
        group_id: group,
        user_id: user,
    };
    emit(txn, event, actor, now).await?;
    bump_version(txn, group, now).await?;
    Ok(true)
}

/// Before a user's delete: one `MembershipRemoved` per group it is in, in group id
/// order, and each group's version moved (its member list, part of its SCIM
/// ETag, is about to change). The rows themselves go with the user's.
pub(crate) async fn announce_leaving_groups(
    txn: &impl ConnectionTrait,
    user: UserId,
    actor: &str,
    now: OffsetDateTime,
) -> Result<()> {
    let group_ids: Vec<Uuid> = group_members::Entity::find()
        .select_only()
        .column(group_members::Column::GroupId)
        .filter(group_members::Column::UserId.eq(user.0))
        .order_by_asc(group_members::Column::GroupId)
        .into_tuple()
        .all(txn)
        .await
        .map_err(db_err)?;
    for group in group_ids.into_iter().map(GroupId) {
        let event = LifecycleEvent::MembershipRemoved {
            group_id: group,
            user_id: user,
        };
        emit(txn, event, actor, now).await?;
        bump_version(txn, group, now).await?;
    }
    Ok(())
}

/// The group named `name` (case-insensitively), created with its event when
/// missing.
pub(crate) async fn ensure_group(
    txn: &impl ConnectionTrait,
    name: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<GroupId> {
    let new = NewGroup::named(name);
    new.validate()?;
    let found = groups::Entity::find()
        .filter(groups::Column::NameNormalized.eq(normalize_name(name)))
        .one(txn)
        .await
        .map_err(db_err)?;
    if let Some(row) = found {
        return Ok(GroupId(row.id));
    }
    let group = Group {
        id: GroupId::new(),
        name: new.name,
        display_name: None,
        external_id: None,
        created_at: now,
        updated_at: now,
        version: 1,
        provisioned_by: None,
    };
    groups::Entity::insert(to_active_model(&group))
        .exec_without_returning(txn)
        .await
        .map_err(db_err)?;
    let event = LifecycleEvent::GroupCreated { group_id: group.id };
    emit(txn, event, actor, now).await?;
    Ok(group.id)
}

/// The id of the group named `name`, if any.
pub(crate) async fn find_group_id(
    txn: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<GroupId>> {
    if NewGroup::named(name).validate().is_err() {
        return Ok(None);
    }
    Ok(groups::Entity::find()
        .filter(groups::Column::NameNormalized.eq(normalize_name(name)))
        .one(txn)
        .await
        .map_err(db_err)?
        .map(|row| GroupId(row.id)))
}

fn check_version(group: &Group, expected: Option<i64>) -> Result<()> {
    match expected {
        Some(v) if v != group.version => Err(Error::VersionMismatch {
            entity: "group",
            current: group.version,
        }),
        _ => Ok(()),
    }
}

/// A membership change is a change of the group: its ETag must move.
async fn bump_version(
    conn: &impl ConnectionTrait,
    group: GroupId,
    now: time::OffsetDateTime,
) -> Result<()> {
    groups::Entity::update_many()
        .col_expr(
            groups::Column::Version,
            Expr::col(groups::Column::Version).add(1),
        )
        .col_expr(groups::Column::UpdatedAt, Expr::value(now))
        .filter(groups::Column::Id.eq(group.0))
        .exec(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

fn dedup(users: &[UserId]) -> Vec<UserId> {
    let mut seen = std::collections::HashSet::new();
    users.iter().copied().filter(|u| seen.insert(*u)).collect()
}

/// Adds users to a group (already members skipped), emitting one
/// `MembershipAdded` per new member; returns how many joined. Every user must
/// exist, or nothing is added (`NotFound`).
async fn add_members(
    conn: &impl ConnectionTrait,
    group: GroupId,
    users_to_add: &[UserId],
    actor: &str,
    now: time::OffsetDateTime,
) -> Result<usize> {
    let wanted = dedup(users_to_add);
    if wanted.is_empty() {
        return Ok(0);
    }
    for chunk in wanted.chunks(500) {
        let found: Vec<Uuid> = users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .filter(users::Column::Id.is_in(chunk.iter().map(|u| u.0)))
            .into_tuple()
            .all(conn)
            .await
            .map_err(db_err)?;
        if found.len() != chunk.len() {
            return Err(Error::not_found("user"));
        }
    }
    let mut added = 0;
    for user in wanted {
        let row = group_members::ActiveModel {
            group_id: Set(group.0),
            user_id: Set(user.0),
            created_at: Set(now),
        };
        let inserted = group_members::Entity::insert(row)
            .on_conflict_do_nothing_on([
                group_members::Column::GroupId,
                group_members::Column::UserId,
            ])
            .exec_without_returning(conn)
            .await
            .map_err(|e| {
                if is_foreign_key_violation(&e) {
                    Error::not_found("user")
                } else {
                    db_err(e)
                }
            })?;
        if matches!(inserted, TryInsertResult::Inserted(n) if n > 0) {
            added += 1;
            let event = LifecycleEvent::MembershipAdded {
                group_id: group,
                user_id: user,
            };
            emit(conn, event, actor, now).await?;
        }
    }
    Ok(added)
}

async fn lock_group(conn: &impl ConnectionTrait, id: GroupId) -> Result<Group> {
    groups::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(conn)
        .await
        .map_err(db_err)?
        .map(to_group)
        .ok_or(Error::not_found("group"))
}

async fn require_group(conn: &impl ConnectionTrait, id: GroupId) -> Result<()> {
    let found: Option<Uuid> = groups::Entity::find_by_id(id.0)
        .select_only()
        .column(groups::Column::Id)
        .into_tuple()
        .one(conn)
        .await
        .map_err(db_err)?;
    found.map(|_| ()).ok_or(Error::not_found("group"))
}

pub(crate) async fn require_user(conn: &impl ConnectionTrait, id: UserId) -> Result<()> {
    let found: Option<Uuid> = users::Entity::find_by_id(id.0)
        .select_only()
        .column(users::Column::Id)
        .into_tuple()
        .one(conn)
        .await
        .map_err(db_err)?;
    found.map(|_| ()).ok_or(Error::not_found("user"))
}

fn to_active_model(group: &Group) -> groups::ActiveModel {
    groups::ActiveModel {
        id: Set(group.id.0),
        name: Set(group.name.clone()),
        name_normalized: Set(normalize_name(&group.name)),
        display_name: Set(group.display_name.clone()),
        external_id: Set(group.external_id.clone()),
        created_at: Set(group.created_at),
        updated_at: Set(group.updated_at),
        version: Set(group.version),
        provisioned_by: Set(group.provisioned_by.clone()),
    }
}

pub(crate) fn to_group(row: groups::Model) -> Group {
    Group {
        id: GroupId(row.id),
        name: row.name,
        display_name: row.display_name,
        external_id: row.external_id,
        created_at: row.created_at,
        updated_at: row.updated_at,
        version: row.version,
        provisioned_by: row.provisioned_by,
    }
}
