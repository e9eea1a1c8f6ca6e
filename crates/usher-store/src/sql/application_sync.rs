//! `sync_config_applications`: the configuration's `[[apps]]` made the stored
//! configuration-managed applications, in one transaction.
//!
//! Planned first against what is stored (names and sign-in keys checked against
//! every app that will exist afterwards, API-managed ones included, so a clash is
//! a `Conflict` before anything is written), then applied: removals, updates,
//! creations. Each app written gets an audit record as `config`, and an
//! `ApplicationChanged` event when what the planner reads of it changed.

use std::collections::{HashMap, HashSet};

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
};
use time::OffsetDateTime;
use usher_core::{
    Application, ApplicationId, ApplicationSpec, Error, LifecycleEvent, ManagedBy, Result,
    UniqueKey,
};

use super::SqlStore;
use super::application_assignments::replace_assignment;
use super::applications::StoredSpec;
use super::audit::record_in;
use super::connector_settings;
use super::entities::applications;
use super::errors::db_err;
use super::outbox::emit;
use super::store::finish;

/// The audit log's actor for what the configuration file changes.
const ACTOR: &str = "config";

/// Advisory lock key serializing the sync across instances on PostgreSQL ("apps"
/// in ASCII); SQLite's `BEGIN IMMEDIATE` already serializes writers. Without it
/// two instances starting together would both insert a new app, and the second
/// would fail on the name instead of finding it there.
const SYNC_LOCK: i64 = 0x6170_7073;

/// What the sync does to the stored apps.
struct Plan {
    create: Vec<ApplicationSpec>,
    update: Vec<(Application, ApplicationSpec)>,
    remove: Vec<Application>,
    unchanged: Vec<Application>,
}

/// Decides what `specs` change in `stored`. Names and sign-in keys must be unique
/// among the apps that will exist afterwards: `specs` and the API-managed apps
/// (configuration-managed apps not in `specs` go, and free what they held).
fn plan(stored: Vec<Application>, specs: Vec<ApplicationSpec>) -> Result<Plan> {
    let mut names = HashSet::new();
    let mut sign_ins = HashSet::new();
    for app in stored.iter().filter(|a| a.managed_by == ManagedBy::Api) {
        names.insert(app.spec.name().to_owned());
        if let Some(sign_in) = app.spec.sign_in() {
            sign_ins.insert(sign_in.clone());
        }
    }
    for spec in &specs {
        if !names.insert(spec.name().to_owned()) {
            return Err(Error::Conflict(UniqueKey::ApplicationName));
        }
        if let Some(sign_in) = spec.sign_in()
            && !sign_ins.insert(sign_in.clone())
        {
            return Err(Error::Conflict(UniqueKey::ApplicationSignIn));
        }
    }
    let mut config: HashMap<String, Application> = stored
        .into_iter()
        .filter(|a| a.managed_by == ManagedBy::Config)
        .map(|a| (a.spec.name().to_owned(), a))
        .collect();
    let mut plan = Plan {
        create: Vec::new(),
        update: Vec::new(),
        remove: Vec::new(),
        unchanged: Vec::new(),
    };
    for spec in specs {
        match config.remove(spec.name()) {
            None => plan.create.push(spec),
            Some(app) if app.spec == spec => plan.unchanged.push(app),
            Some(app) => plan.update.push((app, spec)),
        }
    }
    plan.remove = config.into_values().collect();
    Ok(plan)
}

/// Whether the planner must look at the app again: who is assigned, how it is
/// provisioned, or whether it is switched on (switching it off deprovisions).
fn planner_cares(old: &ApplicationSpec, new: &ApplicationSpec) -> bool {
    old.assignment() != new.assignment()
        || old.provisioning() != new.provisioning()
        || old.enabled() != new.enabled()
}

impl SqlStore {
    pub(super) async fn sync_config_applications_impl(
        &self,
        specs: Vec<ApplicationSpec>,
    ) -> Result<Vec<Application>> {
        // Refused before the transaction: no master key, no connector settings.
        if self.master_key().is_none()
            && let Some(spec) = specs.iter().find(|s| s.provisioning().is_some())
        {
            return Err(connector_settings::no_master_key(spec.name()));
        }
        let now = self.now();
        let txn = self.begin().await?;
        let result = async {
            if txn.get_database_backend() == DbBackend::Postgres {
                txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({SYNC_LOCK})"))
                    .await
                    .map_err(db_err)?;
            }
            let rows = applications::Entity::find()
                .all(&txn)
                .await
                .map_err(db_err)?;
            let stored = self.load_applications(&txn, rows).await?;
            let plan = plan(stored, specs)?;
            let mut synced = plan.unchanged;
            for app in plan.remove {
                self.remove(&txn, &app, now).await?;
            }
            // A sign-in key may move from one app to another in the same sync; the
            // unique index would refuse the first update of a swap, so every key
            // that changes is cleared before any is written.
            for (old, new) in &plan.update {
                if old.spec.sign_in() != new.sign_in() {
                    applications::Entity::update_many()
                        .col_expr(
                            applications::Column::SignInProtocol,
                            Expr::value(None::<String>),
                        )
                        .col_expr(applications::Column::SignInKey, Expr::value(None::<String>))
                        .filter(applications::Column::Id.eq(old.id.0))
                        .exec(&txn)
                        .await
                        .map_err(db_err)?;
                }
            }
            for (old, new) in plan.update {
                synced.push(self.update(&txn, old, new, now).await?);
            }
            for spec in plan.create {
                synced.push(self.create(&txn, spec, now).await?);
            }
            synced.sort_by(|a, b| a.spec.name().cmp(b.spec.name()));
            Ok(synced)
        }
        .await;
        finish(txn, result).await
    }

