//! `[[apps]]`: the applications people reach through usher, each with an optional
//! sign-in side (`oidc_client` or `saml_sp`, naming a registration of
//! `[[oidc.clients]]` or `[[saml.service_providers]]`), an optional provisioning
//! side (`[apps.provisioning]`) and one assignment (`assign`).
//!
//! This file only reads and resolves: references to clients and SPs are looked up
//! in the file, secrets in the connector's settings are read, and at start group
//! and user names become ids. The rules live with the types that own them:
//! `usher_core::ApplicationSpec::new` (names, provisioning side) and the
//! connector's factory (its settings), which `check` runs for every app.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use usher_core::ports::Directory;
use usher_core::{ApplicationSettings, ApplicationSpec, Assignment, SignIn};

use super::{Config, ConfigError};

/// `[[apps]]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// Unique short name (`slack`): what commands and the report use.
    pub name: String,
    /// The name people see ("Slack"); default: `name`.
    pub display_name: Option<String>,
    /// False: nobody signs in through it and nothing is provisioned into it.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The `client_id` of the `[[oidc.clients]]` entry people sign in with.
    pub oidc_client: Option<String>,
    /// The `entity_id` of the `[[saml.service_providers]]` entry people sign in with.
    pub saml_sp: Option<String>,
    /// Who is assigned (names; resolved to ids at start).
    #[serde(default)]
    pub assign: AssignConfig,
    /// The provisioning side.
    pub provisioning: Option<ProvisioningConfig>,
}

fn yes() -> bool {
    true
}

/// `assign = { everyone = false, groups = ["staff"], users = ["ada"] }`
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssignConfig {
    /// Every active user.
    pub everyone: bool,
    /// Members of these groups (by name).
    pub groups: Vec<String>,
    /// These users (by username).
    pub users: Vec<String>,
}

/// `[apps.provisioning]`: `usher_core::outbound::ProvisioningSettings` as written
/// (its serde names the keys), with `settings` the connector's own table.
///
/// The table is kept as written until [`declared_apps`] resolves its secret
/// references, so that `check-config` prints it redacted: every string under
/// `settings` shows as `[redacted]` (the connector alone knows which are
/// secrets), numbers and booleans as they are.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct ProvisioningConfig(Map<String, Value>);

impl ProvisioningConfig {
    fn redacted(&self) -> Map<String, Value> {
        let mut shown = self.0.clone();
        if let Some(settings) = shown.get_mut("settings") {
            redact(settings);
        }
        shown
    }
}

fn redact(value: &mut Value) {
    match value {
        Value::String(s) => *s = "[redacted]".into(),
        Value::Array(items) => items.iter_mut().for_each(redact),
        Value::Object(map) => map.values_mut().for_each(redact),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

impl Serialize for ProvisioningConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.redacted().serialize(s)
    }
}

impl fmt::Debug for ProvisioningConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProvisioningConfig({})", Value::Object(self.redacted()))
    }
}

/// An `[[apps]]` entry checked against the file: its sign-in side names a
/// registered client or SP, its connector settings have their secrets read and
/// were accepted by the connector, and `ApplicationSpec::new` accepted the rest.
/// What is left for start is the assignment's names.
pub struct DeclaredApp {
    index: usize,
    settings: ApplicationSettings,
    assign: AssignConfig,
}

impl fmt::Debug for DeclaredApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The settings hold the connector's resolved secrets.
        f.debug_struct("DeclaredApp")
            .field("name", &self.settings.name)
            .finish_non_exhaustive()
    }
}

/// Every `[[apps]]` entry, checked as far as the file allows (the groups and
/// users it assigns are known only to the database: see [`DeclaredApp::resolve`]).
pub fn declared_apps(config: &Config) -> Result<Vec<DeclaredApp>, ConfigError> {
    let mut names = std::collections::HashSet::new();
    let mut sign_ins = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, app) in config.apps.iter().enumerate() {
        let key = |k: &str| format!("apps[{i}].{k}");
        if !names.insert(app.name.as_str()) {
            return Err(ConfigError::invalid(
                &key("name"),
                format!("{:?} is declared twice", app.name),
            ));
        }
        let sign_in = sign_in(config, app, i)?;
        if let Some(s) = &sign_in
            && !sign_ins.insert(s.clone())
        {
            let field = match s {
                SignIn::Oidc { .. } => "oidc_client",
                SignIn::Saml { .. } => "saml_sp",
            };
            return Err(ConfigError::invalid(
                &key(field),
                format!(
                    "{:?} is already the sign-in side of another app: one client or SP \
                     belongs to one app",
                    s.key()
                ),
            ));
        }
        let provisioning = match &app.provisioning {
            None => None,
            Some(p) => Some(provisioning(p, i)?),
        };
        let settings = ApplicationSettings {
            name: app.name.clone(),
            display_name: app.display_name.clone(),
            enabled: app.enabled,
            sign_in,
            provisioning,
            assignment: Assignment::default(),
        };
        // The rules run now, before any name is resolved, so check-config sees them.
        ApplicationSpec::new(settings.clone()).map_err(|e| spec_error(i, e))?;
        out.push(DeclaredApp {
            index: i,
            settings,
            assign: app.assign.clone(),
        });
    }
    Ok(out)
}

