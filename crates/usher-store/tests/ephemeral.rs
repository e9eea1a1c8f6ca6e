//! The ephemeral store conformance suite: every test function below runs on the
//! memory store (time moved by a `ManualClock`) and on Redis (real, short TTLs), so
//! both backends are held to the same contract.
//!
//! Redis runs when `USHER_TEST_REDIS_URL` is set (for example
//! `redis://127.0.0.1:6379/0`). Each test uses its own key prefix and deletes its keys
//! when it ends, even on failure. With the variable unset the Redis tests say so on
//! stderr and pass, unless `USHER_TEST_REQUIRE_SERVICES=1` (CI), where they fail.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::Barrier;
use usher_core::Error;
use usher_core::ports::{EphemeralStore, ManualClock};
use usher_store::{MemoryEphemeralStore, RedisEphemeralStore};

/// Same limits as the stores document.
const MAX_KEY: usize = 1024;
const MAX_VALUE: usize = 1024 * 1024;
/// TTL for values that must outlive the test; short so a crashed run leaves nothing
/// behind for long.
const LONG: Duration = Duration::from_secs(60);
/// TTL for values a test lets expire. On Redis this is real time: long enough that a
/// loaded 2-core machine does not expire a value before the "still there" check.
const SHORT: Duration = Duration::from_millis(300);
/// Concurrent tasks in the race tests.
const RACERS: usize = 50;
/// Longest set member and most members per set, as the stores document.
const MAX_MEMBER: usize = 1024;
const MAX_SET_MEMBERS: usize = 10_000;

/// How a test lets time pass on its backend.
enum Time {
    Manual(Arc<ManualClock>),
    Real,
}

impl Time {
    async fn pass(&self, by: Duration) {
        match self {
            Time::Manual(clock) => {
                clock.advance(time::Duration::try_from(by).expect("test durations are small"))
            }
            Time::Real => tokio::time::sleep(by).await,
        }
    }
}

fn memory_backend() -> (Arc<dyn EphemeralStore>, Time) {
    let clock = Arc::new(ManualClock::at(OffsetDateTime::UNIX_EPOCH));
    let store = MemoryEphemeralStore::with_clock(10_000, clock.clone());
    (Arc::new(store), Time::Manual(clock))
}

/// The Redis URL, or `None` (after saying so) when the suite should skip.
fn redis_url() -> Option<String> {
    match std::env::var("USHER_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("USHER_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "USHER_TEST_REQUIRE_SERVICES=1 but USHER_TEST_REDIS_URL is not set"
            );
            eprintln!("SKIPPED: Redis suite (set USHER_TEST_REDIS_URL)");
            None
        }
    }
}

/// A fresh key prefix per test, so parallel tests and runs never see each other.
fn test_prefix() -> String {
    format!("usher_test_{}:", uuid::Uuid::new_v4().simple())
}

/// Deletes every key under a test's prefix when dropped, including when the test
/// panics. Synchronous on purpose: `Drop` cannot await.
struct Cleanup {
    url: String,
    prefix: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Ok(client) = ::redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection() else {
            return;
        };
        let pattern = format!("{}*", self.prefix);
        let keys: Vec<Vec<u8>> = ::redis::cmd("KEYS")
            .arg(&pattern)
            .query(&mut conn)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: ::redis::RedisResult<u64> = ::redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}

async fn redis_store(url: &str, prefix: &str) -> Arc<dyn EphemeralStore> {
    Arc::new(
        RedisEphemeralStore::connect(url, prefix)
            .await
            .expect("USHER_TEST_REDIS_URL must point at a running Redis"),
    )
}

/// Stamps out `memory::<name>` and `redis::<name>` tests from one
/// `async fn <name>(store: Arc<dyn EphemeralStore>, time: Time)`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, time) = super::memory_backend();
                    super::$name(store, time).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(url) = super::redis_url() else { return };
                    let prefix = super::test_prefix();
                    let _cleanup = super::Cleanup { url: url.clone(), prefix: prefix.clone() };
                    let store = super::redis_store(&url, &prefix).await;
                    super::$name(store, super::Time::Real).await;
                }
            )*
        }
    };
}

conformance!(
    put_get_overwrite,
    values_expire_after_their_ttl,
    take_is_single_use,
    concurrent_takes_yield_the_value_once,
    put_if_absent_has_one_winner_under_concurrency,
    put_if_absent_succeeds_after_expiry,
    increment_counts_in_a_fixed_window,
    concurrent_increments_are_not_lost,
    increment_refuses_a_non_counter,
    delete_reports_what_it_removed,
    oversized_key_or_value_is_refused_and_nothing_stored,
    empty_key_is_refused,
    zero_ttl_is_refused_and_sub_millisecond_ttl_accepted,
    absurd_ttl_is_refused,
    binary_values_round_trip,
    ping_answers,
    sets_add_list_remove,
    set_add_is_idempotent,
    set_ttl_only_grows,
    sets_expire_as_a_whole,
    removing_the_last_member_removes_the_key,
    odd_members_round_trip,
    bad_member_key_or_ttl_is_refused_and_nothing_stored,
    sets_hold_a_bounded_number_of_members,
    sets_and_values_do_not_mix,
    concurrent_set_adds_all_land,
);

fn assert_invalid<T: std::fmt::Debug>(result: usher_core::Result<T>, what: &str) {
    match result {
        Err(Error::Invalid(_)) => {}
        other => panic!("{what}: expected Error::Invalid, got {other:?}"),
    }
}

/// The error for a set used as a value or the other way round: the same message on
/// both backends (Redis says `WRONGTYPE`).
fn assert_wrong_kind<T: std::fmt::Debug>(result: usher_core::Result<T>, what: &str) {
    match result {
        Err(Error::Invalid(message)) if message == "key holds another kind of value" => {}
        other => panic!("{what}: expected the wrong-kind Error::Invalid, got {other:?}"),
    }
}

/// A set's members, sorted (sets have no order).
async fn members(store: &dyn EphemeralStore, key: &str) -> Vec<String> {
    let mut members = store.set_members(key).await.expect("set_members");
    members.sort();
    members
}

