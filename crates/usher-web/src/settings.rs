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
/// instance); see `throttle.rs` for how they combine.
///
/// * `per_account_and_ip` failures on one name as typed (each alias of an
///   account on its own: no enumeration oracle) from one client address (an IPv6
///   /64) within `window` lock that name *from that address* for `window` (a
///   successful sign-in with it from there resets the count);
/// * `per_account` failures on one account from all addresses together within
///   `window` lock it for `window` from every address it has not signed in from
///   successfully in the last 30 days (a distributed attack);
/// * `per_ip` failures from one client address within `window` lock that address
///   for `window`, whatever names it tries (password spraying).
///
/// # Why 5 / 100 / 30 / 15 minutes
///
/// Keycloak ships brute-force detection *off*; when an admin turns it on, it counts
/// per user from anywhere (30 failures), so anyone who knows a username can keep
/// its owner out: the lockout becomes the attack. usher counts per account *and*
/// address first: 5 guesses per 15 minutes from one address (480 a day) is far
/// below what a weak password survives, a person who mistypes a few times is never
/// stopped, and an attacker elsewhere cannot lock the owner out. The account-wide
/// ceiling of 100 per window is NIST SP 800-63B §5.2.2's bound on consecutive
/// failures; it holds a botnet to 100 guesses per 15 minutes in total, takes at
/// least 20 addresses to reach, and even then spares the addresses the owner
/// signed in from before (Entra ID's and Okta's "smart lockout"). The per-address
/// limit is looser (30) because offices and mobile carriers put many people behind
/// one address. Every lockout is temporary, never permanent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures allowed per account from one client address in a window.
    pub per_account_and_ip: u32,
    /// Failures allowed per account from all addresses in a window.
    pub per_account: u32,
    /// Failures allowed per client address, across accounts, in a window.
    pub per_ip: u32,
    /// The counting window, and how long a lockout lasts.
    pub window: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            per_account_and_ip: 5,
            per_account: 100,
            per_ip: 30,
            window: Duration::from_secs(15 * 60),
        }
    }
}
