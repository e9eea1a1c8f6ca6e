//! Authorization codes, in the ephemeral store under the digest of the code:
//!
//! - `code:{digest}`: an [`AuthorizationCode`] (single use, `take`n at redemption).
//! - `code-used:{digest}`: written at redemption; names the refresh-token family
//!   and access-token `jti` the redemption issues, so a second redemption can
//!   revoke them (RFC 6749 §4.1.2, RFC 9700 §4.5). Kept as long as an access token
//!   lives: a code is redeemed within its minute, and a replay that late still
//!   revokes what the first redemption issued.
//! - `rt-family-revoked:{family}`: written by a reuse before it revokes the family
//!   in SQL, for the moment between a redemption and its family's creation (see
//!   [`start_family`](super::start_family)).

use serde::{Deserialize, Serialize};
use usher_core::{Result, UserId, random, stash};

use super::refresh::family_for_logs;
use super::{revoke_access_token, revoke_family};
use crate::state::OidcState;

/// What an authorization code stands for (RFC 6749 §4.1.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationCode {
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect_uri of the authorization request (RFC 6749 §4.1.3).
    pub redirect_uri: String,
    /// Who signed in.
    pub user_id: UserId,
    /// The SSO session's public id (`sid` claim).
    pub sid: String,
    /// Scopes granted.
    pub scopes: Vec<String>,
    /// `nonce` of the request, into the id_token (OIDC Core §3.1.2.1).
    pub nonce: Option<String>,
    /// PKCE S256 challenge (RFC 7636 §4.2); `plain` is never stored.
    pub code_challenge: Option<String>,
    /// When the user authenticated, unix seconds.
    pub auth_time: i64,
    /// Authentication methods (RFC 8176).
    pub amr: Vec<String>,
    /// Authentication context class.
    pub acr: Option<String>,
}

/// The stored form of a code: the record and its expiry by the OP's clock (the
/// store's TTL is a backstop; the clock decides, so tests can move it).
#[derive(Serialize, Deserialize)]
struct StoredCode {
    #[serde(flatten)]
    record: AuthorizationCode,
    expires_at: i64,
}

/// The ids a code redemption will issue tokens under, recorded at redemption so a
/// later reuse of the code can revoke them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeIssue {
    /// Refresh-token family of this redemption (used only if a refresh token is
    /// issued).
    pub family: String,
    /// `jti` of the access token of this redemption.
    pub access_jti: String,
}

/// A code redeemed for the first time.
#[derive(Debug, Clone)]
pub struct RedeemedCode {
    /// What the code stands for.
    pub record: AuthorizationCode,
    /// The ids the tokens must be issued under.
    pub issue: CodeIssue,
}

/// The outcome of presenting a code at the token endpoint.
// Short-lived and matched at once: boxing the record would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Redemption {
    /// First use: issue tokens under `issue`'s ids.
    Valid(RedeemedCode),
    /// The code was already redeemed; what that redemption issued is now revoked
    /// (RFC 6749 §4.1.2).
    Reused,
    /// Unknown or expired.
    Invalid,
}

fn code_key(code: &str) -> String {
    format!("code:{}", random::digest(code))
}

fn code_used_key(code: &str) -> String {
    format!("code-used:{}", random::digest(code))
}

/// The marker a code reuse leaves for a family that may not exist yet.
pub(super) fn family_forbidden_key(family: &str) -> String {
    format!("rt-family-revoked:{family}")
}

fn unix(state: &OidcState) -> i64 {
    state.deps.clock.now().unix_timestamp()
}

/// Stores a code for `record` and returns the code (256 random bits, RFC 6749
/// §10.10), valid for `settings.lifetimes.code`.
pub async fn issue_code(state: &OidcState, record: &AuthorizationCode) -> Result<String> {
    let code = random::token()?;
    let ttl = state.settings.lifetimes.code;
    let stored = StoredCode {
        record: record.clone(),
        expires_at: unix(state) + ttl.as_secs() as i64,
    };
    stash::put(&*state.deps.ephemeral, &code_key(&code), &stored, ttl).await?;
    Ok(code)
}

/// Redeems a code, once: the record is taken atomically, so of two concurrent
/// redemptions exactly one succeeds. A second redemption revokes the refresh-token
/// family and access token the first one issued (RFC 6749 §4.1.2).
///
/// The code is consumed even when the caller then refuses the redemption (wrong
/// client, redirect_uri or verifier): a code that was presented wrongly is burnt.
///
/// The `code-used:` marker is written just after the `take`; a replay landing in
/// that gap (microseconds) is refused as `Invalid` without the revocation.
pub async fn redeem_code(state: &OidcState, code: &str) -> Result<Redemption> {
    let store = &*state.deps.ephemeral;
    let Some(stored) = stash::take::<StoredCode>(store, &code_key(code)).await? else {
        let used = stash::get::<CodeIssue>(store, &code_used_key(code)).await?;
        return match used {
            Some(issue) => {
                tracing::warn!(
                    family = %family_for_logs(&issue.family),
                    "authorization code presented twice; revoking what it issued"
                );
                let ttl = state.settings.lifetimes.access_token;
                // First the marker, then the family: the first redemption creates
                // its family and then reads the marker, so whichever way the two
                // requests interleave, the family ends revoked.
                store
                    .put(&family_forbidden_key(&issue.family), b"1", ttl)
                    .await?;
                revoke_family(state, &issue.family).await?;
                revoke_access_token(state, &issue.access_jti, ttl).await?;
                Ok(Redemption::Reused)
            }
            None => Ok(Redemption::Invalid),
        };
    };
    let issue = CodeIssue {
        family: random::token()?,
        access_jti: random::token()?,
    };
    // Kept as long as the access token lives (not the refresh token: a marker
    // per sign-in for a month would fill the ephemeral store).
    let ttl = state
        .settings
        .lifetimes
        .access_token
        .max(state.settings.lifetimes.code);
    stash::put(store, &code_used_key(code), &issue, ttl).await?;
    if unix(state) >= stored.expires_at {
        return Ok(Redemption::Invalid);
    }
    Ok(Redemption::Valid(RedeemedCode {
        record: stored.record,
        issue,
    }))
}
