//! The in-process ephemeral store: the default when no Redis is configured, right for a
//! single instance.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;
use usher_core::ports::{Clock, EphemeralStore, SystemClock};
use usher_core::{Error, Result};

use super::{
    MAX_SET_MEMBERS, check_key, check_member, check_write, set_full, ttl_millis, wrong_kind,
};

/// The ephemeral store in process memory, with TTLs and a bound on the number of
/// entries.
///
/// # When full, new keys are refused, nothing live is evicted
///
/// When `max_entries` keys are held, expired entries are reclaimed first; if every
/// entry is still live, a write that would add a key fails with
/// [`Error::Unavailable`] (overwriting, taking, deleting and incrementing existing keys
/// keep working). Evicting instead would be fail-open: this store holds the assertion
/// replay cache and the rate-limit counters as well as sessions, so anyone able to
/// create entries cheaply (every unauthenticated `/authorize` stores a pending login)
/// could flush replay-cache entries and replay a SAML assertion, reset their own
/// rate-limit window, or log other people out, silently. Refusing is fail-closed and
/// loud: new logins get a retryable error until entries expire, nothing already
/// granted is lost, and a warning is logged. It is also how Redis behaves with
/// `maxmemory-policy noeviction`, the policy usher's Redis should run with, so both
/// backends fail the same way.
///
/// # Expiry without a background task
///
/// Entries are indexed by expiry time. Every write first drops the entries that have
/// expired, in `O(expired * log n)`, so expired entries never accumulate and a full
/// store never needs a linear scan; reads also treat (and drop) an expired entry as
/// absent.
///
/// # Concurrency
///
/// One mutex guards the map and its expiry index, held for `O(log n)` work and never
/// across an await, so every operation is atomic with respect to the others (two
/// concurrent `take`s: exactly one gets the value). A single lock rather than shards
/// keeps `max_entries` an exact bound; the critical sections are short enough that it
/// is not the bottleneck of a login.
///
/// Counters made by `increment` are stored as ASCII decimal, like Redis stores them,
/// so `get` on a counter returns the same bytes on both backends.
///
/// # Sets
///
/// A set (`add_to_set`) is one entry, counted once toward `max_entries` whatever its
/// number of members (at most [`super::MAX_SET_MEMBERS`]). Its expiry only grows, and
/// removing its last member removes the entry, as Redis removes an empty set.
pub struct MemoryEphemeralStore {
    inner: Mutex<Inner>,
    max_entries: usize,
    clock: Arc<dyn Clock>,
}

impl MemoryEphemeralStore {
    /// The bound used by [`Default`]: with typical values of a few KiB, a few hundred
    /// MiB at most, and far more concurrent logins than one instance serves.
    pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

    /// A store holding at most `max_entries` keys, on the system clock.
    pub fn new(max_entries: usize) -> Self {
        Self::with_clock(max_entries, Arc::new(SystemClock))
    }

    /// A store holding at most `max_entries` keys, reading the time from `clock` (tests
    /// expire entries by advancing a [`usher_core::ports::ManualClock`]).
    pub fn with_clock(max_entries: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            max_entries,
            clock,
        }
    }

    /// The configured bound on the number of keys.
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// The number of live keys (for metrics). Drops expired entries first.
    pub fn len(&self) -> usize {
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.purge_expired(now);
        inner.entries.len()
    }

    /// True when no live key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map unusable: at worst the
        // expiry index names a key that is gone (skipped when purged) or misses one
        // (dropped lazily when read), so carrying on beats failing every request.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `now + ttl`, with the TTL rounded to milliseconds as Redis does.
    fn expiry(&self, now: OffsetDateTime, ttl: Duration) -> Result<OffsetDateTime> {
        let millis = ttl_millis(ttl)?;
        let millis =
            i64::try_from(millis).map_err(|_| Error::Internal("TTL out of range".into()))?;
        now.checked_add(time::Duration::milliseconds(millis))
            .ok_or_else(|| Error::Internal("expiry time out of range".into()))
    }
}

impl Default for MemoryEphemeralStore {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_ENTRIES)
    }
}

impl fmt::Debug for MemoryEphemeralStore {
    // Values are sessions and codes: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryEphemeralStore")
            .field("entries", &self.lock().entries.len())
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}

/// What a key holds: a plain value (`put`, `increment`) or a set (`add_to_set`), never
/// both, as in Redis.
enum Data {
    Value(Vec<u8>),
    Set(HashSet<String>),
}