/// The sign-in side: at most one of `oidc_client` and `saml_sp`, naming a
/// registration in this file.
fn sign_in(config: &Config, app: &AppConfig, i: usize) -> Result<Option<SignIn>, ConfigError> {
    match (&app.oidc_client, &app.saml_sp) {
        (Some(_), Some(_)) => Err(ConfigError::invalid(
            &format!("apps[{i}].saml_sp"),
            "give either oidc_client or saml_sp, not both: an app has one sign-in side \
             (declare a second app for the other protocol)",
        )),
        (Some(client_id), None) => {
            if !config
                .oidc
                .clients
                .iter()
                .any(|c| &c.client_id == client_id)
            {
                return Err(ConfigError::invalid(
                    &format!("apps[{i}].oidc_client"),
                    format!("no [[oidc.clients]] has client_id {client_id:?}"),
                ));
            }
            Ok(Some(SignIn::Oidc {
                client_id: client_id.clone(),
            }))
        }
        (None, Some(entity_id)) => {
            let known = config
                .saml
                .service_providers
                .iter()
                .any(|sp| &sp.entity_id == entity_id);
            if !known {
                return Err(ConfigError::invalid(
                    &format!("apps[{i}].saml_sp"),
                    format!("no [[saml.service_providers]] has entity_id {entity_id:?}"),
                ));
            }
            Ok(Some(SignIn::Saml {
                entity_id: entity_id.clone(),
            }))
        }
        (None, None) => Ok(None),
    }
}

/// `[apps.provisioning]` as the core's settings, with the connector's secrets
/// read and its settings accepted by its factory.
fn provisioning(
    written: &ProvisioningConfig,
    i: usize,
) -> Result<usher_core::outbound::ProvisioningSettings, ConfigError> {
    let base = format!("apps[{i}].provisioning");
    let mut table = written.0.clone();
    if let Some(settings) = table.get_mut("settings") {
        resolve_secrets(settings, &format!("{base}.settings"))?;
    }
    let parsed: usher_core::outbound::ProvisioningSettings =
        serde_json::from_value(Value::Object(table))
            .map_err(|e| ConfigError::invalid(&base, e.to_string()))?;
    crate::connectors::check(&parsed.connector, &parsed.settings)
        .map_err(|(key, message)| ConfigError::invalid(&format!("{base}.{key}"), message))?;
    Ok(parsed)
}