fn strings(items: &[&str]) -> Vec<String> {
    let mut items: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
    items.sort();
    items
}

async fn put_get_overwrite(store: Arc<dyn EphemeralStore>, _time: Time) {
    assert_eq!(store.get("session:a").await.expect("get"), None);
    store.put("session:a", b"one", LONG).await.expect("put");
    assert_eq!(
        store.get("session:a").await.expect("get"),
        Some(b"one".to_vec())
    );
    // Reading does not consume.
    assert_eq!(
        store.get("session:a").await.expect("get"),
        Some(b"one".to_vec())
    );
    store
        .put("session:a", b"two", LONG)
        .await
        .expect("overwrite");
    assert_eq!(
        store.get("session:a").await.expect("get"),
        Some(b"two".to_vec())
    );
    assert_eq!(store.get("session:b").await.expect("get"), None);
}

async fn values_expire_after_their_ttl(store: Arc<dyn EphemeralStore>, time: Time) {
    store.put("pending:short", b"v", SHORT).await.expect("put");
    store.put("pending:long", b"v", LONG).await.expect("put");
    assert!(store.get("pending:short").await.expect("get").is_some());
    time.pass(SHORT + Duration::from_millis(100)).await;
    assert_eq!(store.get("pending:short").await.expect("get"), None);
    assert_eq!(store.take("pending:short").await.expect("take"), None);
    assert!(!store.delete("pending:short").await.expect("delete"));
    assert!(store.get("pending:long").await.expect("get").is_some());
    // Overwriting replaces the TTL too: the value now lives for LONG.
    store.put("pending:long", b"w", SHORT).await.expect("put");
    store.put("pending:long", b"x", LONG).await.expect("put");
    time.pass(SHORT + Duration::from_millis(100)).await;
    assert_eq!(
        store.get("pending:long").await.expect("get"),
        Some(b"x".to_vec())
    );
}

async fn take_is_single_use(store: Arc<dyn EphemeralStore>, _time: Time) {
    store.put("code:x", b"grant", LONG).await.expect("put");
    assert_eq!(
        store.take("code:x").await.expect("take"),
        Some(b"grant".to_vec())
    );
    assert_eq!(store.take("code:x").await.expect("take"), None);
    assert_eq!(store.get("code:x").await.expect("get"), None);
    assert_eq!(store.take("code:never").await.expect("take"), None);
}

/// Authorization-code replay: of many concurrent redemptions exactly one succeeds.
async fn concurrent_takes_yield_the_value_once(store: Arc<dyn EphemeralStore>, _time: Time) {
    for round in 0..5 {
        let key = format!("code:race{round}");
        store.put(&key, b"grant", LONG).await.expect("put");
        let barrier = Arc::new(Barrier::new(RACERS));
        let tasks: Vec<_> = (0..RACERS)
            .map(|_| {
                let (store, barrier, key) = (store.clone(), barrier.clone(), key.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.take(&key).await.expect("take")
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            if let Some(value) = task.await.expect("task") {
                assert_eq!(value, b"grant");
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "round {round}: exactly one take gets the value");
    }
}

/// Assertion replay cache: of many concurrent first sightings exactly one wins, and
/// the stored value is the winner's.
async fn put_if_absent_has_one_winner_under_concurrency(
    store: Arc<dyn EphemeralStore>,
    _time: Time,
) {
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let value = format!("racer{i}");
                let won = store
                    .put_if_absent("replay:assertion-id", value.as_bytes(), LONG)
                    .await
                    .expect("put_if_absent");
                won.then_some(value)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        winners.extend(task.await.expect("task"));
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one put_if_absent wins: {winners:?}"
    );
    let stored = store.get("replay:assertion-id").await.expect("get");
    assert_eq!(stored, Some(winners[0].clone().into_bytes()));
}

async fn put_if_absent_succeeds_after_expiry(store: Arc<dyn EphemeralStore>, time: Time) {
    assert!(
        store
            .put_if_absent("replay:a", b"1", SHORT)
            .await
            .expect("first")
    );
    assert!(
        !store
            .put_if_absent("replay:a", b"2", SHORT)
            .await
            .expect("second")
    );
    assert_eq!(
        store.get("replay:a").await.expect("get"),
        Some(b"1".to_vec())
    );
    time.pass(SHORT + Duration::from_millis(100)).await;
    assert!(
        store
            .put_if_absent("replay:a", b"3", LONG)
            .await
            .expect("after expiry")
    );
    assert_eq!(
        store.get("replay:a").await.expect("get"),
        Some(b"3".to_vec())
    );
}

/// Fixed-window rate limit: the TTL starts with the first hit and later hits do not
/// push it back.
async fn increment_counts_in_a_fixed_window(store: Arc<dyn EphemeralStore>, time: Time) {
    let window = Duration::from_millis(400);
    assert_eq!(store.increment("rate:ip", window).await.expect("incr"), 1);
    assert_eq!(store.increment("rate:ip", window).await.expect("incr"), 2);
    time.pass(Duration::from_millis(200)).await;
    assert_eq!(store.increment("rate:ip", window).await.expect("incr"), 3);
    // 450 ms after the first hit: past the window, though only 250 ms after the last
    // hit (a sliding TTL would still count).
    time.pass(Duration::from_millis(250)).await;
    assert_eq!(store.increment("rate:ip", window).await.expect("incr"), 1);
    assert_eq!(store.increment("rate:ip", window).await.expect("incr"), 2);
    // Counters read back as decimal, the same on both backends.
    assert_eq!(
        store.get("rate:ip").await.expect("get"),
        Some(b"2".to_vec())
    );
    assert_eq!(
        store.increment("rate:other", window).await.expect("incr"),
        1
    );
}

async fn concurrent_increments_are_not_lost(store: Arc<dyn EphemeralStore>, _time: Time) {
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                store.increment("rate:burst", LONG).await.expect("incr")
            })
        })
        .collect();
    let mut seen = BTreeSet::new();
    for task in tasks {
        seen.insert(task.await.expect("task"));
    }
    let expected: BTreeSet<u64> = (1..=RACERS as u64).collect();
    assert_eq!(seen, expected, "every increment returns a distinct count");
}

