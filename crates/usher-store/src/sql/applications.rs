//! `Applications` for [`SqlStore`]: the trait's methods, and applications read back
//! from their row and assignment rows (connector settings unsealed, the spec
//! checked again by `ApplicationSpec::new`, so a corrupt row is an error rather
//! than an invalid app). Writes are in `application_sync.rs`, assignment queries in
//! `application_assignments.rs`.

use std::collections::HashMap;

use async_trait::async_trait;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use usher_core::outbound::ProvisioningSettings;
use usher_core::ports::Applications;
use usher_core::{
    Application, ApplicationId, ApplicationSettings, ApplicationSpec, Assignment, Error, GroupId,
    ManagedBy, Result, SignIn, UserId,
};
use uuid::Uuid;

use super::SqlStore;
use super::connector_settings;
use super::entities::{application_assignments, applications};
use super::errors::db_err;

/// Application ids per `WHERE ... IN (...)`, well under every backend's bind limit.
pub(super) const ID_CHUNK: usize = 500;

/// What `applications.spec` holds: the spec's parts that have no column of their
/// own. The connector settings are taken out (`null`) and sealed beside it.
#[derive(Serialize, Deserialize)]
pub(super) struct StoredSpec {
    #[serde(default)]
    pub(super) provisioning: Option<ProvisioningSettings>,
}

impl StoredSpec {
    /// `spec`'s provisioning side without its connector settings.
    pub(super) fn of(spec: &ApplicationSpec) -> Result<serde_json::Value> {
        let provisioning = spec.provisioning().map(|p| ProvisioningSettings {
            settings: serde_json::Value::Null,
            ..p.clone()
        });
        serde_json::to_value(StoredSpec { provisioning })
            .map_err(|e| Error::Internal(format!("serializing application spec: {e}")))
    }
}

/// The stored name of a principal kind.
pub(super) const EVERYONE: &str = "everyone";
pub(super) const GROUP: &str = "group";
pub(super) const USER: &str = "user";

impl SqlStore {
    /// Reads `rows` back as applications, with their assignments, in the rows' order.
    pub(super) async fn load_applications(
        &self,
        conn: &impl ConnectionTrait,
        rows: Vec<applications::Model>,
    ) -> Result<Vec<Application>> {
        let mut assignments: HashMap<Uuid, Assignment> = HashMap::new();
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        for chunk in ids.chunks(ID_CHUNK) {
            let found = application_assignments::Entity::find()
                .filter(application_assignments::Column::ApplicationId.is_in(chunk.iter().copied()))
                .all(conn)
                .await
                .map_err(db_err)?;
            for row in found {
                let assignment = assignments.entry(row.application_id).or_default();
                match (row.principal_kind.as_str(), row.group_id, row.user_id) {
                    (EVERYONE, None, None) => assignment.everyone = true,
                    (GROUP, Some(group), None) => {
                        assignment.groups.insert(GroupId(group));
                    }
                    (USER, None, Some(user)) => {
                        assignment.users.insert(UserId(user));
                    }
                    _ => {
                        return Err(Error::Internal(format!(
                            "application {}: assignment row {} is corrupt",
                            row.application_id, row.id
                        )));
                    }
                }
            }
        }
        rows.into_iter()
            .map(|row| {
                let assignment = assignments.remove(&row.id).unwrap_or_default();
                self.to_application(row, assignment)
            })
            .collect()
    }

    async fn load_one(&self, row: Option<applications::Model>) -> Result<Option<Application>> {
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(self
            .load_applications(self.conn(), vec![row])
            .await?
            .into_iter()
            .next())
    }

    fn to_application(
        &self,
        row: applications::Model,
        assignment: Assignment,
    ) -> Result<Application> {
        let corrupt = |what: String| Error::Internal(format!("application {:?}: {what}", row.name));
        let id = ApplicationId(row.id);
        let managed_by = match row.managed_by.as_str() {
            "config" => ManagedBy::Config,
            "api" => ManagedBy::Api,
            other => return Err(corrupt(format!("unknown manager {other:?}"))),
        };
        let sign_in = match (row.sign_in_protocol.as_deref(), row.sign_in_key.clone()) {
            (None, None) => None,
            (Some("oidc"), Some(client_id)) => Some(SignIn::Oidc { client_id }),
            (Some("saml"), Some(entity_id)) => Some(SignIn::Saml { entity_id }),
            _ => return Err(corrupt("bad sign-in columns".into())),
        };
        let stored: StoredSpec =
            serde_json::from_value(row.spec.clone()).map_err(|e| corrupt(format!("spec: {e}")))?;
        let provisioning = match (
            stored.provisioning,
            row.connector_settings_sealed.as_deref(),
            row.master_key_id.as_deref(),
        ) {
            (None, None, None) => None,
            (Some(mut provisioning), Some(sealed), Some(key_id)) => {
                provisioning.settings =
                    connector_settings::open(self.master_key(), &row.name, id, sealed, key_id)?;
                Some(provisioning)
            }
            _ => {
                return Err(corrupt(
                    "provisioning side and sealed settings disagree".into(),
                ));
            }
        };
        let spec = ApplicationSpec::new(ApplicationSettings {
            name: row.name.clone(),
            display_name: Some(row.display_name.clone()),
            enabled: row.enabled,
            sign_in,
            provisioning,
            assignment,
        })
        .map_err(|e| corrupt(e.to_string()))?;
        Ok(Application {
            id,
            spec,
            managed_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[async_trait]
impl Applications for SqlStore {
    async fn sync_config_applications(
        &self,
        specs: Vec<ApplicationSpec>,
    ) -> Result<Vec<Application>> {
        self.sync_config_applications_impl(specs).await
    }

    async fn get_application(&self, id: ApplicationId) -> Result<Application> {
        let row = applications::Entity::find_by_id(id.0)
            .one(self.conn())
            .await
            .map_err(db_err)?;
        self.load_one(row)
            .await?
            .ok_or(Error::not_found("application"))
    }

    async fn find_application_by_name(&self, name: &str) -> Result<Option<Application>> {
        let row = applications::Entity::find()
            .filter(applications::Column::Name.eq(name))
            .one(self.conn())
            .await
            .map_err(db_err)?;
        self.load_one(row).await
    }

    async fn find_application_by_sign_in(&self, sign_in: &SignIn) -> Result<Option<Application>> {
        let row = applications::Entity::find()
            .filter(applications::Column::SignInProtocol.eq(sign_in.protocol()))
            .filter(applications::Column::SignInKey.eq(sign_in.key()))
            .one(self.conn())
            .await
            .map_err(db_err)?;
        self.load_one(row).await
    }

    async fn list_applications(&self) -> Result<Vec<Application>> {
        let rows = applications::Entity::find()
            .order_by_asc(applications::Column::Name)
            .all(self.conn())
            .await
            .map_err(db_err)?;
        self.load_applications(self.conn(), rows).await
    }

    async fn is_assigned(&self, app: ApplicationId, user: UserId) -> Result<bool> {
        self.is_assigned_impl(app, user).await
    }

    async fn applications_of_user(&self, user: UserId) -> Result<Vec<ApplicationId>> {
        self.applications_of_user_impl(user).await
    }

    async fn applications_of_group(&self, group: GroupId) -> Result<Vec<ApplicationId>> {
        self.applications_of_group_impl(group).await
    }

    async fn assigned_users(
        &self,
        app: ApplicationId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<UserId>> {
        self.assigned_users_impl(app, after, limit).await
    }
}
