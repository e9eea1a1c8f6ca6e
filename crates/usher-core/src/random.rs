//! Unguessable tokens and their digests.
//!
//! Session cookies, authorization codes and refresh tokens are 256-bit random
//! values (RFC 6749 §10.10: the probability of guessing one must be negligible).
//! The ephemeral store keys them by SHA-256 digest, so a copy of Redis or a memory
//! dump yields no usable credential.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// A fresh 256-bit random token, base64url without padding (43 characters).
pub fn token() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Internal(format!("the system random source failed: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// SHA-256 of `value`, base64url without padding: how tokens are keyed at rest.
pub fn digest(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(value.as_bytes()))
}

/// Compares two secrets in time independent of where they differ, so an attacker
/// cannot learn a secret byte by byte from response times.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = token().expect("random");
        let b = token().expect("random");
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }

    #[test]
    fn digests_are_stable_and_not_the_token() {
        assert_eq!(digest("abc"), digest("abc"));
        assert_ne!(digest("abc"), "abc");
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"sane"));
        assert!(!constant_time_eq(b"short", b"longer"));
    }
}