async fn increment_refuses_a_non_counter(store: Arc<dyn EphemeralStore>, _time: Time) {
    store
        .put("session:s", b"not a number", LONG)
        .await
        .expect("put");
    assert_invalid(
        store.increment("session:s", LONG).await,
        "increment of a non-counter",
    );
    assert_eq!(
        store.get("session:s").await.expect("get"),
        Some(b"not a number".to_vec())
    );
    // A decimal value put by hand counts on from where it is.
    store.put("rate:n", b"41", LONG).await.expect("put");
    assert_eq!(store.increment("rate:n", LONG).await.expect("incr"), 42);
}

async fn delete_reports_what_it_removed(store: Arc<dyn EphemeralStore>, _time: Time) {
    assert!(!store.delete("session:d").await.expect("delete missing"));
    store.put("session:d", b"v", LONG).await.expect("put");
    store.put("session:keep", b"v", LONG).await.expect("put");
    assert!(store.delete("session:d").await.expect("delete"));
    assert_eq!(store.get("session:d").await.expect("get"), None);
    assert!(!store.delete("session:d").await.expect("delete again"));
    assert!(store.get("session:keep").await.expect("get").is_some());
}

async fn oversized_key_or_value_is_refused_and_nothing_stored(
    store: Arc<dyn EphemeralStore>,
    _time: Time,
) {
    let long_key = "k".repeat(MAX_KEY + 1);
    assert_invalid(store.put(&long_key, b"v", LONG).await, "put, long key");
    assert_invalid(
        store.put_if_absent(&long_key, b"v", LONG).await,
        "put_if_absent",
    );
    assert_invalid(
        store.increment(&long_key, LONG).await,
        "increment, long key",
    );
    assert_invalid(store.get(&long_key).await, "get, long key");
    assert_invalid(store.take(&long_key).await, "take, long key");
    assert_invalid(store.delete(&long_key).await, "delete, long key");

    let big = vec![7u8; MAX_VALUE + 1];
    assert_invalid(store.put("blob:big", &big, LONG).await, "put, big value");
    assert_invalid(
        store.put_if_absent("blob:big", &big, LONG).await,
        "put_if_absent",
    );
    assert_eq!(
        store.get("blob:big").await.expect("get"),
        None,
        "nothing stored"
    );
    // A refused overwrite leaves the old value alone.
    store.put("blob:old", b"old", LONG).await.expect("put");
    assert_invalid(
        store.put("blob:old", &big, LONG).await,
        "overwrite, big value",
    );
    assert_eq!(
        store.get("blob:old").await.expect("get"),
        Some(b"old".to_vec())
    );

    // Exactly at the limits is fine.
    let max_key = "k".repeat(MAX_KEY);
    let max_value = vec![9u8; MAX_VALUE];
    store
        .put(&max_key, &max_value, LONG)
        .await
        .expect("put at the limits");
    assert_eq!(store.take(&max_key).await.expect("take"), Some(max_value));
}

async fn empty_key_is_refused(store: Arc<dyn EphemeralStore>, _time: Time) {
    assert_invalid(store.put("", b"v", LONG).await, "put, empty key");
    assert_invalid(store.get("").await, "get, empty key");
    assert_invalid(store.increment("", LONG).await, "increment, empty key");
}

async fn zero_ttl_is_refused_and_sub_millisecond_ttl_accepted(
    store: Arc<dyn EphemeralStore>,
    _time: Time,
) {
    assert_invalid(store.put("ttl:zero", b"v", Duration::ZERO).await, "put");
    assert_invalid(
        store.put_if_absent("ttl:zero", b"v", Duration::ZERO).await,
        "put_if_absent",
    );
    assert_invalid(
        store.increment("ttl:zero", Duration::ZERO).await,
        "increment",
    );
    assert_eq!(
        store.get("ttl:zero").await.expect("get"),
        None,
        "nothing stored"
    );
    // Rounded up to 1 ms rather than refused or turned into "no TTL".
    store
        .put("ttl:tiny", b"v", Duration::from_micros(1))
        .await
        .expect("put, 1 µs");
    assert!(
        store
            .put_if_absent("ttl:tiny2", b"v", Duration::from_nanos(1))
            .await
            .expect("1 ns")
    );
}

async fn absurd_ttl_is_refused(store: Arc<dyn EphemeralStore>, _time: Time) {
    // Beyond a year (a seconds/milliseconds mix-up) and beyond any representable time.
    let years = Duration::from_secs(10 * 365 * 24 * 60 * 60);
    assert_invalid(store.put("ttl:years", b"v", years).await, "put, ten years");
    assert_invalid(
        store.put("ttl:max", b"v", Duration::MAX).await,
        "put, Duration::MAX",
    );
    assert_invalid(
        store.increment("ttl:max", Duration::MAX).await,
        "increment, Duration::MAX",
    );
    assert_eq!(store.get("ttl:years").await.expect("get"), None);
}

async fn binary_values_round_trip(store: Arc<dyn EphemeralStore>, _time: Time) {
    let every_byte: Vec<u8> = (0..=255u8).chain([0, 0, 0xff, 0]).collect();
    store
        .put("blob:bytes", &every_byte, LONG)
        .await
        .expect("put");
    assert_eq!(
        store.get("blob:bytes").await.expect("get"),
        Some(every_byte.clone())
    );
    store.put("blob:empty", b"", LONG).await.expect("put empty");
    assert_eq!(
        store.get("blob:empty").await.expect("get"),
        Some(Vec::new())
    );
    // Keys are opaque strings too: NUL, spaces, glob characters, non-ASCII.
    let odd_key = "sess:\0 *?[]é✓";
    assert!(
        store
            .put_if_absent(odd_key, &every_byte, LONG)
            .await
            .expect("put")
    );
    assert_eq!(store.take(odd_key).await.expect("take"), Some(every_byte));
}

async fn ping_answers(store: Arc<dyn EphemeralStore>, _time: Time) {
    store.ping().await.expect("ping");
}

