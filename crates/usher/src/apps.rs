//! The `[[apps]]` of the configuration made the stored configuration-managed
//! applications at every start, after the `[[users]]` sync (which creates the
//! groups the apps may assign): an app keeps its id across restarts (matched by
//! name), a changed one is updated, one removed from the file is removed from the
//! database. The store does it in one transaction, audited as `config`.

use usher_core::ports::{Applications, Directory};
use usher_core::{Application, Error, Result};

use crate::config::{AppStartError, Config, declared_apps};

/// Applies every `[[apps]]` entry; an unknown group or user stops the start,
/// naming the key.
pub async fn sync(
    config: &Config,
    directory: &dyn Directory,
    applications: &dyn Applications,
) -> Result<Vec<Application>> {
    let declared = declared_apps(config).map_err(|e| Error::Invalid(e.to_string()))?;
    let mut specs = Vec::with_capacity(declared.len());
    for app in declared {
        let spec = app.resolve(directory).await.map_err(|e| match e {
            AppStartError::Config(e) => Error::Invalid(e.to_string()),
            AppStartError::Store(e) => e,
        })?;
        specs.push(spec);
    }
    let synced = applications.sync_config_applications(specs).await?;
    tracing::info!(
        apps = synced.len(),
        "applications in line with the configuration"
    );
    Ok(synced)
}
