//! What an authorization code and a refresh token stand for, kept in the ephemeral
//! store under the digest of the token (never the token itself, so a copy of the
//! store yields no usable credential).
//!
//! Keys:
//! - `code:{digest}`: an [`AuthorizationCode`] (single use, `take`n at redemption).
//! - `code-used:{digest}`: written at redemption; names the refresh-token family
//!   and access-token `jti` the redemption issues, so a second redemption can
//!   revoke them (RFC 6749 §4.1.2, RFC 9700 §4.5 / OIDC Core §16.1... code reuse).
//! - `rt:{digest}`: a [`RefreshToken`], `take`n on every use (rotation,
//!   RFC 9700 §4.14.2).
//! - `rt-used:{digest}`: the family of a rotated token; presenting it again
//!   revokes the whole family.
//! - `rt-family:{family}`: the family's live key; indexed for the user so
//!   [`Sessions::revoke_all_for_user`](usher_core::Sessions::revoke_all_for_user)
//!   deleting it kills every token of the family.
//! - `rt-family-revoked:{family}`: a revoked family, so a rotation racing the
//!   revocation cannot bring the live key back.
//! - `rt-family-at:{family}`: the `jti`s of the access tokens the family issued,
//!   revoked with it.
//! - `revoked-jti:{jti}`: a revoked access token, for its remaining lifetime.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use usher_core::{Result, UserId, random, stash};

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
                    family = %issue.family,
                    "authorization code presented twice; revoking what it issued"
                );
                revoke_family(state, &issue.family).await?;
                let ttl = state.settings.lifetimes.access_token;
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
    // Kept as long as what the redemption issues can live.
    let ttl = state
        .settings
        .lifetimes
        .refresh_token
        .max(state.settings.lifetimes.access_token);
    stash::put(store, &code_used_key(code), &issue, ttl).await?;
    if unix(state) >= stored.expires_at {
        return Ok(Redemption::Invalid);
    }
    Ok(Redemption::Valid(RedeemedCode {
        record: stored.record,
        issue,
    }))
}

/// What a refresh token stands for (RFC 6749 §6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    /// The rotation family: every token rotated from the same grant.
    pub family: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user.
    pub user_id: UserId,
    /// The SSO session it came from (the token outlives it: offline access).
    pub sid: String,
    /// Scopes granted (a refresh may only narrow them, RFC 6749 §6).
    pub scopes: Vec<String>,
    /// When the user authenticated, unix seconds.
    pub auth_time: i64,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// Authentication context class.
    pub acr: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct StoredRefresh {
    #[serde(flatten)]
    record: RefreshToken,
    expires_at: i64,
}

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone)]
pub enum RefreshUse {
    /// Valid and now consumed: issue its successor with
    /// [`issue_refresh_token`] in the same family.
    Valid(RefreshToken),
    /// An already rotated token: its whole family is now revoked
    /// (RFC 9700 §4.14.2).
    Reused,
    /// Unknown, expired, revoked or another client's.
    Invalid,
}

fn rt_key(token: &str) -> String {
    format!("rt:{}", random::digest(token))
}

fn rt_used_key(token: &str) -> String {
    format!("rt-used:{}", random::digest(token))
}

fn family_key(family: &str) -> String {
    format!("rt-family:{family}")
}

fn family_revoked_key(family: &str) -> String {
    format!("rt-family-revoked:{family}")
}

fn family_access_key(family: &str) -> String {
    format!("rt-family-at:{family}")
}

fn jti_key(jti: &str) -> String {
    format!("revoked-jti:{jti}")
}

/// Issues a refresh token for `record` (a new family, or the next token of a
/// rotated one), valid for `settings.lifetimes.refresh_token` from now: the
/// lifetime slides with each rotation, and so does the family's live key.
///
/// A rotation racing `revoke_all_for_user` may re-create the family's live key
/// just after its deletion; explicit revocations also write
/// `rt-family-revoked:`, which no rotation undoes.
pub async fn issue_refresh_token(state: &OidcState, record: &RefreshToken) -> Result<String> {
    let store = &*state.deps.ephemeral;
    let ttl = state.settings.lifetimes.refresh_token;
    let token = random::token()?;
    let stored = StoredRefresh {
        record: record.clone(),
        expires_at: unix(state) + ttl.as_secs() as i64,
    };
    store.put(&family_key(&record.family), b"1", ttl).await?;
    state
        .deps
        .sessions
        .index_for_user(record.user_id, &family_key(&record.family), ttl)
        .await?;
    stash::put(store, &rt_key(&token), &stored, ttl).await?;
    Ok(token)
}

