//! `Registry` for [`SqlStore`]: upstream IdPs.

use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use usher_core::ports::Registry;
use usher_core::{Error, Result, Upstream, UpstreamId, UpstreamKind};

use super::SqlStore;
use super::entities::{identity_links, upstreams};
use super::errors::db_err;
use super::store::finish;

#[async_trait]
impl Registry for SqlStore {
    async fn put_upstream(&self, upstream: Upstream) -> Result<Upstream> {
        let now = self.now();
        let model = upstreams::ActiveModel {
            id: Set(upstream.id.as_str().to_owned()),
            kind: Set(upstream.kind.as_str().to_owned()),
            display_name: Set(upstream.display_name),
            enabled: Set(upstream.enabled),
            settings: Set(upstream.settings),
            created_at: Set(now),
            updated_at: Set(now),
        };
        // One statement, so concurrent start-ups of several instances cannot race
        // between "exists?" and "insert". created_at is kept on replace.
        upstreams::Entity::insert(model)
            .on_conflict(
                OnConflict::column(upstreams::Column::Id)
                    .update_columns([
                        upstreams::Column::Kind,
                        upstreams::Column::DisplayName,
                        upstreams::Column::Enabled,
                        upstreams::Column::Settings,
                        upstreams::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(self.conn())
            .await
            .map_err(db_err)?;
        self.get_upstream(&upstream.id).await
    }

    async fn get_upstream(&self, id: &UpstreamId) -> Result<Upstream> {
        upstreams::Entity::find_by_id(id.as_str().to_owned())
            .one(self.conn())
            .await
            .map_err(db_err)?
            .map(to_upstream)
            .transpose()?
            .ok_or(Error::not_found("upstream"))
    }

    async fn delete_upstream(&self, id: &UpstreamId) -> Result<()> {
        let txn = self.begin().await?;
        let result = async {
            let deleted = upstreams::Entity::delete_by_id(id.as_str().to_owned())
                .exec(&txn)
                .await
                .map_err(db_err)?;
            if deleted.rows_affected == 0 {
                return Err(Error::not_found("upstream"));
            }
            // identity_links has no foreign key to upstreams (links may name upstreams
            // declared only in config), so the links go here, in the same transaction.
            // Leaving them would let a re-created upstream with the same id sign in as
            // the old links' users.
            identity_links::Entity::delete_many()
                .filter(identity_links::Column::UpstreamId.eq(id.as_str()))
                .exec(&txn)
                .await
                .map_err(db_err)?;
            Ok(())
        }
        .await;
        finish(txn, result).await
    }

    async fn list_upstreams(&self) -> Result<Vec<Upstream>> {
        upstreams::Entity::find()
            .order_by_asc(upstreams::Column::Id)
            .all(self.conn())
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_upstream)
            .collect()
    }
}
fn to_upstream(row: upstreams::Model) -> Result<Upstream> {
    let corrupt = |what: &str| Error::Internal(format!("upstream {:?}: {what}", row.id));
    Ok(Upstream {
        id: UpstreamId::parse(&row.id).map_err(|_| corrupt("bad id"))?,
        kind: UpstreamKind::parse(&row.kind).ok_or_else(|| corrupt("unknown kind"))?,
        display_name: row.display_name,
        enabled: row.enabled,
        settings: row.settings,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}
