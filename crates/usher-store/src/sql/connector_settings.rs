//! An application's connector settings at rest: the connector's own JSON (base
//! URL, tokens, passwords), sealed under the master key as signing keys are.
//!
//! The associated data names the application id and what the bytes are, so sealed
//! settings copied into another application's row (or a sealed signing key copied
//! into this column) fail to open instead of handing one app's token to another.

use usher_core::{ApplicationId, Error, Result};

use super::MasterKey;

/// Sealed settings and the fingerprint of the key that sealed them.
pub(crate) struct Sealed {
    pub(crate) bytes: Vec<u8>,
    pub(crate) master_key_id: String,
}

fn associated_data(id: ApplicationId) -> Vec<u8> {
    format!("usher application {id} connector settings").into_bytes()
}

/// Why application `name`'s provisioning side cannot be stored.
pub(crate) fn no_master_key(name: &str) -> Error {
    Error::Invalid(format!(
        "application {name:?} has a provisioning side, whose connector settings are \
         sealed at rest with the master key, but this store has no master key \
         (SqlStore::with_master_key)"
    ))
}

/// Seals `settings` of application `name` (`id`). Without a master key nothing is
/// stored: connector settings hold secrets and are never written in the clear.
pub(crate) fn seal(
    master: Option<&MasterKey>,
    name: &str,
    id: ApplicationId,
    settings: &serde_json::Value,
) -> Result<Sealed> {
    let master = master.ok_or_else(|| no_master_key(name))?;
    let plaintext = zeroize::Zeroizing::new(serde_json::to_vec(settings).map_err(|e| {
        Error::Internal(format!(
            "application {name:?}: serializing connector settings: {e}"
        ))
    })?);
    Ok(Sealed {
        bytes: master.seal(&plaintext, &associated_data(id))?,
        master_key_id: master.fingerprint(),
    })
}

/// Opens what [`seal`] stored for application `name` (`id`).
pub(crate) fn open(
    master: Option<&MasterKey>,
    name: &str,
    id: ApplicationId,
    sealed: &[u8],
    stored_key_id: &str,
) -> Result<serde_json::Value> {
    let Some(master) = master else {
        return Err(Error::Invalid(format!(
            "application {name:?}: its connector settings are sealed with master key \
             {stored_key_id}, but this store has no master key (SqlStore::with_master_key)"
        )));
    };
    let configured = master.fingerprint();
    // Checked first so the error names both keys, as the key store's does.
    if stored_key_id != configured {
        return Err(Error::MasterKeyMismatch {
            stored: stored_key_id.to_owned(),
            configured,
        });
    }
    // The right key, but GCM refuses: tampered with, or copied from another row.
    let plaintext = master.open(sealed, &associated_data(id)).map_err(|_| {
        Error::Internal(format!(
            "application {name:?}: its sealed connector settings do not open with the \
             master key that sealed them (altered, or copied from another application)"
        ))
    })?;
    serde_json::from_slice(plaintext.expose()).map_err(|e| {
        Error::Internal(format!(
            "application {name:?}: its unsealed connector settings are not JSON: {e}"
        ))
    })
}
