//! `[pending_sign_ins]`: how many sign-ins (and sign-outs) one client address may
//! start before it has signed in; the per-address budget that keeps a flood of
//! unauthenticated requests from filling the ephemeral store
//! ([`usher_core::PendingBudget`], which explains the default).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use usher_core::BudgetPolicy;

use super::ConfigError;

/// `[pending_sign_ins]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PendingSignInsConfig {
    /// Requests one address (an IPv4 address, an IPv6 /64) may park per window.
    pub per_ip: u32,
    /// Requests one IPv6 /48 may park per window, all its /64s together; absent,
    /// 8 times `per_ip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_ipv6_48: Option<u32>,
    /// The counting window.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
}

impl Default for PendingSignInsConfig {
    fn default() -> Self {
        let policy = BudgetPolicy::default();
        Self {
            per_ip: policy.per_ip,
            per_ipv6_48: None,
            window: policy.window,
        }
    }
}

impl PendingSignInsConfig {
    /// The checked policy; errors name the key.
    pub fn policy(&self) -> Result<BudgetPolicy, ConfigError> {
        if self.per_ip == 0 {
            return Err(ConfigError::invalid(
                "pending_sign_ins.per_ip",
                "expected a positive number (the default is 100): 0 would refuse every sign-in",
            ));
        }
        let per_ipv6_48 = self
            .per_ipv6_48
            .unwrap_or_else(|| self.per_ip.saturating_mul(8));
        if per_ipv6_48 < self.per_ip {
            return Err(ConfigError::invalid(
                "pending_sign_ins.per_ipv6_48",
                "expected a number at least pending_sign_ins.per_ip (absent, it is 8 times \
                 per_ip): a /48 holds many /64s, and a smaller limit would refuse a /64 before \
                 its own budget is spent",
            ));
        }
        if self.window < Duration::from_secs(1) || self.window > Duration::from_secs(24 * 3600) {
            return Err(ConfigError::invalid(
                "pending_sign_ins.window",
                "expected a duration from 1s to 24h, such as \"10m\" (the default)",
            ));
        }
        Ok(BudgetPolicy {
            per_ip: self.per_ip,
            per_ipv6_48,
            window: self.window,
        })
    }
}
