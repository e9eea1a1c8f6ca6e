//! Users and their email addresses.

use std::collections::HashMap;

use sea_orm::ActiveValue::{Set, Unchanged};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use usher_core::{
    Email, Error, LifecycleEvent, NewUser, Page, PageRequest, Result, SYSTEM_ACTOR, User, UserId,
    UserSnapshot, UserUpdate, normalize_email,
};
use uuid::Uuid;

use super::SqlStore;
use super::audit::record_in;
use super::entities::{user_emails, users};
use super::errors::db_err;
use super::groups::announce_leaving_groups;
use super::outbox::emit;
use super::store::finish;

/// The form under which usernames are compared and kept unique: two accounts that
/// differ only in case would be indistinguishable to people and to most IdPs.
pub(crate) fn normalize_username(username: &str) -> String {
    username.to_lowercase()
}

impl SqlStore {
    pub(super) async fn create_user_impl(&self, new: NewUser, actor: Option<&str>) -> Result<User> {
        new.validate()?;
        let now = self.now();
        let user = User {
            id: UserId::new(),
            username: new.username,
            emails: new.emails,
            display_name: new.display_name,
            given_name: new.given_name,
            family_name: new.family_name,
            active: new.active,
            external_id: new.external_id,
            attributes: new.attributes,
            created_at: now,
            updated_at: now,
            version: 1,
            provisioned_by: new.provisioned_by,
        };
        let txn = self.begin().await?;
        let result = async {
            let user = insert_user(&txn, user, actor.unwrap_or(SYSTEM_ACTOR), now).await?;
            if let Some(actor) = actor {
                record_in(&txn, now, actor, "user.create", &user.id.to_string()).await?;
            }
            Ok(user)
        }
        .await;
        finish(txn, result).await
    }

    pub(super) async fn get_user_impl(&self, id: UserId) -> Result<User> {
        find_user(self.conn(), id)
            .await?
            .ok_or(Error::not_found("user"))
    }

    pub(super) async fn find_user_where(
        &self,
        column: users::Column,
        value: String,
    ) -> Result<Option<User>> {
        let row = users::Entity::find()
            .filter(column.eq(value))
            .one(self.conn())
            .await
            .map_err(db_err)?;
        match row {
            Some(row) => Ok(Some(load_user(self.conn(), row).await?)),
            None => Ok(None),
        }
    }

    pub(super) async fn find_user_by_email_impl(&self, email: &str) -> Result<Option<User>> {
        let row = user_emails::Entity::find()
            .filter(user_emails::Column::AddressNormalized.eq(normalize_email(email)))
            .one(self.conn())
            .await
            .map_err(db_err)?;
        match row {
            Some(row) => find_user(self.conn(), UserId(row.user_id)).await,
            None => Ok(None),
        }
    }

    pub(super) async fn update_user_impl(
        &self,
        id: UserId,
        update: UserUpdate,
        if_version: Option<i64>,
        actor: Option<&str>,
    ) -> Result<User> {
        update.validate()?;
        let now = self.now();
        let txn = self.begin().await?;
        let result = async {
            let by = actor.unwrap_or(SYSTEM_ACTOR);
            let (old, new) = update_user_in(&txn, id, update, if_version, by, now).await?;
            if let Some(actor) = actor
                && old.version != new.version
            {
                let action = match (old.active != new.active, new.active) {
                    (true, false) => "user.deactivate",
                    (true, true) => "user.reactivate",
                    _ => "user.update",
                };
                record_in(&txn, now, actor, action, &id.to_string()).await?;
            }
            Ok(new)
        }
        .await;
        finish(txn, result).await
    }

