//! Applications: the downstream apps people reach through usher.
//!
//! One application has an optional **sign-in side** (an OIDC client or a SAML SP,
//! registered in its protocol crate and named here by its protocol identifier), an
//! optional **provisioning side** (a connector and how to drive it, see
//! [`crate::outbound::ProvisioningSettings`]) and **one assignment** that decides both who
//! may sign in to it through usher and who gets an account in it.
//!
//! An [`ApplicationSpec`] exists only valid: it is built by
//! [`ApplicationSpec::new`], and deserializing one runs the same checks, so the
//! config file, storage and (later) the admin API cannot bypass them.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::outbound::ProvisioningSettings;
use crate::{ApplicationId, Error, GroupId, Result, UserId};

/// How people sign in to an application through usher.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "snake_case")]
pub enum SignIn {
    /// An OpenID Connect relying party, by its `client_id`.
    Oidc {
        /// The registered client's id.
        client_id: String,
    },
    /// A SAML 2.0 service provider, by its entity id.
    Saml {
        /// The registered SP's entity id.
        entity_id: String,
    },
}

impl SignIn {
    /// The protocol's stored name (`oidc`, `saml`).
    pub fn protocol(&self) -> &'static str {
        match self {
            SignIn::Oidc { .. } => "oidc",
            SignIn::Saml { .. } => "saml",
        }
    }

    /// The protocol identifier (client id, entity id), unique per protocol.
    pub fn key(&self) -> &str {
        match self {
            SignIn::Oidc { client_id } => client_id,
            SignIn::Saml { entity_id } => entity_id,
        }
    }
}

/// Who is assigned to an application: everyone, members of these groups, and these
/// users. Any combination is valid; an empty assignment assigns nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// Every active user (the groups and users then add nothing).
    #[serde(default)]
    pub everyone: bool,
    /// Members of any of these groups.
    #[serde(default)]
    pub groups: BTreeSet<GroupId>,
    /// These users directly.
    #[serde(default)]
    pub users: BTreeSet<UserId>,
}

/// Who manages an application's registration. A configuration-managed app is
/// rewritten from the file at every start; the admin API refuses to edit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManagedBy {
    /// Declared in the config file (`[[apps]]`).
    Config,
    /// Created at run time (admin API).
    Api,
}

impl ManagedBy {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ManagedBy::Config => "config",
            ManagedBy::Api => "api",
        }
    }
}

/// The unchecked parts of an application, as a file or an API body gives them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationSettings {
    /// Unique short name (`slack`): what `--app` and the report use.
    pub name: String,
    /// The name people see ("Slack"); defaults to `name`.
    #[serde(default)]
    pub display_name: Option<String>,
    /// False: nobody signs in through it and nothing is provisioned into it.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The sign-in side.
    #[serde(default)]
    pub sign_in: Option<SignIn>,
    /// The provisioning side.
    #[serde(default)]
    pub provisioning: Option<ProvisioningSettings>,
    /// Who is assigned.
    #[serde(default)]
    pub assignment: Assignment,
}

fn yes() -> bool {
    true
}

/// A valid application registration: what an admin declares, before storage gives
/// it an id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ApplicationSettings", into = "ApplicationSettings")]
pub struct ApplicationSpec {
    name: String,
    display_name: String,
    enabled: bool,
    sign_in: Option<SignIn>,
    provisioning: Option<ProvisioningSettings>,
    assignment: Assignment,
}

/// Longest application name.
pub const MAX_APP_NAME: usize = 64;

impl ApplicationSpec {
    /// Checks `settings`: the name is 1 to 64 characters of `a-z 0-9 - _` (it
    /// appears in commands, URLs and report rows), the display name is 1 to 256
    /// bytes, a sign-in key is not blank, and the provisioning side is valid. The
    /// error names the field.
    pub fn new(settings: ApplicationSettings) -> Result<Self> {
        let ApplicationSettings {
            name,
            display_name,
            enabled,
            sign_in,
            provisioning,
            assignment,
        } = settings;
        check_name(&name)?;
        let display_name = display_name.unwrap_or_else(|| name.clone());
        if display_name.trim().is_empty() || display_name.len() > 256 {
            return Err(Error::Invalid("display_name must be 1 to 256 bytes".into()));
        }
        if let Some(sign_in) = &sign_in {
            let key = sign_in.key();
            if key.trim().is_empty() || key.len() > 1024 {
                return Err(Error::Invalid(format!(
                    "sign_in: the {} identifier must be 1 to 1024 bytes",
                    sign_in.protocol()
                )));
            }
        }
        if let Some(provisioning) = &provisioning {
            provisioning
                .check()
                .map_err(|e| Error::Invalid(format!("provisioning.{e}")))?;
        }
        Ok(Self {
            name,
            display_name,
            enabled,
            sign_in,
            provisioning,
            assignment,
        })
    }

