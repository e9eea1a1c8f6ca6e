//! Configuration: defaults, then the TOML file, then `USHER_` environment variables
//! (`__` separates nesting: `USHER_SERVER__BIND=0.0.0.0:8080`). Only the binary reads
//! files and the environment; libraries get plain values from here.
//!
//! Loading never guesses: unknown keys, malformed values and contradictory settings
//! are errors that name the file, the key and what is expected.

mod accounts;
mod apps;
mod link_by_external_id;
mod load;
mod oidc;
mod pending;
mod saml;
mod scim;
mod secret;
mod upstream_saml;
mod upstreams;
mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

pub use accounts::{PasswordSource, PasswordsConfig, SessionsConfig, ThrottleConfig, UserConfig};
pub use apps::{AppConfig, StartError as AppStartError, declared_apps};
pub use link_by_external_id::check_scim_clients;
pub use load::load;
pub use oidc::OidcConfig;
pub use pending::PendingSignInsConfig;
pub use saml::{SamlConfig, SpDeclaration, SpSource};
pub use scim::ScimConfig;
pub use secret::{Secret, resolve as resolve_secret};
pub use upstream_saml::{SamlUpstreamDeclaration, saml_upstreams};
pub use upstreams::{UpstreamConfig, oidc_upstreams, profiles as upstream_profiles};

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where usher keeps its files when nothing else is configured: the SQLite
    /// database and, in the zero-config default, the generated master key.
    pub data_dir: PathBuf,
    /// The HTTP server.
    pub server: ServerConfig,
    /// The durable store.
    pub database: DatabaseConfig,
    /// Redis for shared ephemeral state; absent: process memory.
    pub redis: RedisConfig,
    /// Process-memory ephemeral store limits (used when Redis is not configured).
    pub ephemeral: EphemeralConfig,
    /// Signing keys and the master key sealing them.
    pub keys: KeysConfig,
    /// SSO session lifetimes.
    pub sessions: SessionsConfig,
    /// Password hashing cost.
    pub passwords: PasswordsConfig,
    /// Failed sign-in limits.
    pub login_throttle: ThrottleConfig,
    /// Sign-ins one client address may start before signing in.
    pub pending_sign_ins: PendingSignInsConfig,
    /// Local accounts declared in the file.
    pub users: Vec<UserConfig>,
    /// The OpenID Provider and its clients.
    pub oidc: OidcConfig,
    /// The SAML IdP and its service providers.
    pub saml: SamlConfig,
    /// `[[upstreams]]`: upstream IdPs (OIDC, SAML) and their JIT policies.
    pub upstreams: Vec<UpstreamConfig>,
    /// The SCIM service and its clients.
    pub scim: ScimConfig,
    /// `[[apps]]`: applications (sign-in side, provisioning side, assignment).
    pub apps: Vec<AppConfig>,
    /// How long processed lifecycle events are kept.
    pub outbox: OutboxConfig,
    /// How long outbound provisioning report rows are kept.
    pub report: ReportConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            redis: RedisConfig::default(),
            ephemeral: EphemeralConfig::default(),
            keys: KeysConfig::default(),
            sessions: SessionsConfig::default(),
            passwords: PasswordsConfig::default(),
            login_throttle: ThrottleConfig::default(),
            pending_sign_ins: PendingSignInsConfig::default(),
            users: Vec::new(),
            oidc: OidcConfig::default(),
            saml: SamlConfig::default(),
            upstreams: Vec::new(),
            scim: ScimConfig::default(),
            apps: Vec::new(),
            outbox: OutboxConfig::default(),
            report: ReportConfig::default(),
        }
    }
}

/// `[server]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// The URL people and apps reach usher at: the OIDC issuer, the SAML entity id
    /// base and the base of links in pages.
    pub public_url: String,
    /// Address and port to listen on.
    pub bind: SocketAddr,
    /// Networks whose `X-Forwarded-For` is believed (load balancers, proxies).
    pub trusted_proxies: Vec<IpNet>,
    /// Worker threads; absent: one per CPU core.
    pub workers: Option<usize>,
    /// How long in-flight requests may finish after SIGTERM.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            trusted_proxies: Vec::new(),
            workers: None,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://path?mode=rwc` or `postgres://user:password@host/db`; a secret,
    /// since it may carry a password. Absent: SQLite in `data_dir`.
    pub url: Option<Secret>,
    /// File holding the URL.
    pub url_file: Option<PathBuf>,
}

/// `[redis]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://[:password@]host:port/db`; absent: ephemeral state in memory, which
    /// is right for exactly one instance.
    pub url: Option<Secret>,
    /// File holding the URL.
    pub url_file: Option<PathBuf>,
    /// Prefix of every key, so several deployments can share one Redis.
    pub key_prefix: String,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: None,
            url_file: None,
            key_prefix: "usher:".into(),
        }
    }
}

/// `[ephemeral]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EphemeralConfig {
    /// Most entries the in-memory store holds (sessions, codes, counters).
    pub max_entries: usize,
    /// Most bytes of keys and values the in-memory store holds.
    pub max_bytes: usize,
}

impl Default for EphemeralConfig {
    fn default() -> Self {
        Self {
            max_entries: usher_store::MemoryEphemeralStore::DEFAULT_MAX_ENTRIES,
            max_bytes: usher_store::MemoryEphemeralStore::DEFAULT_MAX_BYTES,
        }
    }
}

/// `[keys]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// The 32-byte master key, base64, that seals private keys at rest.
    pub master_key: Option<Secret>,
    /// File holding the master key (base64).
    pub master_key_file: Option<PathBuf>,
    /// How long a rotated-out key stays published; at least the longest lifetime of
    /// a token or assertion usher issues.
    #[serde(with = "humantime_serde")]
    pub publish_retired_for: Duration,
}

impl Default for KeysConfig {
    fn default() -> Self {
        Self {
            master_key: None,
            master_key_file: None,
            publish_retired_for: Duration::from_secs(24 * 3600),
        }
    }
}

/// `[outbox]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// How long a lifecycle event is kept once the planner has handled it (for
    /// looking back at what happened); unhandled events are never pruned.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// `[report]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// How long an outbound attempt stays in the provisioning report (`usher
    /// report`); older rows are pruned hourly.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

/// Why configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or environment could not be parsed into the schema.
    #[error("{0}")]
    Load(String),
    /// A value parsed but breaks a rule.
    #[error("invalid configuration: `{key}`: {message}")]
    Invalid {
        /// The key, dotted (`server.bind`).
        key: String,
        /// What is wrong and what is expected.
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(key: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

impl Config {
    /// The database URL: configured, or SQLite in the data directory.
    pub fn database_url(&self) -> Result<Secret, ConfigError> {
        let configured = resolve_secret(
            "database.url",
            self.database.url.as_ref(),
            self.database.url_file.as_deref(),
        )?;
        Ok(configured.unwrap_or_else(|| {
            Secret::new(format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("usher.db").display()
            ))
        }))
    }

    /// The Redis URL, when Redis is configured.
    pub fn redis_url(&self) -> Result<Option<Secret>, ConfigError> {
        resolve_secret(
            "redis.url",
            self.redis.url.as_ref(),
            self.redis.url_file.as_deref(),
        )
    }
}
