//! Identity links: `(upstream, subject)` -> user.

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use time::OffsetDateTime;
use usher_core::{Error, IdentityLink, NewIdentityLink, Result, UpstreamId, User, UserId};

use super::SqlStore;
use super::entities::identity_links;
use super::errors::{db_err, is_foreign_key_violation};
use super::groups::require_user;
use super::users::find_user;

/// Longest subject accepted. OIDC caps `sub` at 255 ASCII characters (Core §2); SAML
/// persistent NameIDs at 256; the margin covers IdPs that stretch the rules.
pub(crate) const MAX_SUBJECT_LEN: usize = 1024;

impl SqlStore {
    pub(super) async fn find_user_by_link_impl(
        &self,
        upstream: &UpstreamId,
        subject: &str,
    ) -> Result<Option<User>> {
        let link =
            identity_links::Entity::find_by_id((upstream.as_str().to_owned(), subject.to_owned()))
                .one(self.conn())
                .await
                .map_err(db_err)?;
        match link {
            Some(link) => find_user(self.conn(), UserId(link.user_id)).await,
            None => Ok(None),
        }
    }

    pub(super) async fn link_identity_impl(&self, link: NewIdentityLink) -> Result<IdentityLink> {
        check_subject(&link.subject)?;
        require_user(self.conn(), link.user_id).await?;
        let now = self.now();
        let stored = IdentityLink {
            upstream: link.upstream,
            subject: link.subject,
            user_id: link.user_id,
            created_at: now,
            last_login_at: None,
        };
        identity_links::Entity::insert(identity_links::ActiveModel {
            upstream_id: Set(stored.upstream.as_str().to_owned()),
            subject: Set(stored.subject.clone()),
            user_id: Set(stored.user_id.0),
            created_at: Set(now),
            last_login_at: Set(None),
        })
        .exec_without_returning(self.conn())
        .await
        .map_err(|e| {
            // The user was deleted between the check and the insert.
            if is_foreign_key_violation(&e) {
                Error::not_found("user")
            } else {
                db_err(e)
            }
        })?;
        Ok(stored)
    }

    pub(super) async fn unlink_identity_impl(
        &self,
        upstream: &UpstreamId,
        subject: &str,
    ) -> Result<bool> {
        let deleted = identity_links::Entity::delete_by_id((
            upstream.as_str().to_owned(),
            subject.to_owned(),
        ))
        .exec(self.conn())
        .await
        .map_err(db_err)?;
        Ok(deleted.rows_affected > 0)
    }

    pub(super) async fn links_of_impl(&self, user: UserId) -> Result<Vec<IdentityLink>> {
        require_user(self.conn(), user).await?;
        identity_links::Entity::find()
            .filter(identity_links::Column::UserId.eq(user.0))
            .order_by_asc(identity_links::Column::UpstreamId)
            .order_by_asc(identity_links::Column::Subject)
            .all(self.conn())
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_link)
            .collect()
    }

    pub(super) async fn touch_link_impl(&self, upstream: &UpstreamId, subject: &str) -> Result<()> {
        let updated = identity_links::Entity::update_many()
            .col_expr(identity_links::Column::LastLoginAt, Expr::value(self.now()))
            .filter(identity_links::Column::UpstreamId.eq(upstream.as_str()))
            .filter(identity_links::Column::Subject.eq(subject))
            .exec(self.conn())
            .await
            .map_err(db_err)?;
        if updated.rows_affected == 0 {
            return Err(Error::not_found("identity link"));
        }
        Ok(())
    }
}

fn to_link(row: identity_links::Model) -> Result<IdentityLink> {
    Ok(IdentityLink {
        upstream: UpstreamId::parse(&row.upstream_id)
            .map_err(|e| Error::Internal(format!("stored identity link: {e}")))?,
        subject: row.subject,
        user_id: UserId(row.user_id),
        created_at: row.created_at,
        last_login_at: row.last_login_at,
    })
}

/// Inserts a link on `txn` (a taken `(upstream, subject)` is
/// `Conflict(IdentityLink)`).
pub(crate) async fn insert_link(
    txn: &impl ConnectionTrait,
    upstream: &UpstreamId,
    subject: &str,
    user: UserId,
    now: OffsetDateTime,
) -> Result<()> {
    check_subject(subject)?;
    identity_links::Entity::insert(identity_links::ActiveModel {
        upstream_id: Set(upstream.as_str().to_owned()),
        subject: Set(subject.to_owned()),
        user_id: Set(user.0),
        created_at: Set(now),
        last_login_at: Set(Some(now)),
    })
    .exec_without_returning(txn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Records a sign-in through a link on `txn`; `false` when the link is gone.
pub(crate) async fn touch_link_in(
    txn: &impl ConnectionTrait,
    upstream: &UpstreamId,
    subject: &str,
    user: UserId,
    now: OffsetDateTime,
) -> Result<bool> {
    let updated = identity_links::Entity::update_many()
        .col_expr(identity_links::Column::LastLoginAt, Expr::value(now))
        .filter(identity_links::Column::UpstreamId.eq(upstream.as_str()))
        .filter(identity_links::Column::Subject.eq(subject))
        .filter(identity_links::Column::UserId.eq(user.0))
        .exec(txn)
        .await
        .map_err(db_err)?;
    Ok(updated.rows_affected > 0)
}

fn check_subject(subject: &str) -> Result<()> {
    // Compared byte for byte, never trimmed or case-folded: a subject is opaque,
    // and folding would let two upstream accounts share one usher user.
    if subject.is_empty() || subject.len() > MAX_SUBJECT_LEN {
        return Err(Error::Invalid(format!(
            "subject must be 1 to {MAX_SUBJECT_LEN} bytes"
        )));
    }
    Ok(())
}