async fn sets_add_list_remove(store: Arc<dyn EphemeralStore>, _time: Time) {
    let store = &*store;
    assert!(members(store, "user-sessions:u1").await.is_empty());
    for member in ["s1", "s2", "s3"] {
        store
            .add_to_set("user-sessions:u1", member, LONG)
            .await
            .expect("add");
    }
    store
        .add_to_set("user-sessions:u2", "s9", LONG)
        .await
        .expect("add");
    assert_eq!(
        members(store, "user-sessions:u1").await,
        strings(&["s1", "s2", "s3"])
    );
    assert!(
        store
            .remove_from_set("user-sessions:u1", "s2")
            .await
            .expect("remove")
    );
    assert!(
        !store
            .remove_from_set("user-sessions:u1", "s2")
            .await
            .expect("remove again")
    );
    assert!(
        !store
            .remove_from_set("user-sessions:u1", "never")
            .await
            .expect("remove a stranger")
    );
    assert!(
        !store
            .remove_from_set("user-sessions:none", "s1")
            .await
            .expect("remove from a missing set")
    );
    assert_eq!(
        members(store, "user-sessions:u1").await,
        strings(&["s1", "s3"])
    );
    // Sets are independent of each other.
    assert_eq!(members(store, "user-sessions:u2").await, strings(&["s9"]));
    // `delete` removes a whole set.
    assert!(store.delete("user-sessions:u1").await.expect("delete"));
    assert!(members(store, "user-sessions:u1").await.is_empty());
    assert!(
        !store
            .delete("user-sessions:u1")
            .await
            .expect("delete again")
    );
}

async fn set_add_is_idempotent(store: Arc<dyn EphemeralStore>, _time: Time) {
    let store = &*store;
    for _ in 0..3 {
        store
            .add_to_set("families:u", "f1", LONG)
            .await
            .expect("add");
    }
    assert_eq!(members(store, "families:u").await, strings(&["f1"]));
    // One removal undoes any number of adds.
    assert!(
        store
            .remove_from_set("families:u", "f1")
            .await
            .expect("remove")
    );
    assert!(members(store, "families:u").await.is_empty());
}

/// The index must outlive every entry it names: a later add with a shorter TTL never
/// shortens the set's life, a longer one lengthens it.
async fn set_ttl_only_grows(store: Arc<dyn EphemeralStore>, time: Time) {
    let store = &*store;
    store
        .add_to_set("index:long-first", "a", LONG)
        .await
        .expect("add long");
    store
        .add_to_set("index:long-first", "b", SHORT)
        .await
        .expect("add short");
    // Re-adding an existing member with a short TTL does not shorten it either.
    store
        .add_to_set("index:long-first", "a", SHORT)
        .await
        .expect("re-add short");

    store
        .add_to_set("index:short-first", "a", SHORT)
        .await
        .expect("add short");
    store
        .add_to_set("index:short-first", "b", LONG)
        .await
        .expect("add long");

    time.pass(SHORT + Duration::from_millis(100)).await;
    assert_eq!(
        members(store, "index:long-first").await,
        strings(&["a", "b"]),
        "the shorter TTL did not cut the set's life"
    );
    assert_eq!(
        members(store, "index:short-first").await,
        strings(&["a", "b"]),
        "the longer TTL extended the set's life"
    );
}

async fn sets_expire_as_a_whole(store: Arc<dyn EphemeralStore>, time: Time) {
    let store = &*store;
    store
        .add_to_set("index:short", "a", SHORT)
        .await
        .expect("add");
    store
        .add_to_set("index:short", "b", SHORT)
        .await
        .expect("add");
    store
        .add_to_set("index:long", "a", LONG)
        .await
        .expect("add");
    assert_eq!(members(store, "index:short").await.len(), 2);
    time.pass(SHORT + Duration::from_millis(100)).await;
    assert!(members(store, "index:short").await.is_empty());
    assert!(
        !store
            .remove_from_set("index:short", "a")
            .await
            .expect("remove")
    );
    assert!(!store.delete("index:short").await.expect("delete"));
    assert_eq!(members(store, "index:long").await, strings(&["a"]));
    // A set made again after expiry starts empty: the old members are gone for good.
    store
        .add_to_set("index:short", "c", LONG)
        .await
        .expect("add after expiry");
    assert_eq!(members(store, "index:short").await, strings(&["c"]));
}

async fn removing_the_last_member_removes_the_key(store: Arc<dyn EphemeralStore>, _time: Time) {
    let store = &*store;
    store.add_to_set("index:k", "a", LONG).await.expect("add");
    store.add_to_set("index:k", "b", LONG).await.expect("add");
    assert!(store.remove_from_set("index:k", "a").await.expect("remove"));
    assert!(store.remove_from_set("index:k", "b").await.expect("remove"));
    assert!(members(store, "index:k").await.is_empty());
    // Nothing is left at the key: `delete` finds nothing, and the key is free for a
    // plain value.
    assert!(!store.delete("index:k").await.expect("delete"));
    assert!(
        store
            .put_if_absent("index:k", b"v", LONG)
            .await
            .expect("put_if_absent")
    );
    assert_eq!(
        store.get("index:k").await.expect("get"),
        Some(b"v".to_vec())
    );
}

async fn odd_members_round_trip(store: Arc<dyn EphemeralStore>, _time: Time) {
    let store = &*store;
    let longest = "m".repeat(MAX_MEMBER);
    let odd = [
        " ",
        " padded ",
        "a:b:c",
        "session:abc",
        "é✓🦀",
        "*?[]\\",
        "nul\0byte",
        "line\nbreak\ttab",
        "'\"quotes\"'",
        longest.as_str(),
    ];
    for member in odd {
        store
            .add_to_set("index:odd", member, LONG)
            .await
            .expect("add");
    }
    assert_eq!(members(store, "index:odd").await, strings(&odd));
    for member in odd {
        assert!(
            store
                .remove_from_set("index:odd", member)
                .await
                .expect("remove"),
            "{member:?} found again"
        );
    }
    assert!(members(store, "index:odd").await.is_empty());
    // Keys are as opaque for sets as for values.
    let odd_key = "sets:\0 *?[]é✓";
    store.add_to_set(odd_key, "m", LONG).await.expect("add");
    assert_eq!(members(store, odd_key).await, strings(&["m"]));
}