    pub(super) async fn delete_user_impl(
        &self,
        id: UserId,
        if_version: Option<i64>,
        actor: Option<&str>,
    ) -> Result<()> {
        let now = self.now();
        let txn = self.begin().await?;
        let result = async {
            // Locking the user first blocks concurrent add_member (its foreign key
            // check needs a share lock on this row), so no membership appears
            // unannounced between the read below and the delete.
            let row = users::Entity::find_by_id(id.0)
                .lock_exclusive()
                .one(&txn)
                .await
                .map_err(db_err)?
                .ok_or(Error::not_found("user"))?;
            if let Some(expected) = if_version
                && row.version != expected
            {
                return Err(Error::VersionMismatch {
                    entity: "user",
                    current: row.version,
                });
            }
            let snapshot = UserSnapshot::from(&load_user(&txn, row).await?);
            let by = actor.unwrap_or(SYSTEM_ACTOR);
            announce_leaving_groups(&txn, id, by, now).await?;
            // Emails, memberships and links go by ON DELETE CASCADE.
            users::Entity::delete_by_id(id.0)
                .exec(&txn)
                .await
                .map_err(db_err)?;
            let event = LifecycleEvent::UserDeleted {
                user_id: id,
                snapshot,
            };
            emit(&txn, event, by, now).await?;
            if let Some(actor) = actor {
                record_in(&txn, now, actor, "user.delete", &id.to_string()).await?;
            }
            Ok(())
        }
        .await;
        finish(txn, result).await
    }

    pub(super) async fn list_users_impl(&self, page: PageRequest) -> Result<Page<User>> {
        let limit = page.effective_limit();
        let mut query = users::Entity::find()
            .order_by_asc(users::Column::UsernameNormalized)
            .limit(u64::from(limit) + 1);
        if let Some(after) = page.after {
            query = query.filter(users::Column::UsernameNormalized.gt(after));
        }
        let rows = query.all(self.conn()).await.map_err(db_err)?;
        let page = Page::from_overfetch(rows, limit, |r| r.username_normalized.clone());
        let items = load_users(self.conn(), page.items).await?;
        Ok(Page {
            items,
            next: page.next,
        })
    }
}

/// Inserts a new user with its addresses and its `UserCreated` event on `txn`.
pub(crate) async fn insert_user(
    txn: &impl ConnectionTrait,
    user: User,
    actor: &str,
    now: OffsetDateTime,
) -> Result<User> {
    users::Entity::insert(to_active_model(&user))
        .exec_without_returning(txn)
        .await
        .map_err(db_err)?;
    insert_emails(txn, user.id, &user.emails).await?;
    emit(
        txn,
        LifecycleEvent::UserCreated { user_id: user.id },
        actor,
        now,
    )
    .await?;
    Ok(user)
}

