//! Local passwords: argon2id hashing and verification, off the async executor and
//! with bounded concurrency.
//!
//! A hash at Keycloak's cost takes ~7 MiB and tens of milliseconds of one core. On
//! the async executor it would stall every other request on that thread; unbounded
//! on the blocking pool, a burst of sign-ins (or an attacker's) would allocate
//! without limit. So every hash runs in `spawn_blocking` behind a semaphore.

use std::sync::Arc;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::{OnceCell, Semaphore};
use usher_core::{Error, Result};

/// Cost of new password hashes, and how many may be computed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Memory per hash, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// Hashes computed at the same time; more wait.
    pub max_concurrent: usize,
}

impl Default for PasswordPolicy {
    /// Keycloak's argon2 defaults (`Argon2PasswordHashProviderFactory`): argon2id,
    /// 7 MiB, 5 iterations, 1 lane; as many hashes at once as there are CPUs.
    fn default() -> Self {
        Self {
            memory_kib: 7168,
            iterations: 5,
            parallelism: 1,
            max_concurrent: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

impl PasswordPolicy {
    /// Checks the argon2 parameters are usable (argon2 needs at least 8 KiB per
    /// lane, one iteration and one lane).
    pub fn validate(&self) -> Result<()> {
        self.params().map(drop)
    }

    fn params(&self) -> Result<Params> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None).map_err(|e| {
            Error::Invalid(format!(
                "password hashing parameters m={} KiB, t={}, p={} are not usable: {e}",
                self.memory_kib, self.iterations, self.parallelism
            ))
        })
    }
}

/// Hashes and verifies passwords (PHC strings, `$argon2id$v=19$m=...,t=...,p=...$`).
pub struct PasswordHasher {
    params: Result<Params, String>,
    permits: Arc<Semaphore>,
    /// A hash of a random password at the current cost, verified when the account
    /// does not exist so that response time does not reveal which accounts do.
    dummy: OnceCell<String>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .field("available_permits", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher with `policy`. Unusable parameters make [`hash`](Self::hash) fail
    /// (the binary checks them first with [`PasswordPolicy::validate`]).
    pub fn new(policy: PasswordPolicy) -> Self {
        Self {
            params: policy.params().map_err(|e| e.to_string()),
            permits: Arc::new(Semaphore::new(policy.max_concurrent.max(1))),
            dummy: OnceCell::new(),
        }
    }

    /// Hashes `password` with a fresh random salt at the configured cost.
    pub async fn hash(&self, password: &str) -> Result<String> {
        let params = self.params.clone().map_err(Error::Invalid)?;
        let password = password.to_owned();
        self.off_executor(move || {
            let salt = argon2::password_hash::try_generate_salt()
                .map_err(|e| Error::Internal(format!("the system random source failed: {e}")))?;
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password_with_salt(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::Internal(format!("argon2 hashing failed: {e}")))
        })
        .await?
    }

    /// True when `password` matches `phc`. The cost and variant come from the PHC
    /// string, so hashes made under an older policy keep working. A string that is
    /// not a PHC hash is an error, not a mismatch.
    pub async fn verify(&self, phc: &str, password: &str) -> Result<bool> {
        let hash = PasswordHash::new(phc)
            .map_err(|e| Error::Invalid(format!("the stored password hash is malformed: {e}")))?;
        let password = password.to_owned();
        self.off_executor(move || {
            match Argon2::default().verify_password(password.as_bytes(), &hash) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                Err(e) => Err(Error::Invalid(format!(
                    "the stored password hash cannot be verified: {e}"
                ))),
            }
        })
        .await?
    }

    /// Spends the time of a verification without an account (timing side channel:
    /// "unknown user" must not answer faster than "wrong password").
    pub(crate) async fn verify_dummy(&self, password: &str) {
        let dummy = self
            .dummy
            .get_or_try_init(|| async {
                let random = usher_core::random::token()?;
                self.hash(&random).await
            })
            .await;
        match dummy {
            Ok(phc) => {
                let _ = self.verify(phc, password).await;
            }
            Err(e) => tracing::error!(error = %e, "cannot compute the dummy password hash"),
        }
    }

    async fn off_executor<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| Error::Internal("the password hasher is shut down".into()))?;
        // The permit moves into the task: if the request is cancelled, the work still
        // counts against the bound until it really ends.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| Error::Internal(format!("the password hashing task failed: {e}")))
    }
}
