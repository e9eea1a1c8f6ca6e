use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{Result, UserId};

/// A user's remembered consent to share scopes with a client, so the consent
/// page is not shown again (OIDC Core §3.1.2.4). Durable: it outlives restarts
/// of the ephemeral store, which keeps only what may be lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// Who consented.
    pub user_id: UserId,
    /// To which client.
    pub client_id: String,
    /// The scopes granted, sorted.
    pub scopes: Vec<String>,
    /// When the user last approved a request of this client.
    pub granted_at: OffsetDateTime,
    /// When the consent lapses and the user is asked again.
    pub expires_at: OffsetDateTime,
}

/// Remembered consents, by user and client.
#[async_trait]
pub trait Consents: Send + Sync {
    /// The consent of `user` to `client_id` still in force at `now`.
    async fn consent(
        &self,
        user: UserId,
        client_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Consent>>;
    /// Adds `scopes` to the consent of `user` to `client_id` and renews the whole
    /// consent (scopes granted before included) as granted at `granted_at`, in
    /// force until `expires_at`. Concurrent grants add up; none is lost.
    async fn grant_consent(
        &self,
        user: UserId,
        client_id: &str,
        scopes: &[String],
        granted_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<()>;
    /// Forgets the consent of `user` to `client_id`; `true` when there was one.
    async fn revoke_consent(&self, user: UserId, client_id: &str) -> Result<bool>;
    /// Forgets every consent of `user`; returns how many scope grants went.
    async fn revoke_consents_for_user(&self, user: UserId) -> Result<u64>;
    /// Deletes the consents lapsed before `now`; returns how many scope grants went.
    async fn purge_expired_consents(&self, now: OffsetDateTime) -> Result<u64>;
}