    async fn remove(
        &self,
        txn: &DatabaseTransaction,
        app: &Application,
        now: OffsetDateTime,
    ) -> Result<()> {
        // Assignments go by ON DELETE CASCADE, its queue and remote mapping with
        // the app (the report stays). The app's remote accounts are left as they
        // are: nothing is deleted downstream because a line vanished from a file.
        super::jobs::delete_outbound_of(txn, app.id).await?;
        applications::Entity::delete_by_id(app.id.0)
            .exec(txn)
            .await
            .map_err(db_err)?;
        emit(txn, changed(app.id), ACTOR, now).await?;
        record_in(txn, now, ACTOR, "application.delete", &app.id.to_string()).await
    }

    async fn update(
        &self,
        txn: &DatabaseTransaction,
        old: Application,
        new: ApplicationSpec,
        now: OffsetDateTime,
    ) -> Result<Application> {
        let mut model = applications::ActiveModel {
            id: sea_orm::ActiveValue::Unchanged(old.id.0),
            display_name: Set(new.display_name().to_owned()),
            enabled: Set(new.enabled()),
            sign_in_protocol: Set(new.sign_in().map(|s| s.protocol().to_owned())),
            sign_in_key: Set(new.sign_in().map(|s| s.key().to_owned())),
            spec: Set(StoredSpec::of(&new)?),
            updated_at: Set(now),
            ..Default::default()
        };
        // Sealed again only when the settings changed: a fresh nonce each time
        // would otherwise rewrite the row at every start.
        if old.spec.provisioning() != new.provisioning() {
            let (sealed, key_id) = self.seal(&new, old.id)?;
            model.connector_settings_sealed = Set(sealed);
            model.master_key_id = Set(key_id);
        }
        applications::Entity::update(model)
            .exec(txn)
            .await
            .map_err(db_err)?;
        if old.spec.assignment() != new.assignment() {
            replace_assignment(txn, old.id, new.assignment()).await?;
        }
        if planner_cares(&old.spec, &new) {
            emit(txn, changed(old.id), ACTOR, now).await?;
        }
        record_in(txn, now, ACTOR, "application.update", &old.id.to_string()).await?;
        Ok(Application {
            spec: new,
            updated_at: now,
            ..old
        })
    }

    async fn create(
        &self,
        txn: &DatabaseTransaction,
        spec: ApplicationSpec,
        now: OffsetDateTime,
    ) -> Result<Application> {
        let id = ApplicationId::new();
        let (sealed, key_id) = self.seal(&spec, id)?;
        applications::Entity::insert(applications::ActiveModel {
            id: Set(id.0),
            name: Set(spec.name().to_owned()),
            display_name: Set(spec.display_name().to_owned()),
            enabled: Set(spec.enabled()),
            managed_by: Set(ManagedBy::Config.as_str().to_owned()),
            sign_in_protocol: Set(spec.sign_in().map(|s| s.protocol().to_owned())),
            sign_in_key: Set(spec.sign_in().map(|s| s.key().to_owned())),
            spec: Set(StoredSpec::of(&spec)?),
            connector_settings_sealed: Set(sealed),
            master_key_id: Set(key_id),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_without_returning(txn)
        .await
        .map_err(db_err)?;
        replace_assignment(txn, id, spec.assignment()).await?;
        emit(txn, changed(id), ACTOR, now).await?;
        record_in(txn, now, ACTOR, "application.create", &id.to_string()).await?;
        Ok(Application {
            id,
            spec,
            managed_by: ManagedBy::Config,
            created_at: now,
            updated_at: now,
        })
    }

    /// The sealed-settings columns for `spec` as app `id`: both NULL without a
    /// provisioning side.
    fn seal(
        &self,
        spec: &ApplicationSpec,
        id: ApplicationId,
    ) -> Result<(Option<Vec<u8>>, Option<String>)> {
        match spec.provisioning() {
            None => Ok((None, None)),
            Some(p) => {
                let sealed =
                    connector_settings::seal(self.master_key(), spec.name(), id, &p.settings)?;
                Ok((Some(sealed.bytes), Some(sealed.master_key_id)))
            }
        }
    }
}

fn changed(application_id: ApplicationId) -> LifecycleEvent {
    LifecycleEvent::ApplicationChanged { application_id }
}