/// True when the family has not been revoked (and has not died with
/// `revoke_all_for_user`).
async fn family_live(state: &OidcState, family: &str) -> Result<bool> {
    let store = &*state.deps.ephemeral;
    Ok(store.get(&family_key(family)).await?.is_some()
        && store.get(&family_revoked_key(family)).await?.is_none())
}

/// Presents a refresh token for `client_id` at the token endpoint and consumes it
/// (rotation, RFC 9700 §4.14.2). A token of another client is refused and left
/// alone (RFC 6749 §6: it was issued to the authenticated client only).
pub async fn use_refresh_token(
    state: &OidcState,
    token: &str,
    client_id: &str,
) -> Result<RefreshUse> {
    let store = &*state.deps.ephemeral;
    let Some(peek) = stash::get::<StoredRefresh>(store, &rt_key(token)).await? else {
        return match store.get(&rt_used_key(token)).await? {
            Some(family) => {
                let family = String::from_utf8_lossy(&family).into_owned();
                tracing::warn!(%family, "rotated refresh token presented again; revoking its family");
                revoke_family(state, &family).await?;
                Ok(RefreshUse::Reused)
            }
            None => Ok(RefreshUse::Invalid),
        };
    };
    if peek.record.client_id != client_id {
        return Ok(RefreshUse::Invalid);
    }
    // Atomic: of two concurrent uses, one wins; the other is a reuse.
    let Some(stored) = stash::take::<StoredRefresh>(store, &rt_key(token)).await? else {
        revoke_family(state, &peek.record.family).await?;
        return Ok(RefreshUse::Reused);
    };
    let ttl = state.settings.lifetimes.refresh_token;
    store
        .put(&rt_used_key(token), stored.record.family.as_bytes(), ttl)
        .await?;
    if unix(state) >= stored.expires_at || !family_live(state, &stored.record.family).await? {
        return Ok(RefreshUse::Invalid);
    }
    Ok(RefreshUse::Valid(stored.record))
}

/// Looks a refresh token up without consuming it (introspection, revocation):
/// `None` when unknown, expired or revoked.
pub async fn find_refresh_token(state: &OidcState, token: &str) -> Result<Option<RefreshToken>> {
    let Some(stored) = stash::get::<StoredRefresh>(&*state.deps.ephemeral, &rt_key(token)).await?
    else {
        return Ok(None);
    };
    if unix(state) >= stored.expires_at || !family_live(state, &stored.record.family).await? {
        return Ok(None);
    }
    Ok(Some(stored.record))
}

/// The unix time a refresh token expires, when it is live (introspection's `exp`).
pub async fn refresh_token_expiry(state: &OidcState, token: &str) -> Result<Option<i64>> {
    let stored = stash::get::<StoredRefresh>(&*state.deps.ephemeral, &rt_key(token)).await?;
    Ok(stored.map(|s| s.expires_at))
}

/// Revokes a refresh-token family and the access tokens it issued.
pub async fn revoke_family(state: &OidcState, family: &str) -> Result<()> {
    let store = &*state.deps.ephemeral;
    let lifetimes = state.settings.lifetimes;
    store
        .put(&family_revoked_key(family), b"1", lifetimes.refresh_token)
        .await?;
    store.delete(&family_key(family)).await?;
    for jti in store.set_members(&family_access_key(family)).await? {
        revoke_access_token(state, &jti, lifetimes.access_token).await?;
    }
    store.delete(&family_access_key(family)).await?;
    Ok(())
}

/// Records that `family` issued the access token `jti`, so revoking the family
/// revokes it too.
pub async fn track_access_token(state: &OidcState, family: &str, jti: &str) -> Result<()> {
    let lifetimes = state.settings.lifetimes;
    state
        .deps
        .ephemeral
        .add_to_set(&family_access_key(family), jti, lifetimes.access_token)
        .await
}

/// Puts an access token's `jti` on the revocation list for `remaining` (its
/// remaining lifetime; RFC 7009 §2).
pub async fn revoke_access_token(state: &OidcState, jti: &str, remaining: Duration) -> Result<()> {
    let ttl = remaining.max(Duration::from_secs(1));
    state.deps.ephemeral.put(&jti_key(jti), b"1", ttl).await
}

/// True when the access token `jti` was revoked.
pub async fn access_token_revoked(state: &OidcState, jti: &str) -> Result<bool> {
    Ok(state.deps.ephemeral.get(&jti_key(jti)).await?.is_some())
}