async fn bad_member_key_or_ttl_is_refused_and_nothing_stored(
    store: Arc<dyn EphemeralStore>,
    _time: Time,
) {
    let store = &*store;
    let big = "m".repeat(MAX_MEMBER + 1);
    assert_invalid(
        store.add_to_set("index:bad", &big, LONG).await,
        "add, big member",
    );
    assert_invalid(
        store.add_to_set("index:bad", "", LONG).await,
        "add, empty member",
    );
    assert_invalid(
        store.add_to_set("index:bad", "m", Duration::ZERO).await,
        "add, zero TTL",
    );
    assert_invalid(
        store.add_to_set("index:bad", "m", Duration::MAX).await,
        "add, Duration::MAX",
    );
    assert!(
        members(store, "index:bad").await.is_empty(),
        "nothing stored"
    );
    assert!(!store.delete("index:bad").await.expect("delete"));

    // A refused add leaves an existing set alone.
    store.add_to_set("index:ok", "a", LONG).await.expect("add");
    assert_invalid(
        store.add_to_set("index:ok", &big, LONG).await,
        "add to a set, big member",
    );
    assert_invalid(
        store.remove_from_set("index:ok", &big).await,
        "remove, big member",
    );
    assert_invalid(
        store.remove_from_set("index:ok", "").await,
        "remove, empty member",
    );
    assert_eq!(members(store, "index:ok").await, strings(&["a"]));

    let long_key = "k".repeat(MAX_KEY + 1);
    assert_invalid(
        store.add_to_set(&long_key, "m", LONG).await,
        "add, long key",
    );
    assert_invalid(
        store.remove_from_set(&long_key, "m").await,
        "remove, long key",
    );
    assert_invalid(store.set_members(&long_key).await, "members, long key");
    assert_invalid(store.add_to_set("", "m", LONG).await, "add, empty key");
    assert_invalid(store.remove_from_set("", "m").await, "remove, empty key");
    assert_invalid(store.set_members("").await, "members, empty key");
    // Exactly at the key limit is fine.
    let max_key = "k".repeat(MAX_KEY);
    store.add_to_set(&max_key, "m", LONG).await.expect("add");
    assert_eq!(members(store, &max_key).await, strings(&["m"]));
}

/// One user cannot grow an index without limit.
async fn sets_hold_a_bounded_number_of_members(store: Arc<dyn EphemeralStore>, _time: Time) {
    // Filled by a few tasks at once: on Redis, 10,000 sequential round trips would be
    // the slowest test of the suite.
    const FILLERS: usize = 10;
    let tasks: Vec<_> = (0..FILLERS)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in (task..MAX_SET_MEMBERS).step_by(FILLERS) {
                    store
                        .add_to_set("index:big", &format!("m{i}"), LONG)
                        .await
                        .expect("add below the bound");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    assert_eq!(
        store.set_members("index:big").await.expect("members").len(),
        MAX_SET_MEMBERS
    );
    match store.add_to_set("index:big", "one-too-many", LONG).await {
        Err(Error::Invalid(message)) if message.contains("set is full") => {}
        other => panic!("expected Error::Invalid(\"set is full\"), got {other:?}"),
    }
    let all = store.set_members("index:big").await.expect("members");
    assert_eq!(all.len(), MAX_SET_MEMBERS);
    assert!(!all.iter().any(|m| m == "one-too-many"), "nothing added");
    // A member already there can still be added again (it only refreshes the TTL).
    store
        .add_to_set("index:big", "m0", LONG)
        .await
        .expect("re-add when full");
    // Removing one makes room for one.
    assert!(
        store
            .remove_from_set("index:big", "m0")
            .await
            .expect("remove")
    );
    store
        .add_to_set("index:big", "newcomer", LONG)
        .await
        .expect("add after a removal");
    assert_invalid(
        store.add_to_set("index:big", "m0", LONG).await,
        "full again",
    );
}

async fn sets_and_values_do_not_mix(store: Arc<dyn EphemeralStore>, _time: Time) {
    let store = &*store;
    // A plain value is not a set ...
    store.put("session:v", b"value", LONG).await.expect("put");
    assert_wrong_kind(
        store.add_to_set("session:v", "m", LONG).await,
        "add to a value",
    );
    assert_wrong_kind(
        store.remove_from_set("session:v", "m").await,
        "remove from a value",
    );
    assert_wrong_kind(store.set_members("session:v").await, "members of a value");
    assert_eq!(
        store.get("session:v").await.expect("get"),
        Some(b"value".to_vec()),
        "the value is untouched"
    );
    assert_eq!(store.increment("rate:c", LONG).await.expect("incr"), 1);
    assert_wrong_kind(
        store.add_to_set("rate:c", "m", LONG).await,
        "add to a counter",
    );
    assert_eq!(store.increment("rate:c", LONG).await.expect("incr"), 2);

    // ... and a set is not a value.
    store.add_to_set("index:s", "m", LONG).await.expect("add");
    assert_wrong_kind(store.get("index:s").await, "get of a set");
    assert_wrong_kind(store.take("index:s").await, "take of a set");
    assert_wrong_kind(store.increment("index:s", LONG).await, "increment of a set");
    assert!(
        !store
            .put_if_absent("index:s", b"v", LONG)
            .await
            .expect("put_if_absent over a set"),
        "a set is something"
    );
    assert_eq!(
        members(store, "index:s").await,
        strings(&["m"]),
        "the set survived the refused take"
    );
    // `put` replaces a set, as Redis SET does; `delete` removes either kind.
    store
        .put("index:s", b"v", LONG)
        .await
        .expect("put over a set");
    assert_eq!(
        store.get("index:s").await.expect("get"),
        Some(b"v".to_vec())
    );
    assert_wrong_kind(store.set_members("index:s").await, "now a value");
    store.add_to_set("index:t", "m", LONG).await.expect("add");
    assert!(store.delete("index:t").await.expect("delete a set"));
    assert!(store.delete("session:v").await.expect("delete a value"));
    // Once gone, a key can become the other kind.
    store
        .add_to_set("session:v", "m", LONG)
        .await
        .expect("add where a value was");
    assert_eq!(members(store, "session:v").await, strings(&["m"]));
}

/// Sessions of one user created at once (several tabs, several devices) must all be
/// indexed, or `revoke_all_for_user` would miss some.
async fn concurrent_set_adds_all_land(store: Arc<dyn EphemeralStore>, _time: Time) {
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                // Varying TTLs too: whichever lands last, the longest one wins.
                let ttl = if i % 2 == 0 { SHORT } else { LONG };
                store
                    .add_to_set("user-sessions:busy", &format!("s{i}"), ttl)
                    .await
                    .expect("add");
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let seen: BTreeSet<String> = store
        .set_members("user-sessions:busy")
        .await
        .expect("members")
        .into_iter()
        .collect();
    let expected: BTreeSet<String> = (0..RACERS).map(|i| format!("s{i}")).collect();
    assert_eq!(seen, expected, "every concurrent add landed");
}

// ---- memory only -------------------------------------------------------------------

fn bounded(max_entries: usize) -> (MemoryEphemeralStore, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::at(OffsetDateTime::UNIX_EPOCH));
    (
        MemoryEphemeralStore::with_clock(max_entries, clock.clone()),
        clock,
    )
}

