//! [`SqlKeyStore`]: signing keys with their private parts sealed under the master key.

use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};
use time::OffsetDateTime;
use usher_core::ports::{KeyAlgorithm, KeyStore, SigningKey};
use usher_core::{Error, Result};

use super::entities::signing_keys;
use super::errors::db_err;
use super::{Database, MasterKey, timestamps};

/// Implements the core's `KeyStore` on SQL. Private keys are sealed with AES-256-GCM
/// under the [`MasterKey`], bound to their `kid`, and stored with the master key's
/// fingerprint. Rows are never overwritten: inserting an existing `kid` is a conflict.
#[derive(Debug, Clone)]
pub struct SqlKeyStore {
    db: Database,
    master: MasterKey,
}

impl SqlKeyStore {
    /// A key store on `db` sealing with `master`.
    pub fn new(db: Database, master: MasterKey) -> Self {
        Self { db, master }
    }

    fn unseal(&self, row: signing_keys::Model) -> Result<SigningKey> {
        let configured = self.master.fingerprint();
        let mismatch = || Error::MasterKeyMismatch {
            stored: row.master_key_id.clone(),
            configured: configured.clone(),
        };
        // Checked before opening so the error names both keys even when the data
        // would happen to fail for another reason.
        if row.master_key_id != configured {
            return Err(mismatch());
        }
        // Same fingerprint but GCM refuses: the row was tampered with or moved to
        // another kid. Refusing to start beats signing with an unknown key.
        let private_key = self
            .master
            .open(&row.private_key_sealed, row.kid.as_bytes())
            .map_err(|_| mismatch())?;
        let algorithm = KeyAlgorithm::parse(&row.algorithm).ok_or_else(|| {
            Error::Internal(format!("signing key {:?}: unknown algorithm", row.kid))
        })?;
        Ok(SigningKey {
            kid: row.kid,
            algorithm,
            private_key,
            public_key: row.public_key,
            certificate: row.certificate,
            created_at: row.created_at,
            retired_at: row.retired_at,
            publish_until: row.publish_until,
        })
    }
}

#[async_trait]
impl KeyStore for SqlKeyStore {
    async fn insert(&self, key: SigningKey) -> Result<()> {
        if key.kid.is_empty() || key.kid.len() > 256 {
            return Err(Error::Invalid("key id must be 1 to 256 bytes".into()));
        }
        let sealed = self
            .master
            .seal(key.private_key.expose(), key.kid.as_bytes())?;
        signing_keys::Entity::insert(signing_keys::ActiveModel {
            kid: Set(key.kid),
            algorithm: Set(key.algorithm.as_str().to_owned()),
            private_key_sealed: Set(sealed),
            master_key_id: Set(self.master.fingerprint()),
            public_key: Set(key.public_key),
            certificate: Set(key.certificate),
            created_at: Set(timestamps::stored(key.created_at)),
            retired_at: Set(key.retired_at.map(timestamps::stored)),
            publish_until: Set(key.publish_until.map(timestamps::stored)),
        })
        // A plain INSERT: a primary key violation becomes Conflict(KeyId) rather than
        // silently replacing a key that may still be published.
        .exec_without_returning(self.db.conn())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn list(&self) -> Result<Vec<SigningKey>> {
        signing_keys::Entity::find()
            .order_by_asc(signing_keys::Column::CreatedAt)
            .order_by_asc(signing_keys::Column::Kid)
            .all(self.db.conn())
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|row| self.unseal(row))
            .collect()
    }

    async fn retire(
        &self,
        kid: &str,
        at: OffsetDateTime,
        publish_until: OffsetDateTime,
    ) -> Result<()> {
        let updated = signing_keys::Entity::update_many()
            .col_expr(
                signing_keys::Column::RetiredAt,
                Expr::value(timestamps::stored(at)),
            )
            .col_expr(
                signing_keys::Column::PublishUntil,
                Expr::value(timestamps::stored(publish_until)),
            )
            .filter(signing_keys::Column::Kid.eq(kid))
            .exec(self.db.conn())
            .await
            .map_err(db_err)?;
        if updated.rows_affected == 0 {
            return Err(Error::not_found("signing key"));
        }
        Ok(())
    }

    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64> {
        // Matches `SigningKey::status`: expired once retired and `now >= publish_until`
        // (or retired with no publication window). `publish_until` is a whole second,
        // so comparing with `now` rounded down is exact.
        let deleted = signing_keys::Entity::delete_many()
            .filter(signing_keys::Column::RetiredAt.is_not_null())
            .filter(
                Condition::any()
                    .add(signing_keys::Column::PublishUntil.is_null())
                    .add(signing_keys::Column::PublishUntil.lte(timestamps::stored(now))),
            )
            .exec(self.db.conn())
            .await
            .map_err(db_err)?;
        Ok(deleted.rows_affected)
    }
}
