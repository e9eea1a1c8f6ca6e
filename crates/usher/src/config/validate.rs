use actix_web::http::Uri;

use super::{Config, ConfigError, resolve_secret};

impl Config {
    /// Checks what types alone cannot: URLs, schemes, and settings that only make
    /// sense together. Every error names its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_public_url()?;
        let database = self.database_url()?;
        let db = database.expose();
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(ConfigError::invalid(
                "database.url",
                "expected sqlite://PATH?mode=rwc or postgres://USER[:PASSWORD]@HOST[:PORT]/DB",
            ));
        }
        if let Some(redis) = self.redis_url()? {
            let r = redis.expose();
            if r.starts_with("rediss://") {
                return Err(ConfigError::invalid(
                    "redis.url",
                    "rediss:// (TLS) is not supported by this build; reach Redis over a private \
                     network or a local TLS proxy (stunnel) with redis://",
                ));
            }
            if !r.starts_with("redis://") {
                return Err(ConfigError::invalid(
                    "redis.url",
                    "expected redis://[:PASSWORD@]HOST[:PORT][/DB]",
                ));
            }
        }
        if self.redis.key_prefix.is_empty() || self.redis.key_prefix.len() > 64 {
            return Err(ConfigError::invalid(
                "redis.key_prefix",
                "expected 1 to 64 characters, such as \"usher:\"",
            ));
        }
        if self.ephemeral.max_entries == 0 {
            return Err(ConfigError::invalid(
                "ephemeral.max_entries",
                "expected a positive number",
            ));
        }
        // Below 1 MiB not even one value of the largest size fits.
        if self.ephemeral.max_bytes < 1024 * 1024 {
            return Err(ConfigError::invalid(
                "ephemeral.max_bytes",
                "expected at least 1048576 (1 MiB, the largest value); the default is \
                 268435456 (256 MiB)",
            ));
        }
        self.pending_sign_ins.policy()?;
        if self.server.workers == Some(0) {
            return Err(ConfigError::invalid(
                "server.workers",
                "expected a positive number, or leave it out for one per core",
            ));
        }
        let master = resolve_secret(
            "keys.master_key",
            self.keys.master_key.as_ref(),
            self.keys.master_key_file.as_deref(),
        )?;
        if let Some(master) = &master {
            usher_store::MasterKey::from_base64(master.expose())
                .map_err(|e| ConfigError::invalid("keys.master_key", e.to_string()))?;
        } else if !db.starts_with("sqlite:") {
            // A generated key lives in one machine's data directory; with a shared
            // database every instance must seal and open keys with the same one.
            return Err(ConfigError::invalid(
                "keys.master_key_file",
                "a master key is required with PostgreSQL, so that every instance shares it; \
                 create one with `openssl rand -base64 32 > master.key` and set \
                 keys.master_key_file",
            ));
        }
        if self.keys.publish_retired_for.is_zero() {
            return Err(ConfigError::invalid(
                "keys.publish_retired_for",
                "expected a duration such as \"24h\": retired keys must stay published until \
                 the tokens they signed expire",
            ));
        }
        // Zero would prune an event the moment it is handled, leaving nothing to
        // look back at; past ten years the cut-off date stops being a date.
        let retention = self.outbox.retention;
        if retention.is_zero() || retention > std::time::Duration::from_secs(3650 * 24 * 3600) {
            return Err(ConfigError::invalid(
                "outbox.retention",
                "expected a duration from 1s to 3650d, such as \"7d\"",
            ));
        }
        let retention = self.report.retention;
        if retention.is_zero() || retention > std::time::Duration::from_secs(3650 * 24 * 3600) {
            return Err(ConfigError::invalid(
                "report.retention",
                "expected a duration from 1s to 3650d, such as \"90d\"",
            ));
        }
        self.validate_accounts()?;
        self.oidc.clients()?;
        self.saml.service_providers()?;
        self.scim.clients()?;
        super::oidc_upstreams(&self.upstreams)?;
        super::saml_upstreams(&self.upstreams, &self.server.public_url)?;
        self.validate_allowed_upstreams()?;
        super::declared_apps(self)?;
        Ok(())
    }

    /// An app's `allowed_upstreams` must name configured upstreams (a typo would
    /// silently lock its users out).
    fn validate_allowed_upstreams(&self) -> Result<(), ConfigError> {
        for (i, c) in self.oidc.clients.iter().enumerate() {
            for id in c.allowed_upstreams.iter().flatten() {
                if !self.upstreams.iter().any(|u| &u.id == id) {
                    return Err(ConfigError::invalid(
                        &format!("oidc.clients[{i}].allowed_upstreams"),
                        format!("{id:?} is not the id of any [[upstreams]] entry"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_accounts(&self) -> Result<(), ConfigError> {
        let s = &self.sessions;
        if s.idle_timeout.is_zero() || s.absolute_timeout < s.idle_timeout {
            return Err(ConfigError::invalid(
                "sessions.absolute_timeout",
                "expected durations with 0 < idle_timeout <= absolute_timeout",
            ));
        }
        let p = &self.passwords;
        // RFC 9106 §3.1: memory at least 8 KiB per lane; one pass at least.
        if p.iterations == 0 || p.parallelism == 0 || p.memory_kib < 8 * p.parallelism {
            return Err(ConfigError::invalid(
                "passwords",
                "expected iterations >= 1, parallelism >= 1 and memory_kib >= 8 x parallelism \
                 (the default is memory_kib = 7168, iterations = 5, parallelism = 1)",
            ));
        }
        if p.max_concurrent == Some(0) {
            return Err(ConfigError::invalid(
                "passwords.max_concurrent",
                "expected a positive number",
            ));
        }
        let t = &self.login_throttle;
        if t.per_account_and_ip == 0 || t.per_account == 0 || t.per_ip == 0 || t.window.is_zero() {
            return Err(ConfigError::invalid(
                "login_throttle",
                "expected positive limits and window",
            ));
        }
        if t.per_account < t.per_account_and_ip {
            // The account-wide limit would trip first, from one address: the owner
            // could again be locked out by anyone (lockout as denial of service).
            return Err(ConfigError::invalid(
                "login_throttle.per_account",
                format!(
                    "must be at least login_throttle.per_account_and_ip ({}); the default is 100",
                    t.per_account_and_ip
                ),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for (i, user) in self.users.iter().enumerate() {
            let new = usher_core::NewUser {
                username: user.username.clone(),
                emails: user
                    .email
                    .iter()
                    .map(|e| usher_core::Email::new(e.clone(), true, true))
                    .collect(),
                ..usher_core::NewUser::default()
            };
            new.validate()
                .map_err(|e| ConfigError::invalid(&format!("users[{i}]"), e.to_string()))?;
            if !names.insert(usher_core::normalize_email(&user.username)) {
                return Err(ConfigError::invalid(
                    &format!("users[{i}].username"),
                    format!("{:?} is declared twice", user.username),
                ));
            }
            user.password_source(i)?;
        }
        Ok(())
    }

    fn validate_public_url(&self) -> Result<(), ConfigError> {
        let url = &self.server.public_url;
        let expected = "expected an absolute http(s) URL without query or fragment, such as \
                        https://login.example.com";
        let uri: Uri = url
            .parse()
            .map_err(|_| ConfigError::invalid("server.public_url", expected))?;
        let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
        // OIDC Core §2 / RFC 8414 §2: the issuer has no query or fragment.
        if !scheme_ok || uri.host().is_none() || uri.query().is_some() || url.contains('#') {
            return Err(ConfigError::invalid("server.public_url", expected));
        }
        Ok(())
    }
}
