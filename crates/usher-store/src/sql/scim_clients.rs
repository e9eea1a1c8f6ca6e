//! SCIM clients: names and token digests.

use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use time::{Duration, OffsetDateTime};
use usher_core::Result;
use usher_core::ports::{ScimClient, ScimClients};

use super::SqlStore;
use super::audit::record_in;
use super::entities::scim_clients;
use super::errors::db_err;
use super::store::finish;
use super::timestamps;

/// Uses within this long of the recorded one are not written again: a busy client
/// would otherwise turn every read into a write.
const TOUCH_GRANULARITY: Duration = Duration::minutes(1);

fn to_client(row: scim_clients::Model) -> ScimClient {
    ScimClient {
        name: row.name,
        created_at: row.created_at,
        last_used_at: row.last_used_at,
        from_config: row.from_config,
    }
}

#[async_trait]
impl ScimClients for SqlStore {
    async fn create_scim_client(&self, name: &str, token_digest: &str) -> Result<ScimClient> {
        self.create_scim_client_impl(name, token_digest, None).await
    }

    async fn create_scim_client_by(
        &self,
        name: &str,
        token_digest: &str,
        actor: &str,
    ) -> Result<ScimClient> {
        self.create_scim_client_impl(name, token_digest, Some(actor))
            .await
    }

    async fn put_config_scim_client(
        &self,
        name: &str,
        token_digest: &str,
        actor: &str,
    ) -> Result<()> {
        ScimClient::check_name(name)?;
        let now = self.now();
        let txn = self.begin().await?;
        let result = async {
            // Insert-or-nothing first, so two instances starting together do not
            // fail on the name: the one that inserted audits the creation.
            let inserted = scim_clients::Entity::insert(scim_clients::ActiveModel {
                name: Set(name.to_owned()),
                token_digest: Set(token_digest.to_owned()),
                created_at: Set(now),
                last_used_at: Set(None),
                from_config: Set(true),
            })
            .on_conflict(
                OnConflict::column(scim_clients::Column::Name)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(db_err)?;
            if inserted > 0 {
                return record_in(&txn, now, actor, "scim_token.create", name).await;
            }
            // Re-keyed in the file (or taken over from a CLI-made client): one
            // record; a client already in line is not written, nor audited.
            let updated = scim_clients::Entity::update_many()
                .col_expr(scim_clients::Column::TokenDigest, Expr::value(token_digest))
                .col_expr(scim_clients::Column::FromConfig, Expr::value(true))
                .filter(scim_clients::Column::Name.eq(name))
                .filter(
                    scim_clients::Column::TokenDigest
                        .ne(token_digest)
                        .or(scim_clients::Column::FromConfig.eq(false)),
                )
                .exec(&txn)
                .await
                .map_err(db_err)?;
            if updated.rows_affected > 0 {
                record_in(&txn, now, actor, "scim_token.rotate", name).await?;
            }
            Ok(())
        }
        .await;
        finish(txn, result).await
    }

    async fn scim_clients(&self) -> Result<Vec<ScimClient>> {
        Ok(scim_clients::Entity::find()
            .order_by_asc(scim_clients::Column::Name)
            .all(self.conn())
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_client)
            .collect())
    }

    async fn revoke_scim_client(&self, name: &str) -> Result<bool> {
        self.revoke_scim_client_impl(name, None).await
    }

    async fn revoke_scim_client_by(&self, name: &str, actor: &str) -> Result<bool> {
        self.revoke_scim_client_impl(name, Some(actor)).await
    }

    async fn scim_client_by_token(&self, token_digest: &str) -> Result<Option<ScimClient>> {
        Ok(scim_clients::Entity::find()
            .filter(scim_clients::Column::TokenDigest.eq(token_digest))
            .one(self.conn())
            .await
            .map_err(db_err)?
            .map(to_client))
    }

    async fn touch_scim_client(&self, name: &str, at: OffsetDateTime) -> Result<()> {
        let at = timestamps::stored(at);
        let before = at - TOUCH_GRANULARITY;
        scim_clients::Entity::update_many()
            .col_expr(scim_clients::Column::LastUsedAt, Expr::value(at))
            .filter(scim_clients::Column::Name.eq(name))
            .filter(
                scim_clients::Column::LastUsedAt
                    .is_null()
                    .or(scim_clients::Column::LastUsedAt.lt(before)),
            )
            .exec(self.conn())
            .await
            .map_err(db_err)?;
        Ok(())
    }
}

impl SqlStore {
    /// The client and, with an actor, its audit record, in one transaction.
    async fn create_scim_client_impl(
        &self,
        name: &str,
        token_digest: &str,
        actor: Option<&str>,
    ) -> Result<ScimClient> {
        ScimClient::check_name(name)?;
        let row = scim_clients::Model {
            name: name.to_owned(),
            token_digest: token_digest.to_owned(),
            created_at: self.now(),
            last_used_at: None,
            from_config: false,
        };
        let txn = self.begin().await?;
        let result = async {
            scim_clients::Entity::insert(scim_clients::ActiveModel {
                name: Set(row.name.clone()),
                token_digest: Set(row.token_digest.clone()),
                created_at: Set(row.created_at),
                last_used_at: Set(None),
                from_config: Set(false),
            })
            .exec_without_returning(&txn)
            .await
            .map_err(db_err)?;
            if let Some(actor) = actor {
                record_in(&txn, row.created_at, actor, "scim_token.create", name).await?;
            }
            Ok(to_client(row))
        }
        .await;
        finish(txn, result).await
    }

    /// Deletes the client and, when one was deleted and there is an actor, writes
    /// its audit record, in one transaction.
    async fn revoke_scim_client_impl(&self, name: &str, actor: Option<&str>) -> Result<bool> {
        let now = self.now();
        let txn = self.begin().await?;
        let result = async {
            let deleted = scim_clients::Entity::delete_by_id(name.to_owned())
                .exec(&txn)
                .await
                .map_err(db_err)?;
            let revoked = deleted.rows_affected > 0;
            if revoked && let Some(actor) = actor {
                record_in(&txn, now, actor, "scim_token.revoke", name).await?;
            }
            Ok(revoked)
        }
        .await;
        finish(txn, result).await
    }
}
