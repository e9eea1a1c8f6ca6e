//! Timestamps as stored: UTC, whole seconds.
//!
//! SQLite keeps `timestamp with time zone` as RFC 3339 text and compares it as text.
//! sqlx writes UTC as `...:05Z` but `...:05.25Z` when there is a fraction, and `Z`
//! sorts after `.`, so mixed precision would make range queries (audit log, key
//! expiry) silently wrong. Whole seconds give every value the same shape on SQLite
//! and exact round trips on both backends (PostgreSQL keeps microseconds only).

use time::{Duration, OffsetDateTime, UtcOffset};

/// `t` as it will be stored: in UTC, truncated to the second.
pub(crate) fn stored(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    t - Duration::nanoseconds(i64::from(t.nanosecond()))
}

/// The smallest whole second at or after `t`: for a whole-second column,
/// `col >= t` is `col >= ceil(t)` and `col < t` is `col < ceil(t)`.
pub(crate) fn ceil(t: OffsetDateTime) -> OffsetDateTime {
    let floor = stored(t);
    if floor == t {
        floor
    } else {
        floor + Duration::SECOND
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn truncates_and_rounds_up() {
        let t = datetime!(2026-01-01 10:00:00.75 +02:00);
        assert_eq!(stored(t), datetime!(2026-01-01 08:00:00 UTC));
        assert_eq!(stored(t).offset(), UtcOffset::UTC);
        assert_eq!(ceil(t), datetime!(2026-01-01 08:00:01 UTC));
        assert_eq!(
            ceil(datetime!(2026-01-01 08:00:00 UTC)),
            datetime!(2026-01-01 08:00:00 UTC)
        );
    }
}
