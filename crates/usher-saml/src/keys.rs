//! usher's RS256 keys for SAML, cached like the OP's: the key store is listed at
//! most once a minute, so a rotation on any instance reaches every instance within
//! a minute and signing costs no database round trip.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use openssl::pkey::{PKey, Private};
use time::OffsetDateTime;
use usher_core::ports::{Clock, KeyAlgorithm, KeyStatus, KeyStore, SigningKey};
use usher_core::{Error, Result};

/// How long a listing of the key store is used before it is read again.
pub const KEY_REFRESH: Duration = Duration::from_secs(60);

/// A key SAML can use: RS256 with its certificate.
#[derive(Debug, Clone)]
pub struct SamlKey {
    /// The stored key (private part inside).
    pub stored: SigningKey,
    /// Its certificate, DER.
    pub certificate: Vec<u8>,
    /// The private key, parsed once per cache refresh rather than per signature.
    pub pkey: Arc<PKey<Private>>,
}

struct Loaded {
    at: OffsetDateTime,
    keys: Arc<Vec<SamlKey>>,
}

/// The cache.
#[derive(Default)]
pub struct KeyCache {
    loaded: RwLock<Option<Loaded>>,
    refresh: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyCache")
    }
}

fn fresh(loaded: &Option<Loaded>, now: OffsetDateTime) -> Option<Arc<Vec<SamlKey>>> {
    let l = loaded.as_ref()?;
    let age = now - l.at;
    (age >= time::Duration::ZERO && age < KEY_REFRESH).then(|| l.keys.clone())
}

impl KeyCache {
    async fn all(&self, store: &dyn KeyStore, now: OffsetDateTime) -> Result<Arc<Vec<SamlKey>>> {
        if let Some(keys) = fresh(&self.read(), now) {
            return Ok(keys);
        }
        let _guard = self.refresh.lock().await;
        if let Some(keys) = fresh(&self.read(), now) {
            return Ok(keys);
        }
        let keys: Arc<Vec<SamlKey>> = Arc::new(
            store
                .list()
                .await?
                .into_iter()
                .filter(|k| k.algorithm == KeyAlgorithm::RS256)
                .filter_map(|k| {
                    let certificate = k.certificate.clone()?;
                    let pkey = match PKey::private_key_from_der(k.private_key.expose()) {
                        Ok(pkey) => Arc::new(pkey),
                        Err(e) => {
                            tracing::error!(kid = %k.kid, error = %e, "a stored RS256 key cannot be read");
                            return None;
                        }
                    };
                    Some(SamlKey {
                        stored: k,
                        certificate,
                        pkey,
                    })
                })
                .collect(),
        );
        *self.loaded.write().unwrap_or_else(|p| p.into_inner()) = Some(Loaded {
            at: now,
            keys: keys.clone(),
        });
        Ok(keys)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Option<Loaded>> {
        self.loaded.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The newest active RS256 key: what signs now.
    pub async fn active(&self, store: &dyn KeyStore, clock: &dyn Clock) -> Result<SamlKey> {
        let now = clock.now();
        self.all(store, now)
            .await?
            .iter()
            .filter(|k| k.stored.status(now) == KeyStatus::Active)
            .max_by_key(|k| k.stored.created_at)
            .cloned()
            .ok_or_else(|| Error::Internal("no active RS256 signing key with a certificate".into()))
    }

    /// Certificates of active and still-published keys: the metadata's KeyDescriptors.
    pub async fn published(&self, store: &dyn KeyStore, clock: &dyn Clock) -> Result<Vec<Vec<u8>>> {
        let now = clock.now();
        Ok(self
            .all(store, now)
            .await?
            .iter()
            .filter(|k| k.stored.status(now) != KeyStatus::Expired)
            .map(|k| k.certificate.clone())
            .collect())
    }
}
