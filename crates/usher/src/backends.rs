//! The concrete implementations behind the core's ports, chosen from configuration:
//! SQLite or PostgreSQL for durable state, memory or Redis for ephemeral state. This
//! is the one place that names them.

use std::sync::Arc;

use actix_web::http::Uri;
use usher_core::ports::{Consents, EphemeralStore, KeyStore, RefreshTokens, SystemClock};
use usher_core::{Error, Result};
use usher_store::{
    Database, KeyRing, KeyRingPolicy, MasterKey, MemoryEphemeralStore, RedisEphemeralStore,
};

use crate::config::Config;

/// Everything a running broker reads and writes.
#[derive(Clone)]
pub struct Backends {
    /// The SQL database.
    pub database: Database,
    /// Shared short-lived state.
    pub ephemeral: Arc<dyn EphemeralStore>,
    /// `memory` or `redis`, for readiness reports.
    pub ephemeral_kind: &'static str,
    /// Signing keys (private parts sealed under the master key), shared by the key
    /// ring and every protocol front-end.
    pub keys: Arc<dyn KeyStore>,
    /// Remembered consents: durable, in SQL (never the ephemeral store, which may
    /// lose them and whose cap they would fill).
    pub consents: Arc<dyn Consents>,
    /// Refresh-token families: durable, in SQL, for the same reasons.
    pub refresh_tokens: Arc<dyn RefreshTokens>,
    /// The master key, which also seals applications' connector settings.
    pub master: MasterKey,
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backends")
            .field("database", &self.database.backend_name())
            .field("ephemeral", &self.ephemeral_kind)
            .finish_non_exhaustive()
    }
}

/// Connects and migrates the database. Errors that may pass (a database still
/// starting) come back as [`Error::Unavailable`].
pub async fn open_database(config: &Config) -> Result<Database> {
    let url = config
        .database_url()
        .map_err(|e| Error::Invalid(e.to_string()))?;
    prepare_sqlite_directory(url.expose())?;
    let database = Database::connect(url.expose()).await?;
    database.migrate().await?;
    Ok(database)
}

/// Opens every backend and makes sure signing keys exist.
pub async fn open(config: &Config, master: &MasterKey) -> Result<Backends> {
    let database = open_database(config).await?;
    let (ephemeral, ephemeral_kind): (Arc<dyn EphemeralStore>, _) = match config
        .redis_url()
        .map_err(|e| Error::Invalid(e.to_string()))?
    {
        Some(url) => (
            Arc::new(RedisEphemeralStore::connect(url.expose(), &config.redis.key_prefix).await?),
            "redis",
        ),
        None => (
            Arc::new(
                MemoryEphemeralStore::new(config.ephemeral.max_entries)
                    .with_max_bytes(config.ephemeral.max_bytes),
            ),
            "memory",
        ),
    };
    let keys: Arc<dyn KeyStore> = Arc::new(database.key_store(master.clone()));
    let generated = key_ring(config, keys.clone()).ensure_active_keys().await?;
    if !generated.is_empty() {
        tracing::info!(keys = ?generated, "generated signing keys");
    }
    let grants = Arc::new(database.store());
    Ok(Backends {
        database,
        ephemeral,
        ephemeral_kind,
        keys,
        consents: grants.clone(),
        refresh_tokens: grants,
        master: master.clone(),
    })
}

/// The key ring over `keys`, with the policy from configuration.
pub fn key_ring(config: &Config, keys: Arc<dyn KeyStore>) -> KeyRing {
    let host = config
        .server
        .public_url
        .parse::<Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_owned))
        .unwrap_or_else(|| "usher".into());
    let policy = KeyRingPolicy {
        publish_retired_for: config.keys.publish_retired_for,
        certificate_common_name: host,
        ..KeyRingPolicy::default()
    };
    KeyRing::new(keys, Arc::new(SystemClock), policy)
}

/// SQLite creates the database file (`mode=rwc`) but not its directory.
fn prepare_sqlite_directory(url: &str) -> Result<()> {
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return Ok(());
    };
    let path = std::path::Path::new(rest.split('?').next().unwrap_or_default());
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && rest != ":memory:" => {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::Invalid(format!(
                    "cannot create the database directory {}: {e}",
                    dir.display()
                ))
            })
        }
        _ => Ok(()),
    }
}

/// The SQL store with the master key when one is configured or generated, for the
/// commands that read applications (their connector settings are sealed under it;
/// without the key, reading one says to configure it).
pub async fn open_store(config: &Config) -> anyhow::Result<usher_store::SqlStore> {
    let store = open_database(config).await?.store();
    Ok(match crate::master_key::resolve(config) {
        Ok(master) => store.with_master_key(master),
        Err(_) => store,
    })
}
