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

/// The ephemeral store in process memory, with TTLs and two bounds: the number of
/// entries and the bytes they hold.
///
/// # When full, new keys are refused, nothing live is evicted
///
/// When `max_entries` keys are held, expired entries are reclaimed first; if every
/// entry is still live, a write that would add a key fails with
/// [`Error::Unavailable`] (overwriting, taking, deleting and incrementing existing keys
/// keep working). The byte bound works the same way: `max_bytes` caps the keys and
/// values held (set members count as their bytes), and a write that would take the
/// total above it is refused, a new key or a larger value for an existing one alike,
/// while writes that hold no more bytes than before keep working. The count bound
/// alone let a flood of large values (each up to [`super::MAX_VALUE_BYTES`]) take
/// far more memory than the count suggests (issue 10, defect 4); the byte bound
/// alone would let a flood of tiny entries grow the per-entry overhead (maps,
/// expiry index) that it does not count. Evicting instead would be fail-open: this store holds the assertion
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
    limits: Limits,
    clock: Arc<dyn Clock>,
}

/// The two bounds of the store.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_entries: usize,
    max_bytes: usize,
}

impl MemoryEphemeralStore {
    /// The bound used by [`Default`]: with typical values of a few KiB, a few hundred
    /// MiB at most, and far more concurrent logins than one instance serves.
    pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

    /// The byte bound of [`new`](Self::new) and [`Default`]: 256 MiB of keys and
    /// values. Legitimate entries average about 1 KiB (a session, a parked login),
    /// so a store full of them by count holds about 100 MiB and never meets this
    /// bound; only values far above the usual size (a flood of large ones) do.
    pub const DEFAULT_MAX_BYTES: usize = 256 * 1024 * 1024;

    /// A store holding at most `max_entries` keys (and [`Self::DEFAULT_MAX_BYTES`]),
    /// on the system clock.
    pub fn new(max_entries: usize) -> Self {
        Self::with_clock(max_entries, Arc::new(SystemClock))
    }

