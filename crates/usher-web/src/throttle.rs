//! Online password guessing limits (OWASP ASVS V2.2.1; NIST SP 800-63B §5.2.2),
//! shaped so that they cannot be turned against the account's owner.
//!
//! Counters live in the ephemeral store, so every instance sees the same counts.
//! Keys name no account in the clear: names are digested. An address is a
//! throttling bucket (`client_ip::bucket`: IPv4 as is, IPv6 by /64).
//!
//! Two names are involved: the name *as typed* (lower-cased) and the *account*
//! it resolves to (the user id; an unknown name stands for itself). The first
//! line counts per name typed, not per account: were the aliases of one account
//! (its username, its email addresses) to share that small budget while unknown
//! names each had their own, three failures as `alice` and three as `alice@corp`
//! from one address would answer 429 exactly when both names are one existing
//! account (an account-enumeration oracle). The account-wide ceiling stays per
//! account, so aliases do not multiply the total guesses.
//!
//! Three limits, checked in this order:
//!
//! * **Per name and address** (the first line): each attempt is *reserved*
//!   (counted) before the password is checked: the store's increment is atomic, so
//!   a burst of parallel guesses cannot all slip in before the first failure is
//!   recorded. A success resets the count. Reaching it locks that account *from
//!   that address* only: an attacker failing five times from their address does
//!   not lock the owner out from theirs (the lockout denial of service Keycloak's
//!   per-user brute-force detection is known for).
//! * **Per account, from anywhere** (the ceiling against a distributed attack):
//!   only failures count and a success does not reset it. Reaching it locks the
//!   account from every address *except those the account signed in from
//!   successfully* in the last [`FAMILIAR_FOR`] (the "familiar location" of Entra
//!   ID's and Okta's smart lockout), so the owner at their usual desk keeps
//!   working while a botnet is held to the ceiling.
//! * **Per address, across accounts** (password spraying): only failures count,
//!   a success does not reset it (or one valid account would let an attacker reset
//!   their budget), and it is looser because offices and carriers share addresses.
//!
//! Reaching a limit writes a lockout marker holding its end time, checked before
//! anything else, so the page can say how long to wait and nothing is verified
//! meanwhile. A locked attempt is answered without hashing the password: the 429
//! does not depend on the password, so its timing tells nothing about it, and
//! unknown names are throttled the same way, so it tells nothing about which
//! accounts exist either (and a locked-out attacker cannot make usher burn argon2).

use std::time::Duration;

use time::OffsetDateTime;
use usher_core::Result;
use usher_core::ports::EphemeralStore;
use usher_core::random;

use crate::ThrottlePolicy;

/// How long an address stays familiar to an account after a successful sign-in
/// from it: a month covers holidays without keeping stale addresses forever.
pub(crate) const FAMILIAR_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// Why sign-in is refused for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// This name (as typed), from this address.
    NameFromAddress,
    /// This account, from every address not familiar to it.
    Account,
    /// This address, whatever account it tries.
    Address,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::NameFromAddress => "pair",
            Scope::Account => "acct",
            Scope::Address => "ip",
        }
    }
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
    /// Digest of the name as typed, lower-cased.
    name: String,
    /// Digest of the account the name resolves to.
    account: String,
    address: String,
}

impl<'a> Throttle<'a> {
    /// `login` as typed and `account` the account it names (both compared
    /// case-insensitively); `address` a client bucket.
    pub fn new(
        store: &'a dyn EphemeralStore,
        policy: ThrottlePolicy,
        now: OffsetDateTime,
        login: &str,
        account: &str,
        address: &str,
    ) -> Self {
        let key = |s: &str| random::digest(&s.trim().to_lowercase());
        Self {
            store,
            policy,
            now,
            name: key(login),
            account: key(account),
            address: address.to_owned(),
        }
    }

    /// What a scope counts: `throttle:{scope}:{who}`.
    fn subject(&self, scope: Scope) -> String {
        let who = match scope {
            Scope::NameFromAddress => format!("{}:{}", self.name, self.address),
            Scope::Account => self.account.clone(),
            Scope::Address => self.address.clone(),
        };
        format!("{}:{who}", scope.name())
    }

    fn count_key(&self, scope: Scope) -> String {
        format!("throttle:{}", self.subject(scope))
    }

    fn lock_key(&self, scope: Scope) -> String {
        format!("throttle:lock:{}", self.subject(scope))
    }

    fn familiar_key(&self) -> String {
        format!("throttle:familiar:{}:{}", self.account, self.address)
    }

    fn limit(&self, scope: Scope) -> u64 {
        u64::from(match scope {
            Scope::NameFromAddress => self.policy.per_account_and_ip,
            Scope::Account => self.policy.per_account,
            Scope::Address => self.policy.per_ip,
        })
    }

    /// A lockout in force for this name from this address, this account (from an
    /// address it does not know), or this address.
    pub async fn locked(&self) -> Result<Option<Lockout>> {
        for scope in [Scope::NameFromAddress, Scope::Account, Scope::Address] {
            let Some(value) = self.store.get(&self.lock_key(scope)).await? else {
                continue;
            };
            let until = std::str::from_utf8(&value)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(0);
            let remaining = until - self.now.unix_timestamp();
            if remaining <= 0 {
                continue;
            }
            // Smart lockout: the account-wide ceiling spares the owner's usual places.
            if scope == Scope::Account && self.store.get(&self.familiar_key()).await?.is_some() {
                continue;
            }
            return Ok(Some(Lockout {
                scope,
                remaining: Duration::from_secs(remaining.unsigned_abs()),
            }));
        }
        Ok(None)
    }

    /// Counts an attempt on the name from this address before verifying; a
    /// lockout when this attempt is beyond the limit. Returns the attempt's number
    /// otherwise.
    pub async fn reserve(&self) -> Result<std::result::Result<u64, Lockout>> {
        let scope = Scope::NameFromAddress;
        let n = self
            .store
            .increment(&self.count_key(scope), self.policy.window)
            .await?;
        if n > self.limit(scope) {
            return Ok(Err(self.lock(scope).await?));
        }
        Ok(Ok(n))
    }

    /// Records a failed attempt (`attempt` from [`reserve`](Self::reserve)).
    pub async fn failed(&self, attempt: u64) -> Result<()> {
        if attempt >= self.limit(Scope::NameFromAddress) {
            self.lock(Scope::NameFromAddress).await?;
        }
        for scope in [Scope::Account, Scope::Address] {
            let n = self
                .store
                .increment(&self.count_key(scope), self.policy.window)
                .await?;
            if n >= self.limit(scope) {
                self.lock(scope).await?;
            }
        }
        Ok(())
    }

    /// A successful sign-in: the failures of this name from this address are
    /// forgotten, and the address becomes familiar to the account.
    pub async fn succeeded(&self) -> Result<()> {
        self.store
            .delete(&self.count_key(Scope::NameFromAddress))
            .await?;
        // Best effort: a full store must not turn a correct password into an error;
        // the address is then merely unfamiliar.
        if let Err(e) = self
            .store
            .put(&self.familiar_key(), b"1", FAMILIAR_FOR)
            .await
        {
            tracing::warn!(error = %e, "cannot record a familiar sign-in address");
        }
        Ok(())
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
