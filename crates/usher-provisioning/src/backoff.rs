//! How long a failed job waits before its next attempt.
//!
//! Exponential backoff with **full jitter** (AWS Architecture Blog, "Exponential
//! Backoff and Jitter", 2015): the wait for attempt `n` is drawn uniformly from
//! `[0, min(cap, base * 2^(n-1))]`. Of the schemes that post compares, full jitter
//! does the least total work and spreads a crowd of retries best, so a target
//! coming back from an outage is not hit by every failed job in the same second.
//! A `Retry-After` from the target is a floor: the wait is never shorter.
//!
//! The random source is the operating system's (`getrandom`) in production, or a
//! seeded generator in tests, so a test can assert the exact waits.

use std::sync::Mutex;
use std::time::Duration;

/// The first retry waits up to this long.
pub const BASE: Duration = Duration::from_secs(1);

/// No wait is longer than this (before a `Retry-After` floor).
pub const CAP: Duration = Duration::from_secs(30 * 60);

/// Exponential backoff with full jitter, `Retry-After` as a floor.
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    random: Random,
}

#[derive(Debug)]
enum Random {
    Os,
    Seeded(Mutex<u64>),
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

impl Backoff {
    /// Base 1 s, cap 30 min, jitter from the operating system.
    pub fn new() -> Self {
        Self {
            base: BASE,
            cap: CAP,
            random: Random::Os,
        }
    }

    /// Base 1 s, cap 30 min, jitter from a generator seeded with `seed`: the same
    /// seed gives the same waits (tests).
    pub fn seeded(seed: u64) -> Self {
        Self {
            base: BASE,
            cap: CAP,
            random: Random::Seeded(Mutex::new(seed)),
        }
    }

    /// Other bounds (a base of zero is taken as 1 ms, a cap below the base as the base).
    pub fn with_bounds(mut self, base: Duration, cap: Duration) -> Self {
        self.base = base.max(Duration::from_millis(1));
        self.cap = cap.max(self.base);
        self
    }

    /// The ceiling for attempt `attempt` (1 for the first retry): `base * 2^(n-1)`,
    /// capped, without jitter.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let mut ceiling = self.base;
        for _ in 1..attempt.min(64) {
            if ceiling >= self.cap {
                break;
            }
            ceiling = ceiling.saturating_mul(2);
        }
        ceiling.min(self.cap)
    }

    /// The wait before retrying after attempt `attempt` failed: uniform in
    /// `[0, ceiling(attempt)]`, at least `retry_after`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.ceiling(attempt);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        let drawn = Duration::from_millis(self.next_u64() % millis.saturating_add(1));
        drawn.max(retry_after.unwrap_or(Duration::ZERO))
    }

    fn next_u64(&self) -> u64 {
        match &self.random {
            Random::Os => {
                let mut bytes = [0u8; 8];
                // The OS generator failing is not worth failing a retry for: the
                // wait is then the ceiling, which is still a correct backoff.
                if getrandom::fill(&mut bytes).is_err() {
                    return u64::MAX;
                }
                u64::from_le_bytes(bytes)
            }
            Random::Seeded(state) => {
                let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
                split_mix(&mut state)
            }
        }
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for jitter.
fn split_mix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The wait before probing an app again after its credentials were refused or it
/// proved unusable (`failures` in a row, 1 for the first): 30 s doubling to 30
/// minutes, without jitter (one probe per app, nothing to spread).
pub fn app_probe_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(6);
    (Duration::from_secs(30) * (1u32 << doublings)).min(CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_from_one_second_to_thirty_minutes() {
        let b = Backoff::seeded(1);
        assert_eq!(b.ceiling(1), Duration::from_secs(1));
        assert_eq!(b.ceiling(2), Duration::from_secs(2));
        assert_eq!(b.ceiling(5), Duration::from_secs(16));
        assert_eq!(b.ceiling(11), Duration::from_secs(1024));
        assert_eq!(b.ceiling(12), CAP);
        assert_eq!(b.ceiling(60), CAP);
        assert_eq!(b.ceiling(u32::MAX), CAP);
        assert_eq!(b.ceiling(0), Duration::from_secs(1));
    }

    #[test]
    fn full_jitter_stays_within_the_ceiling_and_spreads() {
        let b = Backoff::seeded(7);
        let waits: Vec<Duration> = (0..200).map(|_| b.delay(6, None)).collect();
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(32)));
        let below_half = waits
            .iter()
            .filter(|w| **w < Duration::from_secs(16))
            .count();
        assert!(
            (60..=140).contains(&below_half),
            "uniform: about half below the middle, got {below_half}"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_waits() {
        let a = Backoff::seeded(42);
        let b = Backoff::seeded(42);
        for attempt in 1..20 {
            assert_eq!(a.delay(attempt, None), b.delay(attempt, None));
        }
        let c = Backoff::seeded(43);
        let differ = (1..20).any(|n| Backoff::seeded(42).delay(n, None) != c.delay(n, None));
        assert!(differ);
    }

    #[test]
    fn retry_after_is_a_floor() {
        let b = Backoff::seeded(3);
        for _ in 0..50 {
            assert!(b.delay(1, Some(Duration::from_secs(7))) >= Duration::from_secs(7));
        }
        // A floor above the cap still wins: the target said so.
        assert_eq!(
            b.delay(60, Some(Duration::from_secs(7200))),
            Duration::from_secs(7200)
        );
    }

    #[test]
    fn operating_system_jitter_is_bounded_too() {
        let b = Backoff::new();
        for _ in 0..50 {
            assert!(b.delay(3, None) <= Duration::from_secs(4));
        }
    }

    #[test]
    fn app_probes_slow_down_to_thirty_minutes() {
        assert_eq!(app_probe_delay(1), Duration::from_secs(30));
        assert_eq!(app_probe_delay(2), Duration::from_secs(60));
        assert_eq!(app_probe_delay(7), CAP);
        assert_eq!(app_probe_delay(1000), CAP);
    }
}
