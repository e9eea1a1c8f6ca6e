//! Access tokens are JWTs nobody stores; what is kept is in the ephemeral store,
//! for as long as an access token can live:
//!
//! - `rt-family-at:{family}`: the `jti`s of the access tokens a refresh-token
//!   family issued, revoked with it.
//! - `revoked-jti:{jti}`: a revoked access token, for its remaining lifetime.
//!
//! Both may be lost on a restart of a memory-mode ephemeral store: an access
//! token revoked (or whose family was revoked) just before then stays usable
//! until it expires, at most `lifetimes.access_token` (10 minutes by default).

use std::time::Duration;

use usher_core::Result;

use super::refresh::family_for_logs;
use crate::state::OidcState;

fn family_access_key(family: &str) -> String {
    format!("rt-family-at:{family}")
}

fn jti_key(jti: &str) -> String {
    format!("revoked-jti:{jti}")
}

/// Records that `family` issued the access token `jti`, so revoking the family
/// revokes it too.
///
/// Best effort: when the ephemeral store refuses the record (full, unreachable),
/// the token is issued anyway, since a refresh must not depend on what may be
/// lost; revoking the family then leaves that one access token valid until it
/// expires (`lifetimes.access_token`).
pub async fn track_access_token(state: &OidcState, family: &str, jti: &str) {
    let lifetimes = state.settings.lifetimes;
    if let Err(e) = state
        .deps
        .ephemeral
        .add_to_set(&family_access_key(family), jti, lifetimes.access_token)
        .await
    {
        tracing::warn!(
            family = %family_for_logs(family),
            error = %e,
            "could not record an access token for its refresh-token family; \
             revoking the family will not revoke it before it expires"
        );
    }
}

/// Revokes the access tokens `family` issued (RFC 7009 §2.1: revoking a grant
/// takes its tokens with it).
pub(crate) async fn revoke_family_access_tokens(state: &OidcState, family: &str) -> Result<()> {
    let store = &*state.deps.ephemeral;
    let lifetime = state.settings.lifetimes.access_token;
    for jti in store.set_members(&family_access_key(family)).await? {
        revoke_access_token(state, &jti, lifetime).await?;
    }
    store.delete(&family_access_key(family)).await.map(drop)
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