/// One stored value.
struct Entry {
    data: Data,
    expires_at: OffsetDateTime,
    /// Tie-breaker in the expiry index, unique per insertion.
    seq: u64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Arc<str>, Entry>,
    /// Every entry, ordered by expiry: the front is what expires next.
    by_expiry: BTreeMap<(OffsetDateTime, u64), Arc<str>>,
    next_seq: u64,
    /// Whether the "store full" warning was logged since the last successful
    /// insertion, so a flood of refused writes logs once, not once per request.
    warned_full: bool,
}

impl Inner {
    /// Drops every entry that has expired at `now`.
    fn purge_expired(&mut self, now: OffsetDateTime) {
        while let Some(entry) = self.by_expiry.first_entry() {
            // Expired at the instant of expiry, as in Redis.
            let (expires_at, seq) = *entry.key();
            if expires_at > now {
                break;
            }
            let key = entry.remove();
            // The index and the map always agree; checking the sequence number anyway
            // means a stale index entry could never drop a newer value.
            if self.entries.get(&key).is_some_and(|live| live.seq == seq) {
                self.entries.remove(&key);
            }
        }
    }

    /// Removes `key` and returns its entry if it is live at `now`.
    fn remove_live(&mut self, key: &str, now: OffsetDateTime) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.by_expiry.remove(&(entry.expires_at, entry.seq));
        (entry.expires_at > now).then_some(entry)
    }

    /// Stores a value, replacing any previous one. Adding a key to a store holding
    /// `max_entries` keys fails (see the type's documentation for why), so callers
    /// purge expired entries first: then every key counted is live.
    fn insert(
        &mut self,
        key: &str,
        data: Data,
        expires_at: OffsetDateTime,
        max_entries: usize,
    ) -> Result<()> {
        let key: Arc<str> = match self.entries.get_key_value(key) {
            Some((existing, entry)) => {
                let existing = existing.clone();
                self.by_expiry.remove(&(entry.expires_at, entry.seq));
                existing
            }
            None => {
                if self.entries.len() >= max_entries {
                    if !self.warned_full {
                        self.warned_full = true;
                        tracing::warn!(
                            max_entries,
                            "in-memory ephemeral store is full of live entries; refusing \
                             new keys until some expire (raise the bound or configure Redis)"
                        );
                    }
                    return Err(Error::Unavailable(format!(
                        "ephemeral store full ({max_entries} live entries); retry later"
                    )));
                }
                self.warned_full = false;
                Arc::from(key)
            }
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_expiry.insert((expires_at, seq), key.clone());
        self.entries.insert(
            key,
            Entry {
                data,
                expires_at,
                seq,
            },
        );
        Ok(())
    }

    /// Moves a live entry's expiry to `expires_at`, keeping its index entry in step.
    fn set_expiry(&mut self, key: &str, expires_at: OffsetDateTime) {
        let Some(entry) = self.entries.get_mut(key) else {
            return;
        };
        let (old, seq) = (entry.expires_at, entry.seq);
        entry.expires_at = expires_at;
        // The sequence number stays unique: it is still this entry's only index slot.
        if let Some(indexed) = self.by_expiry.remove(&(old, seq)) {
            self.by_expiry.insert((expires_at, seq), indexed);
        }
    }
}

/// Parses a counter stored as ASCII decimal, as Redis `INCR` does.
fn parse_counter(value: &[u8]) -> Result<i64> {
    std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| Error::Invalid("ephemeral store value is not a counter".into()))
}

#[async_trait]
impl EphemeralStore for MemoryEphemeralStore {
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<()> {
        check_write(key, value, ttl)?;
        let now = self.clock.now();
        let expires_at = self.expiry(now, ttl)?;
        let mut inner = self.lock();
        inner.purge_expired(now);
        // Replaces a set too, as Redis `SET` does.
        inner.insert(
            key,
            Data::Value(value.to_vec()),
            expires_at,
            self.max_entries,
        )
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        let now = self.clock.now();
        let mut inner = self.lock();
        match inner.entries.get(key) {
            Some(entry) if entry.expires_at > now => match &entry.data {
                Data::Value(value) => Ok(Some(value.clone())),
                Data::Set(_) => Err(wrong_kind()),
            },
            Some(_) => {
                inner.remove_live(key, now);
                Ok(None)
            }
            None => Ok(None),
        }
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        let now = self.clock.now();
        let mut inner = self.lock();
        if inner
            .entries
            .get(key)
            .is_some_and(|entry| entry.expires_at > now && matches!(entry.data, Data::Set(_)))
        {
            return Err(wrong_kind());
        }
        match inner.remove_live(key, now) {
            Some(Entry {
                data: Data::Value(value),
                ..
            }) => Ok(Some(value)),
            // Expired (a live set was refused above).
            _ => Ok(None),
        }
    }

