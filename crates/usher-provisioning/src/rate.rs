//! How fast one app is sent to: a token bucket for requests and a cap on jobs in
//! flight, plus the app's `Retry-After` as a wall no request passes.
//!
//! **Why this holds across instances.** Only the instance holding the app's
//! `app:<id>` lease sends for it (see [`crate::sender`]), so one bucket in that
//! instance's memory paces every request the app gets; there is no shared bucket
//! to keep in Redis, and an instance that cannot reach Redis still paces right.
//! When the lease moves (its holder stopped, or went idle for a lease period), the
//! new holder starts with a full bucket: at worst one extra burst per takeover.
//!
//! **Where the numbers come from.** The app's `rate_limit` when it sets one, else
//! the connector's [`Capabilities::rate_limit`] (the target's published limit),
//! else no bucket at all and [`DEFAULT_CONCURRENCY`] jobs in flight.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use usher_connector::{
    Capabilities, Connector, ConnectorError, ErrorKind, GroupRecord, MatchKeys, Page, PageRequest,
    RemoteGroup, RemoteId, RemoteUser, Result, UserRecord,
};
use usher_core::outbound::ProvisioningSettings;

/// Jobs in flight for an app that sets no limit and whose connector knows none.
pub const DEFAULT_CONCURRENCY: u32 = 8;

/// The pace for one app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Sustained requests per minute and the burst, or `None`: unlimited.
    pub bucket: Option<(u32, u32)>,
    /// Jobs in flight at most (each job's calls go one after another, so this is
    /// also the cap on requests in flight).
    pub concurrency: u32,
}

impl Limits {
    /// The app's override, else the connector's default, else unlimited with
    /// [`DEFAULT_CONCURRENCY`].
    pub fn for_app(settings: &ProvisioningSettings, capabilities: &Capabilities) -> Self {
        if let Some(r) = settings.rate_limit {
            return Self {
                bucket: Some((r.per_minute.max(1), r.burst.max(1))),
                concurrency: r.concurrency.max(1),
            };
        }
        if let Some(r) = capabilities.rate_limit {
            return Self {
                bucket: Some((r.per_minute.max(1), r.burst.max(1))),
                concurrency: r.concurrency.max(1),
            };
        }
        Self {
            bucket: None,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

/// A token bucket: `burst` tokens at most, refilled at `per_minute` a minute; a
/// request takes one. Pure over the instants it is given, so tests need no clock.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`.
    pub fn new(per_minute: u32, burst: u32, now: Instant) -> Self {
        let capacity = f64::from(burst.max(1));
        Self {
            capacity,
            per_second: f64::from(per_minute.max(1)) / 60.0,
            tokens: capacity,
            last: now,
        }
    }

    /// Takes a token at `now`, or says how long until one is there.
    pub fn try_take(&mut self, now: Instant) -> std::result::Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = self.last.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - self.tokens) / self.per_second;
        // At least a millisecond, so a caller that sleeps and retries progresses.
        Err(Duration::from_secs_f64(wait).max(Duration::from_millis(1)))
    }
}

/// One app's pace: its bucket, its cap on jobs in flight, and the time before
/// which the target said not to call (`Retry-After` on a rate limit).
#[derive(Debug)]
pub struct Pace {
    limits: Limits,
    bucket: Option<Mutex<TokenBucket>>,
    slots: Arc<Semaphore>,
    not_before: Mutex<Option<Instant>>,
}

