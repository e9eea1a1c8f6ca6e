//! What the binary configures: where usher is reached, cookie security, which
//! proxies to believe, and how hard to throttle password guessing.

use std::time::Duration;

use ipnet::IpNet;

/// Settings of the pages.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// The public URL usher is reached at (the OIDC issuer).
    pub public_url: String,
    /// Mark cookies `Secure` (and name the CSRF cookie with the `__Host-` prefix).
    /// True whenever `public_url` is https.
    pub secure_cookies: bool,
    /// Reverse proxies whose `X-Forwarded-For` is believed. Empty: the peer
    /// address is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Limits on failed sign-ins.
    pub throttle: ThrottlePolicy,
}

/// Limits on failed sign-ins, counted in the ephemeral store (so shared by every
/// instance).
///
/// * `per_account` failures on one login name within `window` lock that name for
///   `window` (a successful sign-in resets the count, as Keycloak does);
/// * `per_ip` failures from one client address (an IPv6 /64) within `window` lock
///   that address for `window`, whatever names it tries (password spraying).
///
/// # Why 5 / 30 / 15 minutes
///
/// Keycloak ships brute-force detection *off*; when an admin turns it on, the
/// defaults are 30 failures, then waits growing by 1 minute up to 15 minutes, the
/// count reset after 12 hours. usher throttles by default and more tightly per
/// account: 5 guesses per 15 minutes caps an online attacker at 480 guesses a day
/// per account, far below what a weak password survives (NIST SP 800-63B §5.2.2
/// asks for at most 100 consecutive failures), while a person who mistypes a few
/// times is never stopped. The lockout is temporary, never permanent, so an attacker
/// can at worst keep an account's password sign-in blocked, not disable it. The
/// per-address limit is looser (30) because offices and mobile carriers put many
/// people behind one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed per login name in a window.
    pub per_account: u32,
    /// Failures allowed per client address in a window.
    pub per_ip: u32,
    /// The counting window, and how long a lockout lasts.
    pub window: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            per_account: 5,
            per_ip: 30,
            window: Duration::from_secs(15 * 60),
        }
    }
}