fn assert_full<T: std::fmt::Debug>(result: usher_core::Result<T>, what: &str) {
    match result {
        Err(Error::Unavailable(message)) if message.contains("full") => {}
        other => panic!("{what}: expected Error::Unavailable(\"... full ...\"), got {other:?}"),
    }
}

/// The documented choice: a store full of live entries refuses new keys and keeps
/// every live one (no silent logout, no replay-cache flush); existing keys still work.
#[tokio::test]
async fn memory_full_store_refuses_new_keys_and_keeps_live_ones() {
    let (store, _clock) = bounded(3);
    for key in ["a", "b", "c"] {
        store
            .put(key, b"live", LONG)
            .await
            .expect("put below the bound");
    }
    assert_full(store.put("d", b"v", LONG).await, "put of a new key");
    assert_full(
        store.put_if_absent("d", b"v", LONG).await,
        "put_if_absent of a new key",
    );
    assert_full(store.increment("d", LONG).await, "increment of a new key");
    assert_eq!(store.get("d").await.expect("get"), None);
    assert_eq!(store.len(), 3);
    for key in ["a", "b", "c"] {
        assert_eq!(
            store.get(key).await.expect("get"),
            Some(b"live".to_vec()),
            "{key} kept"
        );
    }
    // Existing keys keep working when full.
    store
        .put("a", b"new", LONG)
        .await
        .expect("overwrite when full");
    assert!(
        !store
            .put_if_absent("b", b"v", LONG)
            .await
            .expect("present key")
    );
    // Taking or deleting frees a slot.
    assert!(store.take("a").await.expect("take").is_some());
    store.put("d", b"v", LONG).await.expect("put after take");
    assert!(store.delete("b").await.expect("delete"));
    assert_eq!(
        store.increment("e", LONG).await.expect("incr after delete"),
        1
    );
    assert_full(store.put("f", b"v", LONG).await, "full again");
}

#[tokio::test]
async fn memory_full_store_reclaims_expired_entries_first() {
    let (store, clock) = bounded(3);
    store.put("short1", b"v", SHORT).await.expect("put");
    store.put("short2", b"v", SHORT).await.expect("put");
    store.put("long", b"v", LONG).await.expect("put");
    assert_full(
        store.put("new1", b"v", LONG).await,
        "full while all are live",
    );
    clock.advance(time::Duration::seconds(1));
    store
        .put("new1", b"v", LONG)
        .await
        .expect("expired slot reused");
    assert!(
        store
            .put_if_absent("new2", b"v", LONG)
            .await
            .expect("expired slot reused")
    );
    assert_eq!(
        store.get("long").await.expect("get"),
        Some(b"v".to_vec()),
        "live kept"
    );
    assert_full(
        store.put("new3", b"v", LONG).await,
        "full of live entries again",
    );
}

/// Expired entries are swept by writes, not left to pile up until they are read.
#[tokio::test]
async fn memory_expired_entries_do_not_accumulate() {
    let (store, clock) = bounded(100_000);
    for i in 0..5_000 {
        store
            .put(&format!("pending:{i}"), b"v", SHORT)
            .await
            .expect("put");
    }
    assert_eq!(store.len(), 5_000);
    clock.advance(time::Duration::seconds(1));
    store.put("session:one", b"v", LONG).await.expect("put");
    assert_eq!(store.len(), 1);
    assert!(!store.is_empty());
}

/// A set is one entry toward the bound, however many members it has; a full store
/// still lets existing sets change, and an emptied set frees its slot.
#[tokio::test]
async fn memory_a_set_counts_as_one_entry() {
    let (store, _clock) = bounded(2);
    for i in 0..100 {
        store
            .add_to_set("index:s", &format!("m{i}"), LONG)
            .await
            .expect("add");
    }
    assert_eq!(store.len(), 1);
    store.put("a", b"v", LONG).await.expect("put");
    assert_full(store.put("b", b"v", LONG).await, "put of a new key");
    assert_full(
        store.add_to_set("index:t", "m", LONG).await,
        "add to a new set",
    );
    assert!(
        store
            .set_members("index:t")
            .await
            .expect("members")
            .is_empty()
    );
    store
        .add_to_set("index:s", "m100", LONG)
        .await
        .expect("add to an existing set when full");
    assert!(
        store
            .remove_from_set("index:s", "m0")
            .await
            .expect("remove")
    );
    for i in 1..=100 {
        assert!(
            store
                .remove_from_set("index:s", &format!("m{i}"))
                .await
                .expect("remove")
        );
    }
    assert_eq!(store.len(), 1, "the emptied set is gone");
    store
        .add_to_set("index:t", "m", LONG)
        .await
        .expect("add after the slot was freed");
}