impl Pace {
    /// A pace with these limits, its bucket full.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            bucket: limits.bucket.map(|(per_minute, burst)| {
                Mutex::new(TokenBucket::new(per_minute, burst, Instant::now()))
            }),
            slots: Arc::new(Semaphore::new(limits.concurrency as usize)),
            not_before: Mutex::new(None),
        }
    }

    /// The limits it keeps.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// A slot for one job; held for the whole job.
    pub async fn slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().acquire_owned().await.ok()
    }

    /// Waits for a token (no wait without a bucket).
    pub async fn token(&self) {
        let Some(bucket) = &self.bucket else {
            return;
        };
        loop {
            let wait = {
                let mut bucket = bucket.lock().unwrap_or_else(|e| e.into_inner());
                match bucket.try_take(Instant::now()) {
                    Ok(()) => return,
                    Err(wait) => wait,
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// How long the target still wants to be left alone, if it said so.
    pub fn held_for(&self) -> Option<Duration> {
        let not_before = *self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        not_before
            .map(|t| t.saturating_duration_since(Instant::now()))
            .filter(|d| !d.is_zero())
    }

    /// The target said not before `now + wait`.
    pub fn hold(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut not_before = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        *not_before = Some(not_before.map_or(until, |t| t.max(until)));
    }
}

/// A connector paced by an app's [`Pace`]: every call waits for a token, none goes
/// out while the target's `Retry-After` runs (such a call fails at once as rate
/// limited, without a request), and a rate-limited answer starts that wait for
/// every job of the app.
#[derive(Debug, Clone)]
pub struct PacedConnector {
    inner: Arc<dyn Connector>,
    pace: Arc<Pace>,
}

impl PacedConnector {
    /// `inner` under `pace`.
    pub fn new(inner: Arc<dyn Connector>, pace: Arc<Pace>) -> Self {
        Self { inner, pace }
    }

    async fn before(&self) -> Result<()> {
        if let Some(wait) = self.pace.held_for() {
            return Err(ConnectorError::rate_limited(
                wait,
                "the app asked usher to slow down; waiting for its Retry-After",
            ));
        }
        self.pace.token().await;
        Ok(())
    }

    fn after<T>(&self, answer: Result<T>) -> Result<T> {
        if let Err(e) = &answer
            && let ErrorKind::RateLimited { retry_after } = e.kind()
        {
            self.pace.hold(*retry_after);
        }
        answer
    }
}

#[async_trait]
impl Connector for PacedConnector {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn test_connection(&self) -> Result<()> {
        self.before().await?;
        let answer = self.inner.test_connection().await;
        self.after(answer)
    }

    async fn create_user(&self, user: &UserRecord) -> Result<RemoteId> {
        self.before().await?;
        let answer = self.inner.create_user(user).await;
        self.after(answer)
    }

    async fn update_user(
        &self,
        id: &RemoteId,
        desired: &UserRecord,
        last_pushed: Option<&UserRecord>,
    ) -> Result<()> {
        self.before().await?;
        let answer = self.inner.update_user(id, desired, last_pushed).await;
        self.after(answer)
    }

    async fn deactivate_user(&self, id: &RemoteId) -> Result<()> {
        self.before().await?;
        let answer = self.inner.deactivate_user(id).await;
        self.after(answer)
    }

    async fn reactivate_user(&self, id: &RemoteId) -> Result<()> {
        self.before().await?;
        let answer = self.inner.reactivate_user(id).await;
        self.after(answer)
    }

    async fn delete_user(&self, id: &RemoteId) -> Result<()> {
        self.before().await?;
        let answer = self.inner.delete_user(id).await;
        self.after(answer)
    }

    async fn find_user(&self, keys: &MatchKeys, user: &UserRecord) -> Result<Option<RemoteUser>> {
        self.before().await?;
        let answer = self.inner.find_user(keys, user).await;
        self.after(answer)
    }

    async fn list_users(&self, page: &PageRequest) -> Result<Page<RemoteUser>> {
        self.before().await?;
        let answer = self.inner.list_users(page).await;
        self.after(answer)
    }

    async fn create_group(&self, group: &GroupRecord, members: &[RemoteId]) -> Result<RemoteId> {
        self.before().await?;
        let answer = self.inner.create_group(group, members).await;
        self.after(answer)
    }

    async fn update_group(
        &self,
        id: &RemoteId,
        desired: &GroupRecord,
        last_pushed: Option<&GroupRecord>,
    ) -> Result<()> {
        self.before().await?;
        let answer = self.inner.update_group(id, desired, last_pushed).await;
        self.after(answer)
    }

    async fn delete_group(&self, id: &RemoteId) -> Result<()> {
        self.before().await?;
        let answer = self.inner.delete_group(id).await;
        self.after(answer)
    }

    async fn find_group(&self, group: &GroupRecord) -> Result<Option<RemoteGroup>> {
        self.before().await?;
        let answer = self.inner.find_group(group).await;
        self.after(answer)
    }

    async fn list_groups(&self, page: &PageRequest) -> Result<Page<RemoteGroup>> {
        self.before().await?;
        let answer = self.inner.list_groups(page).await;
        self.after(answer)
    }

    async fn add_members(&self, group: &RemoteId, members: &[RemoteId]) -> Result<()> {
        self.before().await?;
        let answer = self.inner.add_members(group, members).await;
        self.after(answer)
    }

    async fn remove_members(&self, group: &RemoteId, members: &[RemoteId]) -> Result<()> {
        self.before().await?;
        let answer = self.inner.remove_members(group, members).await;
        self.after(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn a_full_bucket_gives_its_burst_then_paces() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(60, 3, t0);
        for _ in 0..3 {
            assert!(b.try_take(t0).is_ok());
        }
        let wait = b.try_take(t0).unwrap_err();
        assert!(wait > secs(0.99) && wait <= secs(1.0), "{wait:?}");
        assert!(b.try_take(t0 + secs(0.5)).is_err());
        assert!(b.try_take(t0 + secs(1.0)).is_ok());
        assert!(b.try_take(t0 + secs(1.0)).is_err());
    }

    #[test]
    fn a_quiet_spell_refills_only_up_to_the_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(600, 2, t0);
        assert!(b.try_take(t0).is_ok());
        assert!(b.try_take(t0).is_ok());
        let later = t0 + secs(3600.0);
        assert!(b.try_take(later).is_ok());
        assert!(b.try_take(later).is_ok());
        assert!(
            b.try_take(later).is_err(),
            "two tokens at most after an hour"
        );
    }

    #[test]
    fn over_a_minute_the_rate_is_per_minute_plus_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(120, 10, t0);
        let mut taken = 0;
        for ms in 0..60_000u64 {
            if b.try_take(t0 + Duration::from_millis(ms)).is_ok() {
                taken += 1;
            }
        }
        assert!((129..=131).contains(&taken), "{taken}");
    }

    #[test]
    fn limits_prefer_the_app_then_the_connector_then_none() {
        let mut settings: ProvisioningSettings =
            serde_json::from_value(serde_json::json!({"connector": "scim"})).unwrap();
        let plain = Capabilities::default();
        assert_eq!(
            Limits::for_app(&settings, &plain),
            Limits {
                bucket: None,
                concurrency: DEFAULT_CONCURRENCY
            }
        );
        let slack = plain.with_rate_limit(usher_connector::RateLimit::new(20, 5, 2));
        assert_eq!(
            Limits::for_app(&settings, &slack),
            Limits {
                bucket: Some((20, 5)),
                concurrency: 2
            }
        );
        settings.rate_limit = Some(usher_core::outbound::RateLimit {
            per_minute: 600,
            burst: 50,
            concurrency: 4,
        });
        assert_eq!(
            Limits::for_app(&settings, &slack),
            Limits {
                bucket: Some((600, 50)),
                concurrency: 4
            }
        );
    }

    #[tokio::test]
    async fn a_hold_stops_calls_without_a_request() {
        let pace = Pace::new(Limits {
            bucket: None,
            concurrency: 1,
        });
        assert!(pace.held_for().is_none());
        pace.hold(Duration::from_secs(5));
        let held = pace.held_for().unwrap();
        assert!(held > Duration::from_secs(4) && held <= Duration::from_secs(5));
        // A shorter hold never shortens a longer one.
        pace.hold(Duration::from_secs(1));
        assert!(pace.held_for().unwrap() > Duration::from_secs(4));
    }
}
