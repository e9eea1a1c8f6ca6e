use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{Result, UserId};

/// What a refresh-token family stands for: one grant, fixed when the family
/// starts (RFC 6749 §6: a refreshed token keeps the scope of the one presented).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshGrant {
    /// The client the tokens are issued to.
    pub client_id: String,
    /// The user.
    pub user_id: UserId,
    /// The SSO session the grant came from (the family outlives it: offline access).
    pub sid: String,
    /// Scopes granted.
    pub scopes: Vec<String>,
    /// When the user authenticated.
    pub auth_time: OffsetDateTime,
    /// Authentication methods (RFC 8176).
    pub amr: Vec<String>,
    /// Authentication context class.
    pub acr: Option<String>,
}

/// A refresh-token family: every token rotated from one grant (RFC 9700
/// §4.14.2). Only the current token's digest is kept: any other token naming the
/// family is a rotated (or forged) one, and presenting it revokes the family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshFamily {
    /// The family id (random, carried in each of its tokens).
    pub id: String,
    /// What the family stands for.
    pub grant: RefreshGrant,
    /// The digest of the family's current token (`random::digest`), never the token.
    pub token_digest: String,
    /// When the family started.
    pub created_at: OffsetDateTime,
    /// When the current token expires; slides forward with each rotation.
    pub expires_at: OffsetDateTime,
    /// When the family was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

impl RefreshFamily {
    /// True when not revoked and not expired at `now`.
    pub fn live(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// What presenting a refresh token for rotation did.
// Returned once per refresh and matched at once: boxing the family would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was the family's current one: its successor is now current, and
    /// this is the family as it is now.
    Rotated(RefreshFamily),
    /// The token had already been rotated (or lost a race with a concurrent use of
    /// itself): the whole family is now revoked (RFC 9700 §4.14.2).
    Reused,
    /// Unknown family, another client's, revoked or expired: nothing changed.
    Invalid,
}

/// Refresh-token families, durable across restarts.
#[async_trait]
pub trait RefreshTokens: Send + Sync {
    /// Starts a family with its first token. `Error::Conflict(RefreshFamily)` when
    /// the id is taken.
    async fn create_refresh_family(&self, family: &RefreshFamily) -> Result<()>;
    /// The family with this id, live or not.
    async fn refresh_family(&self, id: &str) -> Result<Option<RefreshFamily>>;
    /// Rotates the family `id`: when it belongs to `client_id`, is live at `now` and
    /// `presented_digest` is its current token's, `next_digest` becomes current
    /// until `expires_at`. A compare-and-set: of two concurrent rotations of the
    /// same token exactly one succeeds; the other is [`Rotation::Reused`].
    async fn rotate_refresh_token(
        &self,
        id: &str,
        client_id: &str,
        presented_digest: &str,
        next_digest: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Rotation>;
    /// Revokes the family `id` at `at`; `true` when it was live until then. No
    /// rotation brings a revoked family back.
    async fn revoke_refresh_family(&self, id: &str, at: OffsetDateTime) -> Result<bool>;
    /// Revokes every family of `user` (deactivation, deprovisioning); returns how
    /// many were live.
    async fn revoke_refresh_families_for_user(
        &self,
        user: UserId,
        at: OffsetDateTime,
    ) -> Result<u64>;
    /// Deletes the families expired before `now` (revoked or not): a token of a
    /// deleted family is simply unknown. Returns how many went.
    async fn purge_expired_refresh_families(&self, now: OffsetDateTime) -> Result<u64>;
}