    /// A store holding at most `max_entries` keys (and [`Self::DEFAULT_MAX_BYTES`]),
    /// reading the time from `clock` (tests expire entries by advancing a
    /// [`usher_core::ports::ManualClock`]).
    pub fn with_clock(max_entries: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            limits: Limits {
                max_entries,
                max_bytes: Self::DEFAULT_MAX_BYTES,
            },
            clock,
        }
    }

    /// The same store holding at most `max_bytes` bytes of keys and values.
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.limits.max_bytes = max_bytes;
        self
    }

    /// The configured bound on the number of keys.
    pub fn max_entries(&self) -> usize {
        self.limits.max_entries
    }

    /// The configured bound on the bytes of keys and values.
    pub fn max_bytes(&self) -> usize {
        self.limits.max_bytes
    }

    /// The bytes of keys and values held by live entries (for metrics). Drops
    /// expired entries first.
    pub fn bytes(&self) -> usize {
        let now = self.clock.now();
        let mut inner = self.lock();
        inner.purge_expired(now);
        inner.bytes
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
        let inner = self.lock();
        f.debug_struct("MemoryEphemeralStore")
            .field("entries", &inner.entries.len())
            .field("bytes", &inner.bytes)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// What a key holds: a plain value (`put`, `increment`) or a set (`add_to_set`), never
/// both, as in Redis.
enum Data {
    Value(Vec<u8>),
    Set(HashSet<String>),
}

impl Data {
    /// The bytes this data counts toward `max_bytes`.
    fn size(&self) -> usize {
        match self {
            Data::Value(v) => v.len(),
            Data::Set(members) => members.iter().map(String::len).sum(),
        }
    }
}

/// One stored value.
struct Entry {
    data: Data,
    expires_at: OffsetDateTime,
    /// Tie-breaker in the expiry index, unique per insertion.
    seq: u64,
    /// Key plus data bytes, as counted in [`Inner::bytes`].
    size: usize,
}

/// Which bound a refused write met.
#[derive(Debug, Clone, Copy)]
enum Bound {
    Entries,
    Bytes,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Arc<str>, Entry>,
    /// Every entry, ordered by expiry: the front is what expires next.
    by_expiry: BTreeMap<(OffsetDateTime, u64), Arc<str>>,
    next_seq: u64,
    /// The sum of every entry's `size`.
    bytes: usize,
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
            if self.entries.get(&key).is_some_and(|live| live.seq == seq)
                && let Some(gone) = self.entries.remove(&key)
            {
                self.bytes -= gone.size;
            }
        }
    }

    /// Removes `key` and returns its entry if it is live at `now`.
    fn remove_live(&mut self, key: &str, now: OffsetDateTime) -> Option<Entry> {
        let entry = self.entries.remove(key)?;
        self.by_expiry.remove(&(entry.expires_at, entry.seq));
        self.bytes -= entry.size;
        (entry.expires_at > now).then_some(entry)
    }

    /// Stores a value, replacing any previous one. Adding a key to a store holding
    /// `max_entries` keys, or any write that would take the bytes held above
    /// `max_bytes`, fails (see the type's documentation for why), so callers purge
    /// expired entries first: then everything counted is live.
    fn insert(
        &mut self,
        key: &str,
        data: Data,
        expires_at: OffsetDateTime,
        limits: Limits,
    ) -> Result<()> {
        let size = key.len() + data.size();
        let existing = self
            .entries
            .get_key_value(key)
            .map(|(k, e)| (k.clone(), e.size, e.expires_at, e.seq));
        let freed = existing.as_ref().map_or(0, |e| e.1);
        if existing.is_none() && self.entries.len() >= limits.max_entries {
            return Err(self.refuse(Bound::Entries, limits));
        }
        if (self.bytes - freed).saturating_add(size) > limits.max_bytes {
            return Err(self.refuse(Bound::Bytes, limits));
        }
        let key: Arc<str> = match existing {
            Some((existing, _, old_expiry, old_seq)) => {
                self.by_expiry.remove(&(old_expiry, old_seq));
                existing
            }
            None => {
                self.warned_full = false;
                Arc::from(key)
            }
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_expiry.insert((expires_at, seq), key.clone());
        self.bytes = self.bytes - freed + size;
        self.entries.insert(
            key,
            Entry {
                data,
                expires_at,
                seq,
                size,
            },
        );
        Ok(())
    }

    /// Checks that `more` bytes still fit (a member added to a set).
    fn check_growth(&mut self, more: usize, limits: Limits) -> Result<()> {
        if self.bytes.saturating_add(more) > limits.max_bytes {
            return Err(self.refuse(Bound::Bytes, limits));
        }
        Ok(())
    }

    /// The error for a write refused at a bound, warning once per episode so a
    /// flood of refused writes logs once, not once per request.
    fn refuse(&mut self, bound: Bound, limits: Limits) -> Error {
        if !self.warned_full {
            self.warned_full = true;
            tracing::warn!(
                max_entries = limits.max_entries,
                max_bytes = limits.max_bytes,
                entries = self.entries.len(),
                bytes = self.bytes,
                ?bound,
                "in-memory ephemeral store is full of live entries; refusing new keys until \
                 some expire (raise ephemeral.max_entries or ephemeral.max_bytes, or configure \
                 Redis)"
            );
        }
        Error::Unavailable(match bound {
            Bound::Entries => format!(
                "ephemeral store full ({} live entries); retry later",
                limits.max_entries
            ),
            Bound::Bytes => format!(
                "ephemeral store full ({} bytes of live entries); retry later",
                limits.max_bytes
            ),
        })
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
        inner.insert(key, Data::Value(value.to_vec()), expires_at, self.limits)
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
        inner.insert(key, Data::Value(value.to_vec()), expires_at, self.limits)?;
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
        inner.insert(key, value, expires_at, self.limits)?;
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
        let Some(entry) = inner.entries.get(key) else {
            let members = HashSet::from([member.to_owned()]);
            return inner.insert(key, Data::Set(members), expires_at, self.limits);
        };
        let Data::Set(members) = &entry.data else {
            return Err(wrong_kind());
        };
        let adds = !members.contains(member);
        let extends = expires_at > entry.expires_at;
        if adds {
            if members.len() >= MAX_SET_MEMBERS {
                return Err(set_full());
            }
            inner.check_growth(member.len(), self.limits)?;
            if let Some(entry) = inner.entries.get_mut(key)
                && let Data::Set(members) = &mut entry.data
            {
                members.insert(member.to_owned());
                entry.size += member.len();
                inner.bytes += member.len();
            }
        }
        // The TTL only grows, so the index outlives everything it names.
        if extends {
            inner.set_expiry(key, expires_at);
        }
        Ok(())
    }

    async fn remove_from_set(&self, key: &str, member: &str) -> Result<bool> {
        check_key(key)?;
        check_member(member)?;
        let now = self.clock.now();
        let mut guard = self.lock();
        let inner = &mut *guard;
        inner.purge_expired(now);
        let Some(entry) = inner.entries.get_mut(key) else {
            return Ok(false);
        };
        let Data::Set(members) = &mut entry.data else {
            return Err(wrong_kind());
        };
        let removed = members.remove(member);
        let empty = members.is_empty();
        if removed {
            entry.size -= member.len();
            inner.bytes -= member.len();
        }
        // An empty set is no set, as in Redis: the key goes and frees its slot.
        if empty {
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
