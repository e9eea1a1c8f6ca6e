//! Online password guessing limits (OWASP ASVS V2.2.1; NIST SP 800-63B §5.2.2).
//!
//! Counters live in the ephemeral store, so every instance sees the same counts.
//! Keys name no account in the clear: the login name is digested.
//!
//! * Per account, each attempt is *reserved* (counted) before the password is
//!   checked: the store's increment is atomic, so a burst of parallel guesses
//!   cannot all slip in before the first failure is recorded. A success resets
//!   the count (consecutive failures, as Keycloak counts them).
//! * Per address, only failures count (an office behind one NAT signing in all
//!   morning must not lock itself out), and a success does not reset it (or one
//!   valid account would let an attacker reset their budget).
//!
//! Reaching a limit writes a lockout marker holding its end time, checked before
//! anything else, so the page can say how long to wait and nothing is verified
//! meanwhile.

use std::time::Duration;

use time::OffsetDateTime;
use usher_core::Result;
use usher_core::ports::EphemeralStore;
use usher_core::random;

use crate::ThrottlePolicy;

/// Why sign-in is refused for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Account,
    Address,
}

/// A lockout in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lockout {
    pub scope: Scope,
    pub remaining: Duration,
}

impl Lockout {
    /// Whole minutes to wait, rounded up, at least 1.
    pub fn minutes(&self) -> u64 {
        self.remaining.as_secs().div_ceil(60).max(1)
    }
}

/// Throttling for one sign-in attempt.
pub(crate) struct Throttle<'a> {
    pub store: &'a dyn EphemeralStore,
    pub policy: ThrottlePolicy,
    pub now: OffsetDateTime,
    account: String,
    address: String,
}

impl<'a> Throttle<'a> {
    /// `login` as typed (compared case-insensitively); `address` a client bucket.
    pub fn new(
        store: &'a dyn EphemeralStore,
        policy: ThrottlePolicy,
        now: OffsetDateTime,
        login: &str,
        address: &str,
    ) -> Self {
        Self {
            store,
            policy,
            now,
            account: random::digest(&login.trim().to_lowercase()),
            address: address.to_owned(),
        }
    }

    fn account_key(&self) -> String {
        format!("throttle:acct:{}", self.account)
    }

    fn address_key(&self) -> String {
        format!("throttle:ip:{}", self.address)
    }

    fn lock_key(&self, scope: Scope) -> String {
        match scope {
            Scope::Account => format!("throttle:lock:acct:{}", self.account),
            Scope::Address => format!("throttle:lock:ip:{}", self.address),
        }
    }

    /// A lockout in force for this account or address.
    pub async fn locked(&self) -> Result<Option<Lockout>> {
        for scope in [Scope::Account, Scope::Address] {
            let Some(value) = self.store.get(&self.lock_key(scope)).await? else {
                continue;
            };
            let until = std::str::from_utf8(&value)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(0);
            let remaining = until - self.now.unix_timestamp();
            if remaining > 0 {
                return Ok(Some(Lockout {
                    scope,
                    remaining: Duration::from_secs(remaining.unsigned_abs()),
                }));
            }
        }
        Ok(None)
    }

    /// Counts an attempt on the account before verifying; a lockout when this
    /// attempt is beyond the limit. Returns the attempt's number otherwise.
    pub async fn reserve(&self) -> Result<std::result::Result<u64, Lockout>> {
        let n = self
            .store
            .increment(&self.account_key(), self.policy.window)
            .await?;
        if n > u64::from(self.policy.per_account) {
            return Ok(Err(self.lock(Scope::Account).await?));
        }
        Ok(Ok(n))
    }

    /// Records a failed attempt (`attempt` from [`reserve`](Self::reserve)).
    pub async fn failed(&self, attempt: u64) -> Result<()> {
        if attempt >= u64::from(self.policy.per_account) {
            self.lock(Scope::Account).await?;
        }
        let n = self
            .store
            .increment(&self.address_key(), self.policy.window)
            .await?;
        if n >= u64::from(self.policy.per_ip) {
            self.lock(Scope::Address).await?;
        }
        Ok(())
    }

    /// A successful sign-in: the account's consecutive failures are forgotten.
    pub async fn succeeded(&self) -> Result<()> {
        self.store.delete(&self.account_key()).await.map(drop)
    }

    async fn lock(&self, scope: Scope) -> Result<Lockout> {
        let until = self.now.unix_timestamp()
            + i64::try_from(self.policy.window.as_secs()).unwrap_or(i64::MAX / 2);
        self.store
            .put(
                &self.lock_key(scope),
                until.to_string().as_bytes(),
                self.policy.window,
            )
            .await?;
        Ok(Lockout {
            scope,
            remaining: self.policy.window,
        })
    }
}