/// Growing a set's TTL moves it in the expiry index: it is neither dropped at its old
/// expiry nor kept past its new one.
#[tokio::test]
async fn memory_set_expiry_index_follows_ttl_growth() {
    let (store, clock) = bounded(100);
    store.add_to_set("index:s", "a", SHORT).await.expect("add");
    store
        .add_to_set("index:s", "b", Duration::from_secs(2))
        .await
        .expect("add");
    clock.advance(time::Duration::seconds(1));
    // A write sweeps the index: the set's old slot must not take it away.
    store.put("other", b"v", LONG).await.expect("put");
    assert_eq!(store.len(), 2);
    assert_eq!(
        store.set_members("index:s").await.expect("members").len(),
        2
    );
    clock.advance(time::Duration::seconds(2));
    store.put("other", b"v", LONG).await.expect("put");
    assert_eq!(store.len(), 1, "swept at its new expiry");
}

/// Issue 10, defect 4: bounded by count alone, 100 000 entries of up to 1 MiB each
/// would let a flood of large values take gigabytes. With the byte bound, the
/// flood is refused long before the count bound, and nothing live is evicted to
/// make room (no silent logout, no replay-cache or rate-limit flush).
#[tokio::test]
async fn memory_flood_of_large_values_hits_the_byte_cap_and_evicts_nothing() {
    const CAP: usize = 4 * 1024 * 1024;
    let (store, _clock) = bounded(10_000);
    let store = store.with_max_bytes(CAP);
    assert_eq!(store.max_bytes(), CAP);
    store.put("session:s", b"alice", LONG).await.expect("put");
    assert!(
        store
            .put_if_absent("saml-req:replayed", b"1", LONG)
            .await
            .expect("replay entry")
    );
    assert_eq!(
        store.increment("throttle:ip:x", LONG).await.expect("incr"),
        1
    );
    store
        .add_to_set("index:u", "sid-1", LONG)
        .await
        .expect("add");
    let live = store.len();

    let large = vec![b'x'; MAX_VALUE];
    let mut stored = 0;
    let refused = loop {
        match store.put(&format!("flood:{stored}"), &large, LONG).await {
            Ok(()) => stored += 1,
            Err(e) => break e,
        }
        assert!(stored <= CAP / MAX_VALUE, "the byte bound did not hold");
    };
    assert_full(Err::<(), _>(refused), "a large value past the byte cap");
    assert_eq!(
        stored, 3,
        "three 1 MiB values fit under 4 MiB with the live keys"
    );
    assert!(store.bytes() <= CAP, "{} bytes held", store.bytes());
    assert_eq!(store.len(), live + stored, "far below the count bound");

    // Everything live is still there.
    assert_eq!(
        store.get("session:s").await.expect("get"),
        Some(b"alice".to_vec())
    );
    assert!(
        !store
            .put_if_absent("saml-req:replayed", b"1", LONG)
            .await
            .expect("the replay entry is still there")
    );
    assert_eq!(
        store.increment("throttle:ip:x", LONG).await.expect("incr"),
        2
    );
    assert_eq!(members(&store, "index:u").await, strings(&["sid-1"]));
    // Small new keys still fit, while the cap allows.
    store
        .put("login:ok", b"small", LONG)
        .await
        .expect("a small value fits");
    // Freeing bytes makes room again.
    assert!(store.delete("flood:0").await.expect("delete"));
    store
        .put("flood:again", &large, LONG)
        .await
        .expect("room after a delete");
}

/// What the byte bound counts (keys, values, set members) and which writes it
/// refuses: anything that would take the total above it, including a larger
/// value for an existing key; shrinking, taking, deleting and expiry free bytes.
#[tokio::test]
async fn memory_byte_cap_counts_keys_values_and_members() {
    let (store, clock) = bounded(1000);
    let store = store.with_max_bytes(100);
    store.put("k1", &[0; 48], LONG).await.expect("50 bytes");
    assert_eq!(store.bytes(), 50);
    assert_full(store.put("k2", &[0; 49], LONG).await, "101 bytes");
    store
        .put("k2", &[0; 48], LONG)
        .await
        .expect("exactly 100 bytes");
    assert_eq!(store.bytes(), 100);
    // Overwriting with a larger value is refused at the cap; the old value stays.
    assert_full(store.put("k1", &[1; 49], LONG).await, "a larger overwrite");
    assert_eq!(store.get("k1").await.expect("get"), Some(vec![0; 48]));
    // Overwriting with a smaller or equal value works, and frees the difference.
    store
        .put("k1", &[1; 8], SHORT)
        .await
        .expect("a smaller overwrite");
    assert_eq!(store.bytes(), 60);
    // Set members count as their bytes, and removing them frees them.
    store
        .add_to_set("s", &"m".repeat(10), LONG)
        .await
        .expect("11 bytes");
    assert_eq!(store.bytes(), 71);
    assert_full(
        store.add_to_set("s", &"n".repeat(30), LONG).await,
        "a member past the cap",
    );
    assert_eq!(members(&store, "s").await.len(), 1);
    assert!(
        store
            .remove_from_set("s", &"m".repeat(10))
            .await
            .expect("remove")
    );
    assert_eq!(store.bytes(), 60, "the emptied set freed its key too");
    // Expiry and take free bytes.
    clock.advance(time::Duration::seconds(1));
    assert_eq!(store.bytes(), 50);
    assert!(store.take("k2").await.expect("take").is_some());
    assert_eq!(store.bytes(), 0);
    assert!(store.is_empty());
}

#[tokio::test]
async fn memory_default_is_bounded() {
    let store = MemoryEphemeralStore::default();
    assert_eq!(
        store.max_entries(),
        MemoryEphemeralStore::DEFAULT_MAX_ENTRIES
    );
    assert_eq!(store.max_bytes(), MemoryEphemeralStore::DEFAULT_MAX_BYTES);
    assert!(store.is_empty());
    // Debug never prints values (they are sessions and codes).
    store
        .put("session:s", b"secret-session", LONG)
        .await
        .expect("put");
    assert!(!format!("{store:?}").contains("secret"));
}

// ---- Redis only --------------------------------------------------------------------

