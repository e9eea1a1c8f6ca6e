//! `Leases` for [`SqlStore`]: one row per name. Taking a lease is a single
//! `INSERT ... ON CONFLICT (name) DO UPDATE ... WHERE held by me OR expired`, so of
//! two instances racing for a free lease exactly one sees a row written
//! (PostgreSQL re-checks the condition after the row lock; SQLite runs writers one
//! at a time).
//!
//! Expiry is whole seconds like every stored time (see [`timestamps`]): a lease
//! ends at `now + ttl` rounded up, and counts as expired once the stored clock
//! reaches it, so a holder keeps it at least `ttl` and at most about a second more.

use std::time::Duration;

use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter};
use time::OffsetDateTime;
use usher_core::ports::Leases;
use usher_core::{Error, Result};

use super::SqlStore;
use super::entities::leases;
use super::errors::db_err;
use super::timestamps;

/// Longest lease or owner name (they are ours: `app:<uuid>`, a host and pid).
const MAX_NAME_LEN: usize = 256;

/// When a lease (or a job lease) taken at `now` for `ttl` ends, as stored: rounded
/// up to the second, so it is never shorter than asked.
pub(super) fn lease_end(now: OffsetDateTime, ttl: Duration) -> Result<OffsetDateTime> {
    let ttl = time::Duration::try_from(ttl)
        .map_err(|_| Error::Invalid("lease duration is too long".into()))?;
    let end = now
        .checked_add(ttl)
        .ok_or_else(|| Error::Invalid("lease duration is too long".into()))?;
    Ok(timestamps::ceil(end))
}

/// Refuses an empty or oversized lease name or owner.
pub(super) fn check_name(what: &str, value: &str) -> Result<()> {
    if value.is_empty() || value.len() > MAX_NAME_LEN {
        return Err(Error::Invalid(format!(
            "a lease {what} must be 1 to {MAX_NAME_LEN} bytes"
        )));
    }
    Ok(())
}

#[async_trait]
impl Leases for SqlStore {
    async fn acquire(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool> {
        check_name("name", name)?;
        check_name("owner", owner)?;
        let now = self.now();
        let expires_at = lease_end(now, ttl)?;
        let written = leases::Entity::insert(leases::ActiveModel {
            name: Set(name.to_owned()),
            owner: Set(owner.to_owned()),
            expires_at: Set(expires_at),
        })
        .on_conflict(
            OnConflict::column(leases::Column::Name)
                .update_columns([leases::Column::Owner, leases::Column::ExpiresAt])
                .action_cond_where(
                    Condition::any()
                        .add(Expr::col((leases::Entity, leases::Column::Owner)).eq(owner))
                        .add(Expr::col((leases::Entity, leases::Column::ExpiresAt)).lte(now)),
                )
                .to_owned(),
        )
        .exec_without_returning(self.conn())
        .await
        .map_err(db_err)?;
        Ok(written == 1)
    }

    async fn release(&self, name: &str, owner: &str) -> Result<()> {
        leases::Entity::delete_many()
            .filter(leases::Column::Name.eq(name))
            .filter(leases::Column::Owner.eq(owner))
            .exec(self.conn())
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
