use async_trait::async_trait;

use crate::{Result, UserId};

/// Local passwords, as PHC-format hashes (`$argon2id$...`). Hashing and
/// verification belong to the caller; storage never sees a password.
#[async_trait]
pub trait Credentials: Send + Sync {
    /// Sets (or replaces) a user's password hash. `NotFound` if the user is unknown.
    async fn set_password_hash(&self, user: UserId, hash: &str) -> Result<()>;
    /// Sets a password hash as [`set_password_hash`](Self::set_password_hash) does,
    /// writing a `user.set_password` audit record naming `actor` in the same
    /// transaction. What administrators' doors (the CLI, the configuration) use.
    async fn set_password_hash_by(&self, user: UserId, hash: &str, actor: &str) -> Result<()>;
    /// A user's password hash, if the user has a local password.
    async fn password_hash(&self, user: UserId) -> Result<Option<String>>;
    /// Removes a user's local password; `true` when there was one.
    async fn remove_password(&self, user: UserId) -> Result<bool>;
}
