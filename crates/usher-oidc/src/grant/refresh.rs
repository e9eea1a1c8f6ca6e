//! Refresh tokens (RFC 6749 §6) with rotation and reuse detection (RFC 9700
//! §4.14.2), on the durable [`RefreshTokens`] port: a restart of the ephemeral
//! store neither loses them nor lets a revoked family come back.
//!
//! A refresh token is `{family}.{secret}`: it names its family, and storage keeps
//! only the digest of the family's current token. Any other token naming the
//! family is one rotated before (or a forgery by someone who saw a token of the
//! family): presenting it revokes the whole family. So reuse is detected for
//! every token ever issued, with one row per family.

use time::OffsetDateTime;
use usher_core::ports::{RefreshFamily, RefreshGrant, RefreshTokens, Rotation};
use usher_core::{Error, Result, UserId, random};

use super::access::revoke_family_access_tokens;
use super::code::family_forbidden_key;
use crate::state::OidcState;

/// What a refresh token stands for (RFC 6749 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone)]
pub enum RefreshUse {
    /// Valid and now rotated: `next` is its successor, already current in the
    /// family; issue it with the response.
    Valid {
        /// What the grant stands for.
        record: RefreshToken,
        /// The successor token.
        next: String,
    },
    /// An already rotated token: its whole family is now revoked, with the
    /// access tokens it issued (RFC 9700 §4.14.2).
    Reused,
    /// Unknown, expired, revoked or another client's.
    Invalid,
}

/// A token's family id; `None` for anything that is not one of ours.
fn family_of(token: &str) -> Option<&str> {
    let (family, secret) = token.split_once('.')?;
    let ok = |s: &str| {
        (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (ok(family) && ok(secret)).then_some(family)
}

/// How a family is named in logs: the start of its digest, enough to correlate
/// lines. Never the id itself: it is the first half of every refresh token
/// (`{family}.{secret}`), and `{family}.anything` sent by whoever read the logs
/// revokes a public client's family through reuse detection (RFC 9700 §4.14.2).
pub(crate) fn family_for_logs(family: &str) -> String {
    random::digest(family).chars().take(16).collect()
}

fn new_token(family: &str) -> Result<String> {
    Ok(format!("{family}.{}", random::token()?))
}

fn port(state: &OidcState) -> &dyn RefreshTokens {
    &*state.deps.refresh_tokens
}

fn to_record(family: RefreshFamily) -> RefreshToken {
    let g = family.grant;
    RefreshToken {
        family: family.id,
        client_id: g.client_id,
        user_id: g.user_id,
        sid: g.sid,
        scopes: g.scopes,
        auth_time: g.auth_time.unix_timestamp(),
        amr: g.amr,
        acr: g.acr,
    }
}

/// Starts the family `record.family` (at a code redemption) and returns its first
/// token, valid for `settings.lifetimes.refresh_token`; each rotation slides that
/// forward.
///
/// A reuse of the code may have tried to revoke the family before it existed: it
/// leaves a marker first, and the family is read against it once created.
pub async fn start_family(state: &OidcState, record: &RefreshToken) -> Result<String> {
    let now = state.deps.clock.now();
    let token = new_token(&record.family)?;
    let auth_time = OffsetDateTime::from_unix_timestamp(record.auth_time)
        .map_err(|e| Error::Internal(format!("auth_time out of range: {e}")))?;
    port(state)
        .create_refresh_family(&RefreshFamily {
            id: record.family.clone(),
            grant: RefreshGrant {
                client_id: record.client_id.clone(),
                user_id: record.user_id,
                sid: record.sid.clone(),
                scopes: record.scopes.clone(),
                auth_time,
                amr: record.amr.clone(),
                acr: record.acr.clone(),
            },
            token_digest: random::digest(&token),
            created_at: now,
            expires_at: now + state.settings.lifetimes.refresh_token,
            revoked_at: None,
        })
        .await?;
    let forbidden = family_forbidden_key(&record.family);
    if state.deps.ephemeral.get(&forbidden).await?.is_some() {
        port(state)
            .revoke_refresh_family(&record.family, now)
            .await?;
    }
    Ok(token)
}

/// Presents a refresh token for `client_id` at the token endpoint and rotates it
/// (RFC 9700 §4.14.2), in one compare-and-set: of two concurrent uses, one wins
/// and the other revokes the family. A token of another client is refused and
/// left alone (RFC 6749 §6: it was issued to the authenticated client only).
pub async fn use_refresh_token(
    state: &OidcState,
    token: &str,
    client_id: &str,
) -> Result<RefreshUse> {
    let Some(family) = family_of(token) else {
        return Ok(RefreshUse::Invalid);
    };
    let now = state.deps.clock.now();
    let next = new_token(family)?;
    let rotation = port(state)
        .rotate_refresh_token(
            family,
            client_id,
            &random::digest(token),
            &random::digest(&next),
            now,
            now + state.settings.lifetimes.refresh_token,
        )
        .await?;
    Ok(match rotation {
        Rotation::Rotated(f) => RefreshUse::Valid {
            record: to_record(f),
            next,
        },
        Rotation::Reused => {
            tracing::warn!(
                family = %family_for_logs(family),
                "rotated refresh token presented again; revoked its family"
            );
            revoke_family_access_tokens(state, family).await?;
            RefreshUse::Reused
        }
        Rotation::Invalid => RefreshUse::Invalid,
    })
}

/// Looks a refresh token up without rotating it (introspection, revocation, the
/// scope check before a refresh): what it stands for and when it expires (unix
/// seconds), or `None` when unknown, rotated, expired or revoked.
pub async fn find_refresh_token(
    state: &OidcState,
    token: &str,
) -> Result<Option<(RefreshToken, i64)>> {
    let Some(family) = family_of(token) else {
        return Ok(None);
    };
    let Some(found) = port(state).refresh_family(family).await? else {
        return Ok(None);
    };
    let current = random::constant_time_eq(
        found.token_digest.as_bytes(),
        random::digest(token).as_bytes(),
    );
    if !current || !found.live(state.deps.clock.now()) {
        return Ok(None);
    }
    let exp = found.expires_at.unix_timestamp();
    Ok(Some((to_record(found), exp)))
}

/// Revokes a refresh-token family and the access tokens it issued.
pub async fn revoke_family(state: &OidcState, family: &str) -> Result<()> {
    port(state)
        .revoke_refresh_family(family, state.deps.clock.now())
        .await?;
    revoke_family_access_tokens(state, family).await
}