/// Replaces every `{ secret_file = "PATH" }` and `{ secret_env = "NAME" }` in a
/// connector's settings by the secret it names, so tokens can live in
/// `/run/secrets` or the environment instead of the file (as `*_file` does for
/// usher's own secrets; a suffix would be ambiguous here, where a connector may
/// have a `ca_file` that is a path, not a secret).
fn resolve_secrets(value: &mut Value, key: &str) -> Result<(), ConfigError> {
    match value {
        Value::Object(map) => {
            if map.contains_key("secret_file") || map.contains_key("secret_env") {
                let secret = read_reference(map, key)?;
                *value = Value::String(secret);
                return Ok(());
            }
            for (k, v) in map.iter_mut() {
                resolve_secrets(v, &format!("{key}.{k}"))?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (n, v) in items.iter_mut().enumerate() {
                resolve_secrets(v, &format!("{key}[{n}]"))?;
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => Ok(()),
    }
}

fn read_reference(map: &Map<String, Value>, key: &str) -> Result<String, ConfigError> {
    let expected = "expected { secret_file = \"PATH\" } or { secret_env = \"VARIABLE\" }, alone";
    let (kind, name) = match (map.get("secret_file"), map.get("secret_env"), map.len()) {
        (Some(Value::String(name)), None, 1) => ("secret_file", name),
        (None, Some(Value::String(name)), 1) => ("secret_env", name),
        _ => return Err(ConfigError::invalid(key, expected)),
    };
    let value = if kind == "secret_file" {
        std::fs::read_to_string(name).map_err(|e| {
            ConfigError::invalid(
                &format!("{key}.secret_file"),
                format!("cannot read secret file {name}: {e}"),
            )
        })?
    } else {
        std::env::var(name).map_err(|_| {
            ConfigError::invalid(
                &format!("{key}.secret_env"),
                format!("the environment variable {name} is not set (or not UTF-8)"),
            )
        })?
    };
    // Editors and `echo` leave a newline behind.
    let value = value.trim_end_matches(['\n', '\r']);
    if value.is_empty() {
        return Err(ConfigError::invalid(
            &format!("{key}.{kind}"),
            format!("{name} is empty"),
        ));
    }
    Ok(value.to_owned())
}

/// `ApplicationSpec::new`'s refusal, keyed under `apps[i]`: its message starts
/// with the field (`provisioning.mapping.user_name: ...`), which joins the key.
fn spec_error(i: usize, error: usher_core::Error) -> ConfigError {
    let message = match error {
        usher_core::Error::Invalid(m) => m,
        other => other.to_string(),
    };
    let field = message.split_once(':').map(|(field, _)| field).filter(|f| {
        !f.is_empty()
            && f.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.[]".contains(&b))
    });
    match field {
        Some(field) => {
            let rest = message
                .split_once(':')
                .map_or("", |(_, r)| r)
                .trim_start()
                .to_owned();
            ConfigError::invalid(&format!("apps[{i}].{field}"), rest)
        }
        None => ConfigError::invalid(&format!("apps[{i}]"), message),
    }
}

impl DeclaredApp {
    /// The spec, with the assigned groups and users looked up by name in the
    /// directory (after the `[[users]]` sync, which creates the groups it names).
    /// An unknown name is an error naming the key: a typo would silently assign
    /// nobody.
    pub async fn resolve(self, directory: &dyn Directory) -> Result<ApplicationSpec, StartError> {
        let i = self.index;
        let mut assignment = Assignment {
            everyone: self.assign.everyone,
            ..Assignment::default()
        };
        for (n, name) in self.assign.groups.iter().enumerate() {
            match directory.find_group_by_name(name).await? {
                Some(group) => {
                    assignment.groups.insert(group.id);
                }
                None => {
                    return Err(StartError::Config(ConfigError::invalid(
                        &format!("apps[{i}].assign.groups[{n}]"),
                        format!(
                            "no group is named {name:?} (groups come from [[users]] groups, \
                             SCIM and just-in-time provisioning)"
                        ),
                    )));
                }
            }
        }
        for (n, name) in self.assign.users.iter().enumerate() {
            match directory.find_user_by_username(name).await? {
                Some(user) => {
                    assignment.users.insert(user.id);
                }
                None => {
                    return Err(StartError::Config(ConfigError::invalid(
                        &format!("apps[{i}].assign.users[{n}]"),
                        format!("no user has the username {name:?}"),
                    )));
                }
            }
        }
        let settings = ApplicationSettings {
            assignment,
            ..self.settings
        };
        ApplicationSpec::new(settings).map_err(|e| StartError::Config(spec_error(i, e)))
    }
}

/// Why the apps could not be resolved at start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The file names something that does not exist.
    #[error(transparent)]
    Config(ConfigError),
    /// The directory could not be read.
    #[error(transparent)]
    Store(#[from] usher_core::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_references_are_read_and_strings_redacted_when_printed() {
        let dir = std::env::temp_dir().join(format!("usher-apps-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("token");
        std::fs::write(&path, "s3cr3t-token\n").expect("write");
        let mut settings = serde_json::json!({
            "base_url": "https://scim.example/v2",
            "auth": { "type": "bearer", "token": { "secret_file": path } },
            "timeout_secs": 5,
        });
        let written = ProvisioningConfig(
            serde_json::json!({ "connector": "scim", "settings": settings.clone() })
                .as_object()
                .expect("object")
                .clone(),
        );
        resolve_secrets(&mut settings, "apps[0].provisioning.settings").expect("resolves");
        assert_eq!(settings["auth"]["token"], "s3cr3t-token");
        let shown = serde_json::to_string(&written).expect("serializes");
        assert!(!shown.contains("https://scim.example"), "{shown}");
        assert!(shown.contains("\"timeout_secs\":5"), "{shown}");
        assert!(!format!("{written:?}").contains("scim.example"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_bad_secret_reference_names_its_key() {
        let mut v = serde_json::json!({ "auth": { "token": { "secret_env": "USHER_TEST_NO_SUCH_VAR_9" } } });
        let err = resolve_secrets(&mut v, "apps[2].provisioning.settings")
            .expect_err("unset")
            .to_string();
        assert!(
            err.contains("apps[2].provisioning.settings.auth.token.secret_env"),
            "{err}"
        );
        let mut v = serde_json::json!({ "token": { "secret_file": "/x", "other": 1 } });
        let err = resolve_secrets(&mut v, "k").expect_err("mixed").to_string();
        assert!(err.contains("`k.token`"), "{err}");
    }

    #[test]
    fn core_refusals_join_the_key() {
        let err = spec_error(
            1,
            usher_core::Error::Invalid("provisioning.mapping.user_name: bad".into()),
        );
        assert!(
            err.to_string()
                .contains("`apps[1].provisioning.mapping.user_name`: bad"),
            "{err}"
        );
        let err = spec_error(0, usher_core::Error::Invalid("name \"X\": no".into()));
        assert!(err.to_string().contains("`apps[0]`: name \"X\""), "{err}");
    }
}
