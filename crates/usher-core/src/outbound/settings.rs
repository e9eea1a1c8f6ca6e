//! An application's provisioning side, checked when built.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::jit::Template;

/// When accounts are created in the app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisioningMode {
    /// Create on assignment (ahead of the first sign-in), update and deprovision.
    #[default]
    Push,
    /// Create just before usher sends the user's first SSO response to the app;
    /// updates and deprovisioning then follow as in `push`.
    OnFirstSignIn,
    /// Nothing is sent.
    Off,
}

/// What "no longer assigned" does to the remote account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeprovisionAction {
    /// Deactivate (reversible: coming back reactivates the same account).
    #[default]
    Deactivate,
    /// Delete (coming back creates a new account).
    Delete,
}

/// What an update does when the app no longer has the account (404).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnRemoteMissing {
    /// Create it again.
    #[default]
    Recreate,
    /// Record the failure and park the job.
    Report,
}

/// How a remote account is found before a create, in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKey {
    /// The record's `external_id` (usher's user id).
    ExternalId,
    /// The mapped login name.
    UserName,
    /// The primary email.
    Email,
}

/// Which operations usher may perform in the app (Entra ID's target-object
/// actions). A switched-off operation is skipped and reported as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Operations {
    /// Create accounts.
    pub create: bool,
    /// Update accounts.
    pub update: bool,
    /// Deactivate (and reactivate) accounts.
    pub deactivate: bool,
    /// Delete accounts.
    pub delete: bool,
}

impl Default for Operations {
    fn default() -> Self {
        Self {
            create: true,
            update: true,
            deactivate: true,
            delete: true,
        }
    }
}

/// A per-app rate limit: a token bucket and a cap on requests in flight, held by
/// whichever instance sends for the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Sustained requests per minute.
    pub per_minute: u32,
    /// Requests that may go at once after a quiet spell.
    pub burst: u32,
    /// Requests in flight at most.
    pub concurrency: u32,
}

/// Mapping targets usher fills itself: `external_id` is always usher's user id
/// (a retried create finds the first account by it) and `active` the user's own
/// flag (deprovisioning depends on it).
pub const RESERVED_MAPPING_FIELDS: [&str; 2] = ["external_id", "active"];

/// The default attempts before a job is parked: with backoff capped at 30 minutes
/// this is about a day.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 60;

/// An application's provisioning side. Built by deserializing (the file, the API)
/// and then [`check`](Self::check)ed by [`ApplicationSpec::new`](crate::ApplicationSpec::new);
/// the connector's own settings are checked by the connector's factory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisioningSettings {
    /// The connector's registered name (`scim`, `slack`, `webhook`).
    pub connector: String,
    /// The connector's own settings, opaque here; secrets in it are sealed at rest.
    #[serde(default)]
    pub settings: serde_json::Value,
    /// When accounts are created.
    #[serde(default)]
    pub mode: ProvisioningMode,
    /// What losing the assignment does.
    #[serde(default)]
    pub deprovision: DeprovisionAction,
    /// Which operations are allowed.
    #[serde(default)]
    pub operations: Operations,
    /// Push assigned groups with their members.
    #[serde(default)]
    pub group_push: bool,
    /// Target field -> `{claim|transform}` template over the usher user. Fields
    /// not given use the defaults documented in docs/provisioning.md.
    #[serde(default)]
    pub mapping: BTreeMap<String, String>,
    /// How an existing remote account is found before a create.
    #[serde(default = "default_match_keys")]
    pub match_keys: Vec<MatchKey>,
    /// What an update does when the account is gone.
    #[serde(default)]
    pub on_missing: OnRemoteMissing,
    /// Overrides the connector's default rate limit.
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    /// Attempts before a job is parked.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// How long a sign-in waits for its account in `on_first_sign_in` mode, in
    /// milliseconds.
    #[serde(default = "default_first_sign_in_wait_ms")]
    pub first_sign_in_wait_ms: u64,
}

fn default_match_keys() -> Vec<MatchKey> {
    vec![MatchKey::ExternalId, MatchKey::UserName, MatchKey::Email]
}
fn default_max_attempts() -> u32 {
    DEFAULT_MAX_ATTEMPTS
}
fn default_first_sign_in_wait_ms() -> u64 {
    2_000
}

impl ProvisioningSettings {
    /// The mode.
    pub fn mode(&self) -> ProvisioningMode {
        self.mode
    }

    /// Checks what does not depend on the connector; the error starts with the
    /// field's key so the caller can prefix where it came from.
    pub fn check(&self) -> Result<(), String> {
        if self.connector.trim().is_empty() {
            return Err("connector: name the connector (for example \"scim\")".into());
        }
        for (field, source) in &self.mapping {
            if field.trim().is_empty() || field.len() > 256 {
                return Err("mapping: a target field name must be 1 to 256 bytes".into());
            }
            if RESERVED_MAPPING_FIELDS.contains(&field.as_str()) {
                return Err(format!(
                    "mapping.{field}: usher sets it (external_id is usher's user id, active the user's own flag)"
                ));
            }
            Template::parse(source).map_err(|e| format!("mapping.{field}: {e}"))?;
        }
        if self.match_keys.is_empty() {
            return Err("match_keys: give at least one of external_id, user_name, email".into());
        }
        let mut seen = Vec::new();
        for key in &self.match_keys {
            if seen.contains(key) {
                return Err(format!("match_keys: {key:?} is listed twice"));
            }
            seen.push(*key);
        }
        if let Some(rate) = self.rate_limit
            && (rate.per_minute == 0 || rate.burst == 0 || rate.concurrency == 0)
        {
            return Err(
                "rate_limit: per_minute, burst and concurrency must each be at least 1".into(),
            );
        }
        if !(1..=10_000).contains(&self.max_attempts) {
            return Err("max_attempts: must be 1 to 10000".into());
        }
        if self.first_sign_in_wait_ms > 30_000 {
            return Err("first_sign_in_wait_ms: at most 30000 (a sign-in must not hang)".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scim() -> ProvisioningSettings {
        serde_json::from_value(serde_json::json!({"connector": "scim"})).expect("accepted")
    }

    #[test]
    fn defaults_are_push_deactivate_and_three_match_keys() {
        let s = scim();
        assert_eq!(s.mode, ProvisioningMode::Push);
        assert_eq!(s.deprovision, DeprovisionAction::Deactivate);
        assert_eq!(s.match_keys.len(), 3);
        assert!(s.check().is_ok());
    }

    #[test]
    fn a_bad_template_names_its_field() {
        let mut s = scim();
        s.mapping
            .insert("user_name".into(), "{email|nosuch}".into());
        let err = s.check().expect_err("refused");
        assert!(err.starts_with("mapping.user_name"), "{err}");
    }

    #[test]
    fn usher_owned_fields_are_refused_in_the_mapping() {
        for field in RESERVED_MAPPING_FIELDS {
            let mut s = scim();
            s.mapping.insert(field.into(), "{username}".into());
            let err = s.check().expect_err("refused");
            assert!(err.starts_with(&format!("mapping.{field}")), "{err}");
        }
    }

    #[test]
    fn zero_rate_limit_is_refused() {
        let mut s = scim();
        s.rate_limit = Some(RateLimit {
            per_minute: 0,
            burst: 1,
            concurrency: 1,
        });
        assert!(s.check().expect_err("refused").starts_with("rate_limit"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let r: Result<ProvisioningSettings, _> =
            serde_json::from_value(serde_json::json!({"connector": "scim", "mod": "push"}));
        assert!(r.is_err());
    }
}
