//! The budget for pending state: how many sign-ins one client address may start
//! before it has signed in.
//!
//! Every `/oidc/authorize`, `/saml/sso` or federated start that goes to the login
//! page parks state for minutes (the request, the login ticket, the upstream's
//! pending request), and anyone can send those requests. Unbounded, one client
//! fills the ephemeral store, which refuses new keys when full (it never evicts:
//! that would flush replay caches and rate limits), and then nobody can sign in:
//! a denial of service by flooding (issue 10, defect 4). So each front-end takes
//! a token from this budget, per client address, before it parks anything, with
//! or without an SSO session (a session does not stop `prompt=login`,
//! `ForceAuthn` or a logout from parking a request); only what parks nothing,
//! such as a silent OIDC sign-in with a session, is free. An address that spent
//! its budget gets HTTP 429 with `Retry-After` until its window ends, and everyone
//! else carries on.
//!
//! Counting is a fixed window aligned to the clock (`now / window`), kept in the
//! ephemeral store so every instance shares it; aligned windows make the time to
//! wait exact without reading anything back. Addresses are counted as
//! [`ip_bucket`] says (IPv6 per /64) after the trusted-proxy rule of
//! [`RequestOrigin::client_ip`], and IPv6 addresses once more per /48
//! ([`ip_network_bucket`]), with a larger limit: one holder of a /48 has 65 536
//! /64s, each with a budget of its own.

use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use crate::Result;
use crate::client_ip::{RequestOrigin, ip_bucket, ip_network_bucket};
use crate::ports::{Clock, EphemeralStore};

/// How many pending requests one address may park per window.
///
/// # Why 100 per 10 minutes
///
/// A person parks one request per app they sign in to without a session, and
/// one more when that sign-in goes through an upstream IdP: usually two or four
/// a day (with an SSO session an OIDC sign-in parks nothing and is free; a SAML
/// one parks a replay-cache entry and costs a token, as do `prompt=login`,
/// `ForceAuthn` and logouts). 100 per 10 minutes lets about 50 people behind one
/// NAT sign in through an upstream within the same 10 minutes. A parked request
/// holds one or two entries for 10 to 15 minutes, so one address holds at most
/// about 300 of the memory store's 100 000 entries: filling it takes hundreds of
/// addresses instead of one loop. Sites with many people behind one address (a
/// campus NAT) raise `per_ip`; the window is close to the life of what is
/// parked, so the budget tracks what one address can hold at a time.
///
/// # Why 800 per IPv6 /48
///
/// IPv6 is counted per /64, and a /48 holds 65 536 of them: alone, the /64
/// budget would let one holder of a /48 park 6.5 million requests. The /48 is
/// charged as well, with 8 times the per-address limit (a site's /48 is
/// usually several networks, each with its people), so one /48 holds at most
/// about 2 400 entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetPolicy {
    /// Pending sign-ins one address (IPv4, IPv6 /64) may start in a window (at
    /// least 1).
    pub per_ip: u32,
    /// Pending sign-ins one IPv6 /48 may start in a window, all its /64s
    /// together (at least 1).
    pub per_ipv6_48: u32,
    /// The counting window (at least one second).
    pub window: Duration,
}

impl Default for BudgetPolicy {
    fn default() -> Self {
        Self {
            per_ip: 100,
            per_ipv6_48: 800,
            window: Duration::from_secs(10 * 60),
        }
    }
}

/// The per-address budget for parking pending state, shared by every front-end.
#[derive(Clone)]
pub struct PendingBudget {
    store: Arc<dyn EphemeralStore>,
    clock: Arc<dyn Clock>,
    policy: BudgetPolicy,
    trusted_proxies: Arc<[IpNet]>,
}

impl std::fmt::Debug for PendingBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingBudget")
            .field("policy", &self.policy)
            .field("trusted_proxies", &self.trusted_proxies)
            .finish_non_exhaustive()
    }
}

/// An address that spent its budget, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exhausted {
    bucket: String,
    retry_after: Duration,
    first: bool,
}

impl Exhausted {
    /// Seconds until the window ends (the `Retry-After` value), at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs().max(1)
    }

    /// Whole minutes to wait, rounded up, at least 1.
    pub fn minutes(&self) -> u64 {
        self.retry_after_secs().div_ceil(60)
    }

    /// The bucket that ran out (an IPv4 address, an IPv6 /64 or /48), for the log.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Whether this is the first refusal in the window (log it once, not per
    /// request of a flood).
    pub fn is_first(&self) -> bool {
        self.first
    }

    /// The page's heading, saying how long to wait: "Too many sign-ins started
    /// from your network; try again in 7 minutes" (`what` is "sign-ins" or
    /// "sign-outs").
    pub fn heading(&self, what: &str) -> String {
        let minutes = self.minutes();
        let unit = if minutes == 1 { "minute" } else { "minutes" };
        format!("Too many {what} started from your network; try again in {minutes} {unit}")
    }

    /// The page's explanation.
    pub const DETAIL: &'static str = "To keep sign-in working for everyone, usher limits how \
        many sign-ins and sign-outs one network can start in a short time. Wait, then start \
        again from the application. If this keeps happening, tell your administrator.";

    /// The log line of the first refusal of an address in a window.
    pub const LOG: &'static str = "pending sign-in budget spent; refusing new sign-ins from \
        this address until the window ends (raise pending_sign_ins.per_ip if this is a busy \
        NAT rather than a flood)";
}

impl PendingBudget {
    /// A budget over `store`, reading the time from `clock`; `trusted_proxies`
    /// are the proxies whose `X-Forwarded-For` is believed (the same list as the
    /// pages use).
    pub fn new(
        store: Arc<dyn EphemeralStore>,
        clock: Arc<dyn Clock>,
        policy: BudgetPolicy,
        trusted_proxies: Vec<IpNet>,
    ) -> Self {
        Self {
            store,
            clock,
            policy,
            trusted_proxies: trusted_proxies.into(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> BudgetPolicy {
        self.policy
    }

    /// Takes one token for a request from `origin`; `Err(Exhausted)` when its
    /// address (or, for IPv6, its /48) has spent its budget for this window. Call
    /// it before parking anything, session or not; what parks nothing is not
    /// charged.
    pub async fn charge(
        &self,
        origin: &RequestOrigin,
    ) -> Result<std::result::Result<(), Exhausted>> {
        let ip = origin.client_ip(&self.trusted_proxies);
        let own = self.take(ip_bucket(ip), self.policy.per_ip).await?;
        // A request its /64 refused is not charged to its /48: one /64 flooding
        // alone must not spend its neighbours' shared budget beyond its own.
        match (own, ip_network_bucket(ip)) {
            (Ok(()), Some(network)) => self.take(network, self.policy.per_ipv6_48).await,
            (own, _) => Ok(own),
        }
    }

    /// One token from `bucket`, whose limit per window is `limit`.
    async fn take(&self, bucket: String, limit: u32) -> Result<std::result::Result<(), Exhausted>> {
        let window = self.policy.window.as_secs().max(1);
        let now = u64::try_from(self.clock.now().unix_timestamp()).unwrap_or(0);
        let index = now / window;
        let remaining = (index + 1) * window - now;
        let key = format!("budget:pending:{bucket}:{index}");
        let n = self
            .store
            .increment(&key, Duration::from_secs(remaining))
            .await?;
        let limit = u64::from(limit);
        if n <= limit {
            return Ok(Ok(()));
        }
        Ok(Err(Exhausted {
            bucket,
            retry_after: Duration::from_secs(remaining),
            first: n == limit + 1,
        }))
    }
}
