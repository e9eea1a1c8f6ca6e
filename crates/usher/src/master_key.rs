//! Where the master key comes from: the configuration (inline or a file), or, in the
//! zero-config single-instance mode, a key generated once into the data directory.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use usher_store::MasterKey;

use crate::config::{Config, resolve_secret};

const GENERATED_FILE: &str = "master.key";

/// The master key to seal and open private keys with.
pub fn resolve(config: &Config) -> anyhow::Result<MasterKey> {
    let configured = resolve_secret(
        "keys.master_key",
        config.keys.master_key.as_ref(),
        config.keys.master_key_file.as_deref(),
    )?;
    if let Some(secret) = configured {
        return MasterKey::from_base64(secret.expose())
            .context("invalid configuration: `keys.master_key`");
    }
    let path = config.data_dir.join(GENERATED_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the master key {}", path.display()))?;
        return MasterKey::from_base64(&text)
            .with_context(|| format!("the master key file {} is damaged", path.display()));
    }
    let key = MasterKey::generate();
    write_new_key(&path, &key)?;
    tracing::warn!(
        path = %path.display(),
        "generated a master key in the data directory; private keys are only as safe as \
         this file. For production, keep the master key elsewhere and set keys.master_key_file"
    );
    Ok(key)
}

/// Writes a fresh key readable by its owner only, refusing to replace any file.
fn write_new_key(path: &Path, key: &MasterKey) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create the master key file {}", path.display()))?;
    writeln!(file, "{}", key.to_base64())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write the master key file {}", path.display()))
}
