//! `Registry` for [`SqlStore`]: applications and upstream IdPs.

use async_trait::async_trait;
use sea_orm::ActiveValue::{Set, Unchanged};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use usher_core::ports::Registry;
use usher_core::{
    AccessPolicy, AppKind, Application, ApplicationId, ApplicationUpdate, Error, NewApplication,
    Result, Upstream, UpstreamId, UpstreamKind,
};

use super::SqlStore;
use super::entities::{applications, identity_links, upstreams};
use super::errors::db_err;
use super::store::finish;

#[async_trait]
impl Registry for SqlStore {
    async fn create_application(&self, app: NewApplication) -> Result<Application> {
        app.validate()?;
        let now = self.now();
        let app = Application {
            id: ApplicationId::new(),
            name: app.name,
            kind: app.kind,
            access: app.access,
            enabled: true,
            settings: app.settings,
            created_at: now,
            updated_at: now,
        };
        applications::Entity::insert(to_active_model(&app)?)
            .exec_without_returning(self.conn())
            .await
            .map_err(db_err)?;
        Ok(app)
    }

    async fn get_application(&self, id: ApplicationId) -> Result<Application> {
        applications::Entity::find_by_id(id.0)
            .one(self.conn())
            .await
            .map_err(db_err)?
            .map(to_application)
            .transpose()?
            .ok_or(Error::not_found("application"))
    }

    async fn find_application(&self, kind: &AppKind) -> Result<Option<Application>> {
        let (kind, key) = kind.key();
        applications::Entity::find()
            .filter(applications::Column::Kind.eq(kind))
            .filter(applications::Column::ProtocolKey.eq(key))
            .one(self.conn())
            .await
            .map_err(db_err)?
            .map(to_application)
            .transpose()
    }

    async fn update_application(
        &self,
        id: ApplicationId,
        update: ApplicationUpdate,
    ) -> Result<Application> {
        let now = self.now();
        let txn = self.begin().await?;
        let result = async {
            let row = applications::Entity::find_by_id(id.0)
                .lock_exclusive()
                .one(&txn)
                .await
                .map_err(db_err)?
                .ok_or(Error::not_found("application"))?;
            let mut app = to_application(row)?;
            let old = app.clone();
            if let Some(name) = update.name {
                app.name = name;
            }
            if let Some(access) = update.access {
                app.access = access;
            }
            if let Some(enabled) = update.enabled {
                app.enabled = enabled;
            }
            if let Some(settings) = update.settings {
                app.settings = settings;
            }
            if app == old {
                return Ok(old);
            }
            // The same rules as on creation (ApplicationUpdate has no validate of its own).
            NewApplication {
                name: app.name.clone(),
                kind: app.kind.clone(),
                access: app.access.clone(),
                settings: serde_json::Value::Null,
            }
            .validate()?;
            app.updated_at = now;
            let mut model = to_active_model(&app)?;
            model.id = Unchanged(id.0);
            model.created_at = Unchanged(old.created_at);
            model.update(&txn).await.map_err(db_err)?;
            Ok(app)
        }
        .await;
        finish(txn, result).await
    }

    async fn delete_application(&self, id: ApplicationId) -> Result<()> {
        let deleted = applications::Entity::delete_by_id(id.0)
            .exec(self.conn())
            .await
            .map_err(db_err)?;
        if deleted.rows_affected == 0 {
            return Err(Error::not_found("application"));
        }
        Ok(())
    }

    async fn list_applications(&self) -> Result<Vec<Application>> {
        applications::Entity::find()
            .order_by_asc(applications::Column::Name)
            .all(self.conn())
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_application)
            .collect()
    }

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

fn to_active_model(app: &Application) -> Result<applications::ActiveModel> {
    let (kind, key) = app.kind.key();
    let access = serde_json::to_value(&app.access)
        .map_err(|e| Error::Internal(format!("serializing an access policy: {e}")))?;
    Ok(applications::ActiveModel {
        id: Set(app.id.0),
        name: Set(app.name.clone()),
        kind: Set(kind.to_owned()),
        protocol_key: Set(key.to_owned()),
        access: Set(access),
        enabled: Set(app.enabled),
        settings: Set(app.settings.clone()),
        created_at: Set(app.created_at),
        updated_at: Set(app.updated_at),
    })
}

fn to_application(row: applications::Model) -> Result<Application> {
    let corrupt = |what: &str| Error::Internal(format!("application {}: {what}", row.id));
    let kind = match row.kind.as_str() {
        "oidc_client" => AppKind::OidcClient {
            client_id: row.protocol_key.clone(),
        },
        "saml_sp" => AppKind::SamlSp {
            entity_id: row.protocol_key.clone(),
        },
        "provisioning_target" => AppKind::ProvisioningTarget {
            connector: row.protocol_key.clone(),
        },
        _ => return Err(corrupt("unknown kind")),
    };
    let access: AccessPolicy =
        serde_json::from_value(row.access.clone()).map_err(|_| corrupt("bad access policy"))?;
    Ok(Application {
        id: ApplicationId(row.id),
        name: row.name,
        kind,
        access,
        enabled: row.enabled,
        settings: row.settings,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
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
