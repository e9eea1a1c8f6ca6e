use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{Error, Result};

/// A SCIM client (a provisioning source such as Entra ID or Okta) as stored. Its
/// bearer token is kept only as a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimClient {
    /// The name, which also marks the users and groups it creates.
    pub name: String,
    /// When the token was created.
    pub created_at: OffsetDateTime,
    /// When the token was last used (to the minute).
    pub last_used_at: Option<OffsetDateTime>,
    /// True when it comes from the configuration file (re-applied at every start).
    pub from_config: bool,
}

impl ScimClient {
    /// The rule for a client's name (it also marks what the client provisions,
    /// and `link_by_external_id` refers to it): 1 to 64 characters of A-Z, a-z,
    /// 0-9, '-', '_' and '.'.
    pub fn check_name(name: &str) -> Result<()> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if ok {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "SCIM client name {name:?} must be 1 to 64 characters of A-Z, a-z, 0-9, '-', '_' \
                 and '.'"
            )))
        }
    }
}

/// SCIM clients and their token digests.
#[async_trait]
pub trait ScimClients: Send + Sync {
    /// Registers a client; `Error::Conflict(ScimClient)` when the name or the digest
    /// is taken.
    async fn create_scim_client(&self, name: &str, token_digest: &str) -> Result<ScimClient>;
    /// Registers a client as [`create_scim_client`](Self::create_scim_client) does,
    /// writing a `scim_token.create` audit record naming `actor` in the same
    /// transaction.
    async fn create_scim_client_by(
        &self,
        name: &str,
        token_digest: &str,
        actor: &str,
    ) -> Result<ScimClient>;
    /// Registers or re-keys a client declared in the configuration, writing in the
    /// same transaction a `scim_token.create` (new client) or `scim_token.rotate`
    /// (another token, or a client taken over from the CLI) audit record naming
    /// `actor`; a client already in line is neither written nor audited.
    async fn put_config_scim_client(
        &self,
        name: &str,
        token_digest: &str,
        actor: &str,
    ) -> Result<()>;
    /// Every client, by name.
    async fn scim_clients(&self) -> Result<Vec<ScimClient>>;
    /// Deletes a client and its token; `false` when there was none. What it
    /// provisioned stays (and stays its own, should a client of the same name return).
    async fn revoke_scim_client(&self, name: &str) -> Result<bool>;
    /// Revokes as [`revoke_scim_client`](Self::revoke_scim_client) does; a
    /// revocation that deleted a client writes a `scim_token.revoke` audit record
    /// naming `actor` in the same transaction.
    async fn revoke_scim_client_by(&self, name: &str, actor: &str) -> Result<bool>;
    /// The client holding the token with this digest.
    async fn scim_client_by_token(&self, token_digest: &str) -> Result<Option<ScimClient>>;
    /// Records a use of the client's token at `at`.
    async fn touch_scim_client(&self, name: &str, at: OffsetDateTime) -> Result<()>;
}
