//! What authorization codes, refresh tokens and access tokens stand for, and
//! where each lives. Tokens are kept only as digests (never the token itself, so
//! a copy of a store yields no usable credential).
//!
//! - Durable, in SQL through the [`RefreshTokens`](usher_core::ports::RefreshTokens)
//!   port ([`refresh`]): refresh-token families (the grant, the current token's
//!   digest, a sliding expiry, the revocation). They survive a restart of the
//!   ephemeral store and never count against its cap.
//! - Ephemeral, lost safely on a restart ([`code`], [`access`]): codes (a minute),
//!   what a redeemed code issued (for reuse detection while it matters), the
//!   access-token `jti`s a family issued and the revoked `jti`s (as long as an
//!   access token lives).

pub mod access;
pub mod code;
pub mod refresh;

pub use access::{access_token_revoked, revoke_access_token, track_access_token};
pub use code::{AuthorizationCode, CodeIssue, RedeemedCode, Redemption, issue_code, redeem_code};
pub use refresh::{
    RefreshToken, RefreshUse, find_refresh_token, revoke_family, start_family, use_refresh_token,
};
