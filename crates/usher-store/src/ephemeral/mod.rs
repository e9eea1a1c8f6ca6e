//! The ephemeral store ([`usher_core::ports::EphemeralStore`]) in process memory and on
//! Redis.
//!
//! Both backends apply the same input limits through [`check_key`], [`check_value`],
//! [`check_member`] and [`ttl_millis`], and report a key used as the wrong kind (a set
//! read as a value, or the other way round) with the same [`wrong_kind`] error, so a
//! caller sees identical behaviour whichever one the binary wires in: a value that is
//! too large for Redis is also too large for memory, and the other way round.

mod memory;
mod redis;

use std::time::Duration;

use usher_core::{Error, Result};

pub use memory::MemoryEphemeralStore;
pub use redis::RedisEphemeralStore;

/// Longest accepted key, in bytes (before any namespace prefix). Callers' keys are
/// a purpose prefix plus a random token, far below this; anything longer is a bug or
/// an attacker-controlled string that should not become a key.
pub(crate) const MAX_KEY_BYTES: usize = 1024;

/// Largest accepted value, in bytes. Sessions and pending logins are a few KiB; the
/// bound keeps one caller bug (or one hostile request echoed into a value) from taking
/// a large share of the memory store or of Redis.
pub(crate) const MAX_VALUE_BYTES: usize = 1024 * 1024;

/// Longest accepted TTL. Nothing ephemeral lives for more than a year (the longest
/// "remember me" sessions are weeks); a larger TTL is a unit mix-up, and refusing it
/// also keeps `now + ttl` far from any overflow in either backend.
pub(crate) const MAX_TTL: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// Longest accepted set member, in bytes. Members are session ids and token-family
/// ids, far below this.
pub(crate) const MAX_MEMBER_BYTES: usize = 1024;

/// Most members one set holds. Sets index a user's sessions and token families; the
/// bound keeps one user (or one caller bug adding in a loop) from growing a set, and
/// the memory it takes, without limit.
pub(crate) const MAX_SET_MEMBERS: usize = 10_000;

/// The error for a key used as the wrong kind (a set read as a value, a value added
/// to as a set): always a caller bug, reported identically by both backends.
pub(crate) fn wrong_kind() -> Error {
    Error::Invalid("key holds another kind of value".into())
}

/// The error for adding a new member to a set holding [`MAX_SET_MEMBERS`].
pub(crate) fn set_full() -> Error {
    Error::Invalid("set is full".into())
}

/// Checks a caller's key: not empty, at most [`MAX_KEY_BYTES`].
pub(crate) fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::Invalid("ephemeral store key is empty".into()));
    }
    if key.len() > MAX_KEY_BYTES {
        // The key itself is not echoed: keys carry session ids and codes.
        return Err(Error::Invalid(format!(
            "ephemeral store key is {} bytes, more than the {MAX_KEY_BYTES} allowed",
            key.len()
        )));
    }
    Ok(())
}

/// Checks a value: at most [`MAX_VALUE_BYTES`].
pub(crate) fn check_value(value: &[u8]) -> Result<()> {
    if value.len() > MAX_VALUE_BYTES {
        return Err(Error::Invalid(format!(
            "ephemeral store value is {} bytes, more than the {MAX_VALUE_BYTES} allowed",
            value.len()
        )));
    }
    Ok(())
}

/// Validates a TTL and converts it to whole milliseconds, the resolution both backends
/// share (Redis `PX`). Rounds up, so nothing expires earlier than asked and a TTL
/// below 1 ms becomes 1 ms; zero is refused because a value that is expired when
/// written is always a caller bug (usually an unset config value).
pub(crate) fn ttl_millis(ttl: Duration) -> Result<u64> {
    if ttl.is_zero() {
        return Err(Error::Invalid("ephemeral store TTL is zero".into()));
    }
    if ttl > MAX_TTL {
        return Err(Error::Invalid(format!(
            "ephemeral store TTL of {}s is longer than the {}s allowed",
            ttl.as_secs(),
            MAX_TTL.as_secs()
        )));
    }
    let millis = ttl.as_nanos().div_ceil(1_000_000);
    // Cannot fail below MAX_TTL; kept checked rather than `as` so a future change of
    // the bound cannot silently truncate.
    u64::try_from(millis).map_err(|_| Error::Internal("TTL out of range".into()))
}

/// Checks a set member: 1 to [`MAX_MEMBER_BYTES`] bytes.
pub(crate) fn check_member(member: &str) -> Result<()> {
    if member.is_empty() {
        return Err(Error::Invalid("ephemeral store set member is empty".into()));
    }
    if member.len() > MAX_MEMBER_BYTES {
        // Not echoed, like keys: members are session and token ids.
        return Err(Error::Invalid(format!(
            "ephemeral store set member is {} bytes, more than the {MAX_MEMBER_BYTES} allowed",
            member.len()
        )));
    }
    Ok(())
}

/// Checks everything a write (`put`, `put_if_absent`) takes; returns the TTL in
/// milliseconds.
pub(crate) fn check_write(key: &str, value: &[u8], ttl: Duration) -> Result<u64> {
    check_key(key)?;
    check_value(value)?;
    ttl_millis(ttl)
}