/// Applies `update` to a user on `txn` (locking its row), with its events; with
/// `if_version`, only when the stored version is that one. Returns the user
/// before and after (the same when nothing changed).
pub(crate) async fn update_user_in(
    txn: &impl ConnectionTrait,
    id: UserId,
    update: UserUpdate,
    if_version: Option<i64>,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(User, User)> {
    // FOR UPDATE on PostgreSQL: two concurrent updates must not both compute
    // their events from the same old row. (SQLite's IMMEDIATE transaction
    // already serializes writers.)
    let row = users::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(txn)
        .await
        .map_err(db_err)?
        .ok_or(Error::not_found("user"))?;
    let old = load_user(txn, row).await?;
    if let Some(expected) = if_version
        && expected != old.version
    {
        return Err(Error::VersionMismatch {
            entity: "user",
            current: old.version,
        });
    }
    let mut new = old.clone();
    update.apply_to(&mut new);
    let flipped = old.active != new.active;
    let changed = !same_profile(&old, &new);
    if !flipped && !changed {
        return Ok((old.clone(), old));
    }
    new.updated_at = now;
    new.version = old.version + 1;
    let mut model = to_active_model(&new);
    model.id = Unchanged(id.0);
    model.created_at = Unchanged(old.created_at);
    model.provisioned_by = Unchanged(old.provisioned_by.clone());
    model.update(txn).await.map_err(db_err)?;
    if new.emails != old.emails {
        user_emails::Entity::delete_many()
            .filter(user_emails::Column::UserId.eq(id.0))
            .exec(txn)
            .await
            .map_err(db_err)?;
        insert_emails(txn, id, &new.emails).await?;
    }
    // Downstream accounts should be active while changes are pushed to them:
    // reactivate before updating, update before deactivating.
    let user_id = id;
    if flipped && new.active {
        emit(txn, LifecycleEvent::UserReactivated { user_id }, actor, now).await?;
    }
    if changed {
        emit(txn, LifecycleEvent::UserUpdated { user_id }, actor, now).await?;
    }
    if flipped && !new.active {
        emit(txn, LifecycleEvent::UserDeactivated { user_id }, actor, now).await?;
    }
    Ok((old, new))
}

/// True when everything but `active` and the timestamps is equal.
fn same_profile(a: &User, b: &User) -> bool {
    a.username == b.username
        && a.emails == b.emails
        && a.display_name == b.display_name
        && a.given_name == b.given_name
        && a.family_name == b.family_name
        && a.external_id == b.external_id
        && a.attributes == b.attributes
}

fn to_active_model(user: &User) -> users::ActiveModel {
    users::ActiveModel {
        id: Set(user.id.0),
        username: Set(user.username.clone()),
        username_normalized: Set(normalize_username(&user.username)),
        display_name: Set(user.display_name.clone()),
        given_name: Set(user.given_name.clone()),
        family_name: Set(user.family_name.clone()),
        active: Set(user.active),
        external_id: Set(user.external_id.clone()),
        attributes: Set(Value::Object(user.attributes.clone())),
        created_at: Set(user.created_at),
        updated_at: Set(user.updated_at),
        version: Set(user.version),
        provisioned_by: Set(user.provisioned_by.clone()),
    }
}

async fn insert_emails(conn: &impl ConnectionTrait, user: UserId, emails: &[Email]) -> Result<()> {
    let mut rows = Vec::with_capacity(emails.len());
    for (position, email) in emails.iter().enumerate() {
        let position = i32::try_from(position)
            .map_err(|_| Error::Invalid("too many email addresses".into()))?;
        rows.push(user_emails::ActiveModel {
            user_id: Set(user.0),
            position: Set(position),
            address: Set(email.address.clone()),
            address_normalized: Set(normalize_email(&email.address)),
            verified: Set(email.verified),
            is_primary: Set(email.primary),
            kind: Set(email.kind.clone()),
        });
    }
    if rows.is_empty() {
        return Ok(());
    }
    user_emails::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Reads a user with its addresses.
pub(crate) async fn find_user(conn: &impl ConnectionTrait, id: UserId) -> Result<Option<User>> {
    match users::Entity::find_by_id(id.0)
        .one(conn)
        .await
        .map_err(db_err)?
    {
        Some(row) => Ok(Some(load_user(conn, row).await?)),
        None => Ok(None),
    }
}

async fn load_user(conn: &impl ConnectionTrait, row: users::Model) -> Result<User> {
    let mut users = load_users(conn, vec![row]).await?;
    users
        .pop()
        .ok_or_else(|| Error::Internal("user vanished".into()))
}

/// Turns rows into users, reading all their addresses in one query.
pub(crate) async fn load_users(
    conn: &impl ConnectionTrait,
    rows: Vec<users::Model>,
) -> Result<Vec<User>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut emails: HashMap<Uuid, Vec<Email>> = HashMap::new();
    for e in user_emails::Entity::find()
        .filter(user_emails::Column::UserId.is_in(ids))
        .order_by_asc(user_emails::Column::UserId)
        .order_by_asc(user_emails::Column::Position)
        .all(conn)
        .await
        .map_err(db_err)?
    {
        emails
            .entry(e.user_id)
            .or_default()
            .push(Email::new(e.address, e.verified, e.is_primary).with_kind(e.kind));
    }
    rows.into_iter()
        .map(|row| {
            let emails = emails.remove(&row.id).unwrap_or_default();
            to_user(row, emails)
        })
        .collect()
}

fn to_user(row: users::Model, emails: Vec<Email>) -> Result<User> {
    let attributes: Map<String, Value> = match row.attributes {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        _ => {
            return Err(Error::Internal(format!(
                "user {} has non-object attributes",
                row.id
            )));
        }
    };
    Ok(User {
        id: UserId(row.id),
        username: row.username,
        emails,
        display_name: row.display_name,
        given_name: row.given_name,
        family_name: row.family_name,
        active: row.active,
        external_id: row.external_id,
        attributes,
        created_at: row.created_at,
        updated_at: row.updated_at,
        version: row.version,
        provisioned_by: row.provisioned_by,
    })
}
