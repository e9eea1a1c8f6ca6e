//! `Consents` for [`SqlStore`]: one row per (user, client, scope). A decision
//! renews every row of its (user, client) and upserts the scopes it granted, in
//! one transaction, so concurrent approvals add up rather than overwrite.

use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use time::OffsetDateTime;
use usher_core::ports::{Consent, Consents};
use usher_core::{Error, Result, UserId};

use super::SqlStore;
use super::entities::consents;
use super::errors::db_err;
use super::groups::require_user;
use super::store::finish;
use super::timestamps;

/// Longest scope accepted, and most scopes in one grant: the authorization
/// endpoint bounds what it parks, and storage does not take its word for it.
const MAX_SCOPE_LEN: usize = 256;
const MAX_SCOPES: usize = 64;

fn check_scopes(scopes: &[String]) -> Result<()> {
    if scopes.len() > MAX_SCOPES {
        return Err(Error::Invalid(format!(
            "a consent grants at most {MAX_SCOPES} scopes"
        )));
    }
    if scopes
        .iter()
        .any(|s| s.is_empty() || s.len() > MAX_SCOPE_LEN)
    {
        return Err(Error::Invalid(format!(
            "a scope is 1 to {MAX_SCOPE_LEN} bytes"
        )));
    }
    Ok(())
}

#[async_trait]
impl Consents for SqlStore {
    async fn consent(
        &self,
        user: UserId,
        client_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Consent>> {
        let rows = consents::Entity::find()
            .filter(consents::Column::UserId.eq(user.0))
            .filter(consents::Column::ClientId.eq(client_id))
            .filter(consents::Column::ExpiresAt.gt(timestamps::stored(now)))
            .order_by_asc(consents::Column::Scope)
            .all(self.conn())
            .await
            .map_err(db_err)?;
        let Some(granted_at) = rows.iter().map(|r| r.granted_at).max() else {
            return Ok(None);
        };
        let expires_at = rows
            .iter()
            .map(|r| r.expires_at)
            .max()
            .unwrap_or(granted_at);
        Ok(Some(Consent {
            user_id: user,
            client_id: client_id.to_owned(),
            scopes: rows.into_iter().map(|r| r.scope).collect(),
            granted_at,
            expires_at,
        }))
    }

    async fn grant_consent(
        &self,
        user: UserId,
        client_id: &str,
        scopes: &[String],
        granted_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        check_scopes(scopes)?;
        let granted_at = timestamps::stored(granted_at);
        let expires_at = timestamps::stored(expires_at);
        let txn = self.begin().await?;
        let result = async {
            require_user(&txn, user).await?;
            consents::Entity::update_many()
                .col_expr(consents::Column::GrantedAt, Expr::value(granted_at))
                .col_expr(consents::Column::ExpiresAt, Expr::value(expires_at))
                .filter(consents::Column::UserId.eq(user.0))
                .filter(consents::Column::ClientId.eq(client_id))
                .exec(&txn)
                .await
                .map_err(db_err)?;
            let mut seen = Vec::with_capacity(scopes.len());
            for scope in scopes {
                if seen.contains(&scope) {
                    continue;
                }
                seen.push(scope);
                consents::Entity::insert(consents::ActiveModel {
                    user_id: Set(user.0),
                    client_id: Set(client_id.to_owned()),
                    scope: Set(scope.clone()),
                    granted_at: Set(granted_at),
                    expires_at: Set(expires_at),
                })
                .on_conflict(
                    OnConflict::columns([
                        consents::Column::UserId,
                        consents::Column::ClientId,
                        consents::Column::Scope,
                    ])
                    .update_columns([consents::Column::GrantedAt, consents::Column::ExpiresAt])
                    .to_owned(),
                )
                .exec_without_returning(&txn)
                .await
                .map_err(db_err)?;
            }
            Ok(())
        }
        .await;
        finish(txn, result).await
    }

    async fn revoke_consent(&self, user: UserId, client_id: &str) -> Result<bool> {
        let deleted = consents::Entity::delete_many()
            .filter(consents::Column::UserId.eq(user.0))
            .filter(consents::Column::ClientId.eq(client_id))
            .exec(self.conn())
            .await
            .map_err(db_err)?;
        Ok(deleted.rows_affected > 0)
    }

    async fn revoke_consents_for_user(&self, user: UserId) -> Result<u64> {
        let deleted = consents::Entity::delete_many()
            .filter(consents::Column::UserId.eq(user.0))
            .exec(self.conn())
            .await
            .map_err(db_err)?;
        Ok(deleted.rows_affected)
    }

    async fn purge_expired_consents(&self, now: OffsetDateTime) -> Result<u64> {
        let deleted = consents::Entity::delete_many()
            .filter(consents::Column::ExpiresAt.lte(timestamps::stored(now)))
            .exec(self.conn())
            .await
            .map_err(db_err)?;
        Ok(deleted.rows_affected)
    }
}
