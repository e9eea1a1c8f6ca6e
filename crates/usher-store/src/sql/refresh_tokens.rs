//! `RefreshTokens` for [`SqlStore`]: one row per family with the digest of its
//! current token. Rotation is a single conditional `UPDATE ... WHERE
//! token_digest = presented AND revoked_at IS NULL`: the statement is its own
//! transaction and the compare-and-set, so of two concurrent uses of one token
//! exactly one sees its row change (PostgreSQL re-checks the condition after the
//! row lock; SQLite runs writers one at a time). RFC 9700 §4.14.2.

use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use time::OffsetDateTime;
use usher_core::ports::{RefreshFamily, RefreshGrant, RefreshTokens, Rotation};
use usher_core::{Error, Result, UserId, random};

use super::SqlStore;
use super::entities::refresh_token_families as families;
use super::errors::db_err;
use super::timestamps;

fn strings(value: Value, column: &str) -> Result<Vec<String>> {
    serde_json::from_value(value).map_err(|e| {
        Error::Internal(format!(
            "refresh_token_families.{column} is not a list of strings: {e}"
        ))
    })
}

fn to_family(row: families::Model) -> Result<RefreshFamily> {
    Ok(RefreshFamily {
        id: row.id,
        grant: RefreshGrant {
            client_id: row.client_id,
            user_id: UserId(row.user_id),
            sid: row.sid,
            scopes: strings(row.scopes, "scopes")?,
            auth_time: row.auth_time,
            amr: strings(row.amr, "amr")?,
            acr: row.acr,
        },
        token_digest: row.token_digest,
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
    })
}

impl SqlStore {
    async fn find_family(&self, id: &str) -> Result<Option<RefreshFamily>> {
        families::Entity::find_by_id(id.to_owned())
            .one(self.conn())
            .await
            .map_err(db_err)?
            .map(to_family)
            .transpose()
    }
}

#[async_trait]
impl RefreshTokens for SqlStore {
    async fn create_refresh_family(&self, family: &RefreshFamily) -> Result<()> {
        let g = &family.grant;
        families::Entity::insert(families::ActiveModel {
            id: Set(family.id.clone()),
            user_id: Set(g.user_id.0),
            client_id: Set(g.client_id.clone()),
            sid: Set(g.sid.clone()),
            scopes: Set(Value::from(g.scopes.clone())),
            auth_time: Set(timestamps::stored(g.auth_time)),
            amr: Set(Value::from(g.amr.clone())),
            acr: Set(g.acr.clone()),
            token_digest: Set(family.token_digest.clone()),
            created_at: Set(timestamps::stored(family.created_at)),
            expires_at: Set(timestamps::stored(family.expires_at)),
            revoked_at: Set(family.revoked_at.map(timestamps::stored)),
        })
        .exec_without_returning(self.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn refresh_family(&self, id: &str) -> Result<Option<RefreshFamily>> {
        self.find_family(id).await
    }

    async fn rotate_refresh_token(
        &self,
        id: &str,
        client_id: &str,
        presented_digest: &str,
        next_digest: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Rotation> {
        let Some(family) = self.find_family(id).await? else {
            return Ok(Rotation::Invalid);
        };
        // RFC 6749 §6: issued to another client; refused and left alone.
        if family.grant.client_id != client_id || !family.live(now) {
            return Ok(Rotation::Invalid);
        }
        if !random::constant_time_eq(family.token_digest.as_bytes(), presented_digest.as_bytes()) {
            // A rotated token presented again (RFC 9700 §4.14.2).
            self.revoke_refresh_family(id, now).await?;
            return Ok(Rotation::Reused);
        }
        let expires_at = timestamps::stored(expires_at);
        let updated = families::Entity::update_many()
            .col_expr(families::Column::TokenDigest, Expr::value(next_digest))
            .col_expr(families::Column::ExpiresAt, Expr::value(expires_at))
            .filter(families::Column::Id.eq(id))
            .filter(families::Column::TokenDigest.eq(presented_digest))
            .filter(families::Column::RevokedAt.is_null())
            .exec(self.conn())
            .await
            .map_err(db_err)?;
        if updated.rows_affected == 1 {
            return Ok(Rotation::Rotated(RefreshFamily {
                token_digest: next_digest.to_owned(),
                expires_at,
                ..family
            }));
        }
        // Lost the compare-and-set: a concurrent use of the same token rotated it
        // first (a reuse, however close in time), or the family was just revoked.
        match self.find_family(id).await? {
            Some(now_family) if now_family.revoked_at.is_none() => {
                self.revoke_refresh_family(id, now).await?;
                Ok(Rotation::Reused)
            }
            _ => Ok(Rotation::Invalid),
        }
    }

    async fn revoke_refresh_family(&self, id: &str, at: OffsetDateTime) -> Result<bool> {
        let updated = families::Entity::update_many()
            .col_expr(
                families::Column::RevokedAt,
                Expr::value(timestamps::stored(at)),
            )
            .filter(families::Column::Id.eq(id))
            .filter(families::Column::RevokedAt.is_null())
            .exec(self.conn())
            .await
            .map_err(db_err)?;
        Ok(updated.rows_affected > 0)
    }

    async fn revoke_refresh_families_for_user(
        &self,
        user: UserId,
        at: OffsetDateTime,
    ) -> Result<u64> {
        let updated = families::Entity::update_many()
            .col_expr(
                families::Column::RevokedAt,
                Expr::value(timestamps::stored(at)),
            )
            .filter(families::Column::UserId.eq(user.0))
            .filter(families::Column::RevokedAt.is_null())
            .exec(self.conn())
            .await
            .map_err(db_err)?;
        Ok(updated.rows_affected)
    }

    async fn purge_expired_refresh_families(&self, now: OffsetDateTime) -> Result<u64> {
        let deleted = families::Entity::delete_many()
            .filter(families::Column::ExpiresAt.lte(timestamps::stored(now)))
            .exec(self.conn())
            .await
            .map_err(db_err)?;
        Ok(deleted.rows_affected)
    }
}
