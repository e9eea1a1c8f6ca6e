//! `[[users]]`, `[sessions]`, `[passwords]` and `[login_throttle]`: local accounts
//! and how people sign in.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret, resolve_secret};

/// `[[users]]`: a local account declared in the file (development, break-glass).
/// At every start the account is created if missing, its password set when it
/// changed, and it is added to the listed groups (created if missing).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// Login name.
    pub username: String,
    /// Primary email (taken as verified: an admin vouches for it).
    pub email: Option<String>,
    /// Full name.
    pub display_name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// The password, in clear (hashed with argon2id at start).
    pub password: Option<Secret>,
    /// A file holding the password.
    pub password_file: Option<PathBuf>,
    /// An argon2id PHC hash, for files that must not hold the password.
    pub password_hash: Option<Secret>,
    /// Groups to be a member of.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// How the account's password is given.
#[derive(Debug, Clone)]
pub enum PasswordSource {
    /// In clear; hashed at start.
    Plain(Secret),
    /// Already hashed.
    Hash(Secret),
}

impl UserConfig {
    /// The password, from whichever key gave it.
    pub fn password_source(&self, index: usize) -> Result<Option<PasswordSource>, ConfigError> {
        let key = format!("users[{index}].password");
        let plain = resolve_secret(&key, self.password.as_ref(), self.password_file.as_deref())?;
        match (plain, &self.password_hash) {
            (Some(_), Some(_)) => Err(ConfigError::invalid(
                &key,
                "set either password (or password_file) or password_hash, not both",
            )),
            (Some(p), None) => Ok(Some(PasswordSource::Plain(p))),
            (None, Some(h)) if h.expose().starts_with("$argon2id$") => {
                Ok(Some(PasswordSource::Hash(h.clone())))
            }
            (None, Some(_)) => Err(ConfigError::invalid(
                &format!("users[{index}].password_hash"),
                "expected an argon2id PHC string ($argon2id$v=19$...)",
            )),
            (None, None) => Ok(None),
        }
    }
}

/// `[sessions]`: SSO session lifetimes (defaults as Keycloak's).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionsConfig {
    /// A session unused this long ends.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in.
    #[serde(with = "humantime_serde")]
    pub absolute_timeout: Duration,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(10 * 3600),
        }
    }
}

/// `[passwords]`: argon2id cost. The default is Keycloak's (m = 7 MiB, t = 5, p = 1).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordsConfig {
    /// Memory per hash, KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
    /// Hashes computed at once; absent: one per core. Bounds the memory and CPU a
    /// burst of sign-ins can take.
    pub max_concurrent: Option<usize>,
}

impl Default for PasswordsConfig {
    fn default() -> Self {
        Self {
            memory_kib: 7168,
            iterations: 5,
            parallelism: 1,
            max_concurrent: None,
        }
    }
}

/// `[login_throttle]`: failed sign-ins allowed per window.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleConfig {
    /// Per account from one client address (an IPv6 /64): the first limit.
    pub per_account_and_ip: u32,
    /// Per account from all addresses: the ceiling against a distributed attack.
    pub per_account: u32,
    /// Per client address, across accounts (password spraying).
    pub per_ip: u32,
    /// The window.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        let defaults = usher_web::ThrottlePolicy::default();
        Self {
            per_account_and_ip: defaults.per_account_and_ip,
            per_account: defaults.per_account,
            per_ip: defaults.per_ip,
            window: defaults.window,
        }
    }
}
