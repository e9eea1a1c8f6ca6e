//! JOSE, done with openssl: compact JWS signing with usher's keys (RS256, ES256,
//! EdDSA), verification against a JWK set, and JWK import and export.
//!
//! Only RS256, ES256 and EdDSA exist here: `none` and the HMAC algorithms are
//! refused before any key is looked at (RFC 8725 §3.1, §3.2: algorithm
//! verification and key confusion).

// Parses network input: an index out of range must be an error, never a panic.
#![warn(clippy::indexing_slicing)]

mod b64;
mod jwk;
mod key;
mod sign;
mod verify;

pub use jwk::{PublicJwk, public_key_from_jwk};
pub use key::JoseKey;
pub use sign::{TYP_ACCESS_TOKEN, TYP_ID_TOKEN, TYP_LOGOUT_TOKEN, sign};
pub use verify::{JoseError, Verified, VerifyKey, keys_of_jwks, verify, verify_with_jwks};