    /// The unique short name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The name people see.
    pub fn display_name(&self) -> &str {
        &self.display_name
    }
    /// Whether it is switched on.
    pub fn enabled(&self) -> bool {
        self.enabled
    }
    /// The sign-in side.
    pub fn sign_in(&self) -> Option<&SignIn> {
        self.sign_in.as_ref()
    }
    /// The provisioning side.
    pub fn provisioning(&self) -> Option<&ProvisioningSettings> {
        self.provisioning.as_ref()
    }
    /// Who is assigned.
    pub fn assignment(&self) -> &Assignment {
        &self.assignment
    }
}

impl TryFrom<ApplicationSettings> for ApplicationSpec {
    type Error = Error;
    fn try_from(settings: ApplicationSettings) -> Result<Self> {
        Self::new(settings)
    }
}

impl From<ApplicationSpec> for ApplicationSettings {
    fn from(spec: ApplicationSpec) -> Self {
        ApplicationSettings {
            name: spec.name,
            display_name: Some(spec.display_name),
            enabled: spec.enabled,
            sign_in: spec.sign_in,
            provisioning: spec.provisioning,
            assignment: spec.assignment,
        }
    }
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_APP_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "name {name:?}: an application name is 1 to {MAX_APP_NAME} characters of a-z, 0-9, '-' and '_'"
        )))
    }
}

/// An application as stored: a valid spec with its stable id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    /// Stable id, kept across restarts for a config-managed app (matched by name).
    pub id: ApplicationId,
    /// What it is.
    pub spec: ApplicationSpec,
    /// Who manages it.
    pub managed_by: ManagedBy,
    /// When created.
    pub created_at: OffsetDateTime,
    /// When last changed.
    pub updated_at: OffsetDateTime,
}

impl Application {
    /// Whether provisioning into it is switched on (enabled app, a provisioning side,
    /// mode other than `off`).
    pub fn provisions(&self) -> bool {
        self.spec.enabled
            && self
                .spec
                .provisioning
                .as_ref()
                .is_some_and(|p| p.mode() != crate::outbound::ProvisioningMode::Off)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(name: &str) -> ApplicationSettings {
        ApplicationSettings {
            name: name.into(),
            display_name: None,
            enabled: true,
            sign_in: Some(SignIn::Oidc {
                client_id: "wiki".into(),
            }),
            provisioning: None,
            assignment: Assignment::default(),
        }
    }

    #[test]
    fn names_are_short_slugs() {
        assert!(ApplicationSpec::new(settings("slack-eu_2")).is_ok());
        for bad in ["", "Slack", "sl ack", "slack/", "ä", &"a".repeat(65)] {
            let err = ApplicationSpec::new(settings(bad))
                .expect_err("refused")
                .to_string();
            assert!(err.contains("application name"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn display_name_defaults_to_name() {
        let spec = ApplicationSpec::new(settings("wiki")).expect("accepted");
        assert_eq!(spec.display_name(), "wiki");
    }

    #[test]
    fn blank_sign_in_key_is_refused() {
        let mut s = settings("wiki");
        s.sign_in = Some(SignIn::Saml {
            entity_id: " ".into(),
        });
        let err = ApplicationSpec::new(s).expect_err("refused").to_string();
        assert!(err.contains("sign_in"), "{err}");
    }

    #[test]
    fn deserializing_runs_the_checks() {
        let bad = serde_json::json!({"name": "Not Valid"});
        assert!(serde_json::from_value::<ApplicationSpec>(bad).is_err());
        let good = serde_json::json!({"name": "wiki", "sign_in": {"protocol": "oidc", "client_id": "wiki"}});
        let spec: ApplicationSpec = serde_json::from_value(good).expect("accepted");
        let back = serde_json::to_value(&spec).expect("accepted");
        assert_eq!(back["display_name"], "wiki");
    }
}
