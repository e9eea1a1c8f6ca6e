//! usher's signing keys, cached: the key store is listed (and the private keys
//! decrypted and parsed) at most once a minute, so `usher keys rotate` on any
//! instance reaches every instance within a minute, and signing costs no database
//! round trip.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use time::OffsetDateTime;
use usher_core::ports::{KeyAlgorithm, KeyStatus};
use usher_core::{Error, Result};

use crate::jose::{JoseKey, VerifyKey};
use crate::state::OidcState;

/// How long a listing of the key store is used before it is read again.
pub const KEY_REFRESH: Duration = Duration::from_secs(60);

struct Loaded {
    at: OffsetDateTime,
    keys: Arc<Vec<Arc<JoseKey>>>,
}

/// The cache; one per [`OidcState`].
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

fn fresh(loaded: &Option<Loaded>, now: OffsetDateTime) -> Option<Arc<Vec<Arc<JoseKey>>>> {
    let l = loaded.as_ref()?;
    // A clock moved backwards also forces a reload.
    let age = now - l.at;
    (age >= time::Duration::ZERO && age < KEY_REFRESH).then(|| l.keys.clone())
}

impl KeyCache {
    /// Every stored key (all statuses), oldest first, reloaded when older than
    /// [`KEY_REFRESH`].
    pub async fn all(&self, state: &OidcState) -> Result<Arc<Vec<Arc<JoseKey>>>> {
        let now = state.deps.clock.now();
        if let Some(keys) = fresh(&self.read(), now) {
            return Ok(keys);
        }
        // One reload at a time; the others wait and reuse it.
        let _guard = self.refresh.lock().await;
        if let Some(keys) = fresh(&self.read(), now) {
            return Ok(keys);
        }
        let listed = state.deps.keys.list().await?;
        let keys = Arc::new(
            listed
                .iter()
                .map(|k| JoseKey::from_signing_key(k).map(Arc::new))
                .collect::<Result<Vec<_>>>()?,
        );
        let mut slot = self.loaded.write().unwrap_or_else(|p| p.into_inner());
        *slot = Some(Loaded {
            at: now,
            keys: keys.clone(),
        });
        Ok(keys)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Option<Loaded>> {
        self.loaded.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Forgets the listing, so the next use reads the key store.
    pub fn invalidate(&self) {
        *self.loaded.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The newest active key of `algorithm`: what signs now.
    pub async fn active(&self, state: &OidcState, algorithm: KeyAlgorithm) -> Result<Arc<JoseKey>> {
        let now = state.deps.clock.now();
        self.all(state)
            .await?
            .iter()
            .filter(|k| k.algorithm == algorithm && k.stored.status(now) == KeyStatus::Active)
            .max_by_key(|k| k.stored.created_at)
            .cloned()
            .ok_or_else(|| Error::Internal(format!("no active {algorithm} signing key")))
    }

    /// Active and published keys: the JWKS, and what our own tokens verify with.
    pub async fn published(&self, state: &OidcState) -> Result<Vec<Arc<JoseKey>>> {
        let now = state.deps.clock.now();
        Ok(self
            .all(state)
            .await?
            .iter()
            .filter(|k| k.stored.status(now) != KeyStatus::Expired)
            .cloned()
            .collect())
    }

    /// The published keys as verification keys (our own tokens: access tokens,
    /// `id_token_hint`).
    pub async fn verify_keys(&self, state: &OidcState) -> Result<Vec<VerifyKey>> {
        Ok(self
            .published(state)
            .await?
            .iter()
            .map(|k| VerifyKey {
                kid: Some(k.kid.clone()),
                algorithm: k.algorithm,
                key: k.public_key().clone(),
            })
            .collect())
    }
}