    async fn put_if_absent(&self, key: &str, value: &[u8], ttl: Duration) -> Result<bool> {
        check_write(key, value, ttl)?;
        let now = self.clock.now();
        let expires_at = self.expiry(now, ttl)?;
        let mut inner = self.lock();
        // After the purge, whatever is present is live.
        inner.purge_expired(now);
        if inner.entries.contains_key(key) {
            return Ok(false);
        }
        inner.insert(
            key,
            Data::Value(value.to_vec()),
            expires_at,
            self.max_entries,
        )?;
        Ok(true)
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<u64> {
        check_key(key)?;
        let now = self.clock.now();
        let fresh_expiry = self.expiry(now, ttl)?;
        let mut inner = self.lock();
        inner.purge_expired(now);
        let (count, expires_at) = match inner.entries.get(key) {
            Some(entry) => {
                let Data::Value(value) = &entry.data else {
                    return Err(wrong_kind());
                };
                let count = parse_counter(value)?
                    .checked_add(1)
                    .ok_or_else(|| Error::Invalid("ephemeral store counter overflow".into()))?;
                // Same rule as the Redis script: the TTL is set when the count becomes
                // 1 and never extended, which makes the window fixed.
                let expires_at = if count == 1 {
                    fresh_expiry
                } else {
                    entry.expires_at
                };
                (count, expires_at)
            }
            None => (1, fresh_expiry),
        };
        let count = u64::try_from(count)
            .map_err(|_| Error::Invalid("ephemeral store counter is negative".into()))?;
        let value = Data::Value(count.to_string().into_bytes());
        inner.insert(key, value, expires_at, self.max_entries)?;
        Ok(count)
    }

    async fn add_to_set(&self, key: &str, member: &str, ttl: Duration) -> Result<()> {
        check_key(key)?;
        check_member(member)?;
        let now = self.clock.now();
        let expires_at = self.expiry(now, ttl)?;
        let mut inner = self.lock();
        // After the purge, whatever is present is live.
        inner.purge_expired(now);
        let Some(entry) = inner.entries.get_mut(key) else {
            let members = HashSet::from([member.to_owned()]);
            return inner.insert(key, Data::Set(members), expires_at, self.max_entries);
        };
        let Data::Set(members) = &mut entry.data else {
            return Err(wrong_kind());
        };
        if !members.contains(member) {
            if members.len() >= MAX_SET_MEMBERS {
                return Err(set_full());
            }
            members.insert(member.to_owned());
        }
        // The TTL only grows, so the index outlives everything it names.
        if expires_at > entry.expires_at {
            inner.set_expiry(key, expires_at);
        }
        Ok(())
    }

    async fn remove_from_set(&self, key: &str, member: &str) -> Result<bool> {
        check_key(key)?;
        check_member(member)?;
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.purge_expired(now);
        let Some(entry) = inner.entries.get_mut(key) else {
            return Ok(false);
        };
        let Data::Set(members) = &mut entry.data else {
            return Err(wrong_kind());
        };
        let removed = members.remove(member);
        // An empty set is no set, as in Redis: the key goes and frees its slot.
        if members.is_empty() {
            inner.remove_live(key, now);
        }
        Ok(removed)
    }

    async fn set_members(&self, key: &str) -> Result<Vec<String>> {
        check_key(key)?;
        let now = self.clock.now();
        let mut inner = self.lock();
        match inner.entries.get(key) {
            Some(entry) if entry.expires_at > now => match &entry.data {
                Data::Set(members) => Ok(members.iter().cloned().collect()),
                Data::Value(_) => Err(wrong_kind()),
            },
            Some(_) => {
                inner.remove_live(key, now);
                Ok(Vec::new())
            }
            None => Ok(Vec::new()),
        }
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        check_key(key)?;
        let now = self.clock.now();
        Ok(self.lock().remove_live(key, now).is_some())
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}