/// Two deployments (or test runs) sharing one Redis under different prefixes never
/// see each other's keys; and keys really are stored under the prefix, with a TTL.
#[tokio::test]
async fn redis_prefixes_isolate_stores() {
    let Some(url) = redis_url() else { return };
    let (prefix_a, prefix_b) = (test_prefix(), test_prefix());
    let _cleanup_a = Cleanup {
        url: url.clone(),
        prefix: prefix_a.clone(),
    };
    let _cleanup_b = Cleanup {
        url: url.clone(),
        prefix: prefix_b.clone(),
    };
    let a = redis_store(&url, &prefix_a).await;
    let b = redis_store(&url, &prefix_b).await;

    a.put("session:shared-name", b"from a", LONG)
        .await
        .expect("put a");
    assert_eq!(b.get("session:shared-name").await.expect("get b"), None);
    assert!(
        b.put_if_absent("session:shared-name", b"from b", LONG)
            .await
            .expect("b")
    );
    assert_eq!(
        b.take("session:shared-name").await.expect("take b"),
        Some(b"from b".to_vec())
    );
    assert_eq!(
        a.get("session:shared-name").await.expect("a"),
        Some(b"from a".to_vec())
    );
    assert_eq!(b.increment("rate:x", LONG).await.expect("b"), 1);
    assert_eq!(a.increment("rate:x", LONG).await.expect("a"), 1);
    assert!(!b.delete("session:shared-name").await.expect("delete b"));

    // Look behind the store: the key is namespaced and carries its TTL (a key
    // without TTL would live forever in a shared Redis).
    let client = ::redis::Client::open(url.as_str()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let raw_key = format!("{prefix_a}session:shared-name");
    let pttl: i64 = ::redis::cmd("PTTL")
        .arg(&raw_key)
        .query_async(&mut conn)
        .await
        .expect("PTTL");
    assert!(pttl > 0 && pttl <= 60_000, "PTTL of {raw_key} is {pttl}");
    let counter_pttl: i64 = ::redis::cmd("PTTL")
        .arg(format!("{prefix_a}rate:x"))
        .query_async(&mut conn)
        .await
        .expect("PTTL");
    assert!(
        counter_pttl > 0,
        "the counter got its TTL at creation: {counter_pttl}"
    );
    let unprefixed: bool = ::redis::cmd("EXISTS")
        .arg("session:shared-name")
        .query_async(&mut conn)
        .await
        .expect("EXISTS");
    // Someone else could own an unprefixed key of this name, but not with our value.
    if unprefixed {
        let value: Option<Vec<u8>> = ::redis::cmd("GET")
            .arg("session:shared-name")
            .query_async(&mut conn)
            .await
            .expect("GET");
        assert_ne!(value.as_deref(), Some(&b"from a"[..]));
    }
}

/// A dead Redis must answer "unavailable" quickly (readiness, login error page), not
/// hang a request; and the message must not leak the password from the URL. Needs no
/// running Redis: nothing listens on port 1.
#[tokio::test]
async fn redis_unreachable_server_is_unavailable_quickly() {
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(15),
        RedisEphemeralStore::connect("redis://:hunter2@127.0.0.1:1/0", "usher_test:"),
    )
    .await
    .expect("connect must not hang");
    let elapsed = started.elapsed();
    match result {
        Err(Error::Unavailable(message)) => {
            assert!(!message.contains("hunter2"), "password leaked: {message}");
            assert!(
                message.contains("127.0.0.1:1"),
                "names the server: {message}"
            );
            assert!(Error::Unavailable(message).is_retryable());
        }
        other => panic!("expected Error::Unavailable, got {other:?}"),
    }
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
}

/// A Redis that accepts connections but never answers (hung server, half-open
/// network path) is the case that hangs naive clients: it must still give
/// Unavailable within the store's deadline. Needs no running Redis.
#[tokio::test]
async fn redis_silent_server_is_unavailable_within_the_deadline() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let silent = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(15),
        RedisEphemeralStore::connect(&format!("redis://127.0.0.1:{port}/0"), "usher_test:"),
    )
    .await
    .expect("connect must not hang");
    let elapsed = started.elapsed();
    silent.abort();
    assert!(
        matches!(result, Err(Error::Unavailable(_))),
        "got {result:?}"
    );
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
}

/// Looks behind the store at a set's TTL: an add with a shorter TTL leaves it alone,
/// and a set somehow left without TTL (written by hand, say) gets one at the next add
/// rather than living forever in a shared Redis.
#[tokio::test]
async fn redis_sets_carry_a_ttl_that_only_grows() {
    let Some(url) = redis_url() else { return };
    let prefix = test_prefix();
    let _cleanup = Cleanup {
        url: url.clone(),
        prefix: prefix.clone(),
    };
    let store = redis_store(&url, &prefix).await;
    let client = ::redis::Client::open(url.as_str()).expect("url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");

    store
        .add_to_set("index:s", "a", LONG)
        .await
        .expect("add long");
    store
        .add_to_set("index:s", "b", SHORT)
        .await
        .expect("add short");
    let pttl: i64 = ::redis::cmd("PTTL")
        .arg(format!("{prefix}index:s"))
        .query_async(&mut conn)
        .await
        .expect("PTTL");
    assert!(pttl > 50_000 && pttl <= 60_000, "PTTL is {pttl}");

    let raw_key = format!("{prefix}index:no-ttl");
    let _: u64 = ::redis::cmd("SADD")
        .arg(&raw_key)
        .arg("old")
        .query_async(&mut conn)
        .await
        .expect("SADD");
    store
        .add_to_set("index:no-ttl", "new", SHORT)
        .await
        .expect("add");
    let pttl: i64 = ::redis::cmd("PTTL")
        .arg(&raw_key)
        .query_async(&mut conn)
        .await
        .expect("PTTL");
    assert!(pttl > 0 && pttl <= 300, "PTTL is {pttl}");
}

#[tokio::test]
async fn redis_malformed_url_is_invalid() {
    match RedisEphemeralStore::connect("not a url :secret@", "usher_test:").await {
        Err(Error::Invalid(message)) => assert!(!message.contains("secret"), "{message}"),
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
}
