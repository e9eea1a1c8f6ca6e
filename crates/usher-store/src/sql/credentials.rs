//! `Credentials` for [`SqlStore`]: local password hashes, one row per user.

use async_trait::async_trait;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};
use usher_core::ports::Credentials;
use usher_core::{Error, Result, UserId};

use super::SqlStore;
use super::audit::record_in;
use super::entities::user_credentials;
use super::errors::db_err;
use super::groups::require_user;
use super::store::finish;

/// Longest hash accepted: a PHC string with generous parameters is ~100 bytes; a
/// bound stops a caller from storing megabytes per user.
const MAX_HASH_LEN: usize = 512;

#[async_trait]
impl Credentials for SqlStore {
    async fn set_password_hash(&self, user: UserId, hash: &str) -> Result<()> {
        self.set_password_hash_impl(user, hash, None).await
    }

    async fn set_password_hash_by(&self, user: UserId, hash: &str, actor: &str) -> Result<()> {
        self.set_password_hash_impl(user, hash, Some(actor)).await
    }

    async fn password_hash(&self, user: UserId) -> Result<Option<String>> {
        let row = user_credentials::Entity::find_by_id(user.0)
            .one(self.conn())
            .await
            .map_err(db_err)?;
        Ok(row.map(|r| r.password_hash))
    }

    async fn remove_password(&self, user: UserId) -> Result<bool> {
        let deleted = user_credentials::Entity::delete_by_id(user.0)
            .exec(self.conn())
            .await
            .map_err(db_err)?;
        Ok(deleted.rows_affected > 0)
    }
}

impl SqlStore {
    /// The hash and, with an actor, its audit record, in one transaction.
    async fn set_password_hash_impl(
        &self,
        user: UserId,
        hash: &str,
        actor: Option<&str>,
    ) -> Result<()> {
        // Only PHC strings: storing a plain password by mistake must fail loudly.
        if !hash.starts_with('$') || hash.len() > MAX_HASH_LEN {
            return Err(Error::Invalid("expected a PHC-format password hash".into()));
        }
        let now = self.now();
        let txn = self.begin().await?;
        let result = async {
            require_user(&txn, user).await?;
            let row = user_credentials::ActiveModel {
                user_id: Set(user.0),
                password_hash: Set(hash.to_owned()),
                updated_at: Set(now),
            };
            user_credentials::Entity::insert(row)
                .on_conflict(
                    OnConflict::column(user_credentials::Column::UserId)
                        .update_columns([
                            user_credentials::Column::PasswordHash,
                            user_credentials::Column::UpdatedAt,
                        ])
                        .to_owned(),
                )
                .exec(&txn)
                .await
                .map_err(db_err)?;
            if let Some(actor) = actor {
                record_in(&txn, now, actor, "user.set_password", &user.to_string()).await?;
            }
            Ok(())
        }
        .await;
        finish(txn, result).await
    }
}
