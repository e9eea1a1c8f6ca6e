//! `[[upstreams]]`: upstream IdPs (OIDC and SAML), their home-realm domains and JIT
//! policies.
//!
//! The fields every upstream has sit at the top of the entry; the protocol's own
//! fields in a sub-table named after its kind (`[upstreams.oidc]`,
//! `[upstreams.saml]`), so that unknown keys are still refused (serde cannot
//! combine `flatten` with `deny_unknown_fields`) and each protocol's settings are
//! one struct its crate owns.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use usher_core::jit::{GroupMapping, JitPolicy, Mapping, SyncMode, Template};
use usher_core::{UpstreamId, UpstreamKind, UpstreamProfile};
use usher_oidc::upstream::{OidcUpstream, UpstreamClientAuth, private_key_jwt_key};

use super::link_by_external_id::ExternalIdConfig;
use super::{ConfigError, Secret, resolve_secret};

/// `[[upstreams]]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Short id: letters, digits, `-`, `_` (the URL segment of its endpoints).
    pub id: String,
    /// `oidc` or `saml`.
    pub kind: KindConfig,
    /// Name on its button; default: the id.
    pub display_name: Option<String>,
    /// False: no button and no sign-ins (IdP-initiated included).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Email domains it is the home realm of (home-realm discovery, and the
    /// domains it is trusted for when linking by verified email).
    #[serde(default)]
    pub domains: Vec<String>,
    /// JIT provisioning policy.
    #[serde(default)]
    pub jit: JitConfig,
    /// The OIDC settings, when `kind = "oidc"`.
    pub oidc: Option<OidcUpstreamConfig>,
    /// The SAML settings, when `kind = "saml"`: usher-saml's own struct (see
    /// `docs/saml.md`, "Upstream SAML IdPs").
    pub saml: Option<usher_saml::SamlUpstreamSettings>,
}

fn yes() -> bool {
    true
}

/// The protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KindConfig {
    /// OpenID Connect.
    Oidc,
    /// SAML 2.0.
    Saml,
}

/// `[upstreams.oidc]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OidcUpstreamConfig {
    /// The issuer; discovery reads `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// usher's client id there.
    pub client_id: String,
    /// The client secret (or `client_secret_file`).
    pub client_secret: Option<Secret>,
    /// File holding the secret.
    pub client_secret_file: Option<PathBuf>,
    /// `client_secret_basic` (default), `client_secret_post` or `private_key_jwt`.
    pub token_endpoint_auth_method: Option<String>,
    /// PEM private key for `private_key_jwt`.
    pub private_key_file: Option<PathBuf>,
    /// The key id the upstream knows that key by.
    pub private_key_id: Option<String>,
    /// Scopes; default `openid email profile`.
    pub scopes: Option<Vec<String>>,
    /// Read the userinfo endpoint too (default true).
    #[serde(default = "yes")]
    pub userinfo: bool,
    /// Timeout of each call to the upstream (default 10 s, at most 60 s).
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

/// `[upstreams.jit]`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct JitConfig {
    /// Create users on first sign-in (default true).
    pub enabled: bool,
    /// Email domains that may sign in through this upstream; empty: any.
    pub allowed_email_domains: Vec<String>,
    /// Client networks (CIDR) sign-ins may come from; empty: anywhere.
    pub allowed_networks: Vec<IpNet>,
    /// The domain allow-list also needs `email_verified`.
    pub require_verified_email: bool,
    /// Link to an existing user with the same verified email (default false).
    pub link_by_verified_email: bool,
    /// Link to the user SCIM client `scim_client` pushed with the externalId
    /// `claim` gives, e.g. `{ claim = "{oid}", scim_client = "entra" }` for Entra
    /// ID (default: off).
    pub link_by_external_id: Option<ExternalIdConfig>,
    /// `import` (default) or `force`.
    pub sync: SyncConfig,
    /// Groups every user of this upstream joins.
    pub default_groups: Vec<String>,
    /// Upstream group name -> usher group name.
    pub group_map: BTreeMap<String, String>,
    /// Unmapped upstream groups become usher groups of the same name.
    pub pass_unmapped_groups: bool,
    /// With `force`, only these groups are removed when no longer asserted;
    /// empty: any group.
    pub managed_groups: Vec<String>,
    /// Attribute mapping templates.
    pub mapping: MappingConfig,
}

impl Default for JitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            allowed_email_domains: Vec::new(),
            allowed_networks: Vec::new(),
            require_verified_email: false,
            link_by_verified_email: false,
            link_by_external_id: None,
            sync: SyncConfig::Import,
            default_groups: Vec::new(),
            group_map: BTreeMap::new(),
            pass_unmapped_groups: false,
            managed_groups: Vec::new(),
            mapping: MappingConfig::default(),
        }
    }
}

/// `sync`
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncConfig {
    /// Only at creation.
    #[default]
    Import,
    /// Every sign-in.
    Force,
}

/// `[upstreams.jit.mapping]`: templates; absent fields keep the defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct MappingConfig {
    pub username: Option<String>,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub groups: Option<String>,
    /// Extra user attributes: name -> template.
    pub attributes: BTreeMap<String, String>,
}

fn domain_list(key: &str, domains: &[String]) -> Result<Vec<String>, ConfigError> {
    domains
        .iter()
        .map(|d| {
            let d = d.trim().trim_end_matches('.').to_lowercase();
            let ok = !d.is_empty()
                && d.len() <= 253
                && d.contains('.')
                && d.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if ok {
                Ok(d)
            } else {
                Err(ConfigError::invalid(
                    key,
                    format!("{d:?} is not a domain name such as \"example.com\""),
                ))
            }
        })
        .collect()
}

impl UpstreamConfig {
    fn key(&self, i: usize, field: &str) -> String {
        format!("upstreams[{i}].{field}")
    }

    fn profile(&self, i: usize) -> Result<UpstreamProfile, ConfigError> {
        let id = UpstreamId::parse(&self.id)
            .map_err(|e| ConfigError::invalid(&self.key(i, "id"), e.to_string()))?;
        let kind = match self.kind {
            KindConfig::Oidc => UpstreamKind::Oidc,
            KindConfig::Saml => UpstreamKind::Saml,
        };
        match (kind, &self.oidc, &self.saml) {
            (UpstreamKind::Oidc, None, _) => {
                return Err(ConfigError::invalid(
                    &self.key(i, "oidc"),
                    "kind = \"oidc\" needs an [upstreams.oidc] table with issuer and client_id",
                ));
            }
            (UpstreamKind::Saml, _, None) => {
                return Err(ConfigError::invalid(
                    &self.key(i, "saml"),
                    "kind = \"saml\" needs an [upstreams.saml] table with metadata_file, \
                     metadata_url, or idp_entity_id + sso_url + certificates",
                ));
            }
            (UpstreamKind::Oidc, _, Some(_)) | (UpstreamKind::Saml, Some(_), _) => {
                return Err(ConfigError::invalid(
                    &self.key(i, "kind"),
                    "the protocol table must match kind (oidc or saml, not both)",
                ));
            }
            _ => {}
        }
        let domains = domain_list(&self.key(i, "domains"), &self.domains)?;
        let jit = self.jit.policy(&self.key(i, "jit"), &domains)?;
        Ok(UpstreamProfile {
            id,
            kind,
            display_name: self
                .display_name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| self.id.clone()),
            enabled: self.enabled,
            domains,
            jit,
        })
    }
}

impl JitConfig {
    fn policy(&self, key: &str, domains: &[String]) -> Result<JitPolicy, ConfigError> {
        let defaults = Mapping::default();
        let m = &self.mapping;
        let template = |field: &str, value: &Option<String>, default: &Template| match value {
            Some(text) => Template::parse(text).map_err(|e| {
                ConfigError::invalid(&format!("{key}.mapping.{field}"), e.to_string())
            }),
            None => Ok(default.clone()),
        };
        let mut attributes = BTreeMap::new();
        for (name, text) in &m.attributes {
            let t = Template::parse(text).map_err(|e| {
                ConfigError::invalid(&format!("{key}.mapping.attributes.{name}"), e.to_string())
            })?;
            attributes.insert(name.clone(), t);
        }
        for name in self
            .default_groups
            .iter()
            .chain(self.group_map.values())
            .chain(&self.managed_groups)
        {
            usher_core::NewGroup::named(name.as_str())
                .validate()
                .map_err(|e| {
                    ConfigError::invalid(&format!("{key}.default_groups"), e.to_string())
                })?;
        }
        Ok(JitPolicy {
            create: self.enabled,
            allowed_email_domains: domain_list(
                &format!("{key}.allowed_email_domains"),
                &self.allowed_email_domains,
            )?,
            allowed_networks: self.allowed_networks.clone(),
            require_verified_email: self.require_verified_email,
            link_by_verified_email: self.link_by_verified_email,
            link_by_external_id: self
                .link_by_external_id
                .as_ref()
                .map(|c| c.rule(key))
                .transpose()?,
            trusted_domains: domains.to_vec(),
            sync: match self.sync {
                SyncConfig::Import => SyncMode::Import,
                SyncConfig::Force => SyncMode::Force,
            },
            mapping: Mapping {
                username: template("username", &m.username, &defaults.username)?,
                email: template("email", &m.email, &defaults.email)?,
                display_name: template("display_name", &m.display_name, &defaults.display_name)?,
                given_name: template("given_name", &m.given_name, &defaults.given_name)?,
                family_name: template("family_name", &m.family_name, &defaults.family_name)?,
                groups: template("groups", &m.groups, &defaults.groups)?,
                attributes,
            },
            groups: GroupMapping {
                map: self.group_map.clone(),
                pass_unmapped: self.pass_unmapped_groups,
                default_groups: self.default_groups.clone(),
                managed: self.managed_groups.clone(),
            },
        })
    }
}

/// Every upstream's common profile, checked: ids unique, a domain claimed by one
/// upstream only, templates that parse.
pub fn profiles(upstreams: &[UpstreamConfig]) -> Result<Vec<UpstreamProfile>, ConfigError> {
    let mut out: Vec<UpstreamProfile> = Vec::new();
    for (i, u) in upstreams.iter().enumerate() {
        let profile = u.profile(i)?;
        if out.iter().any(|p| p.id == profile.id) {
            return Err(ConfigError::invalid(
                &format!("upstreams[{i}].id"),
                format!("{:?} is declared twice", u.id),
            ));
        }
        for d in &profile.domains {
            if let Some(other) = out.iter().find(|p| p.domains.contains(d)) {
                return Err(ConfigError::invalid(
                    &format!("upstreams[{i}].domains"),
                    format!(
                        "{d:?} is already the home realm of upstream {:?}; a domain picks one upstream",
                        other.id.as_str()
                    ),
                ));
            }
        }
        out.push(profile);
    }
    Ok(out)
}

/// The OIDC upstreams, as usher-oidc's relying party takes them (secrets and
/// private keys read from their files).
pub fn oidc_upstreams(upstreams: &[UpstreamConfig]) -> Result<Vec<OidcUpstream>, ConfigError> {
    let profiles = profiles(upstreams)?;
    let mut out = Vec::new();
    for (i, (u, profile)) in upstreams.iter().zip(profiles).enumerate() {
        let Some(oidc) = &u.oidc else { continue };
        let key = |f: &str| format!("upstreams[{i}].oidc.{f}");
        check_issuer(&key("issuer"), &oidc.issuer)?;
        if oidc.client_id.is_empty() {
            return Err(ConfigError::invalid(&key("client_id"), "must not be empty"));
        }
        if oidc.timeout.is_zero() || oidc.timeout > Duration::from_secs(60) {
            return Err(ConfigError::invalid(
                &key("timeout"),
                "expected a duration between 1s and 60s",
            ));
        }
        let secret = resolve_secret(
            &key("client_secret"),
            oidc.client_secret.as_ref(),
            oidc.client_secret_file.as_deref(),
        )?;
        let method = oidc.token_endpoint_auth_method.as_deref().unwrap_or(
            if oidc.private_key_file.is_some() {
                "private_key_jwt"
            } else {
                "client_secret_basic"
            },
        );
        let need_secret = || {
            secret
                .clone()
                .map(|s| s.expose().to_owned())
                .ok_or_else(|| {
                    ConfigError::invalid(
                        &key("client_secret"),
                        format!("{method} needs client_secret or client_secret_file"),
                    )
                })
        };
        let auth = match method {
            "client_secret_basic" => UpstreamClientAuth::SecretBasic(need_secret()?),
            "client_secret_post" => UpstreamClientAuth::SecretPost(need_secret()?),
            "private_key_jwt" => {
                let path = oidc.private_key_file.as_ref().ok_or_else(|| {
                    ConfigError::invalid(
                        &key("private_key_file"),
                        "private_key_jwt needs a PEM private key file",
                    )
                })?;
                let pem = std::fs::read(path).map_err(|e| {
                    ConfigError::invalid(
                        &key("private_key_file"),
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                let kid = oidc.private_key_id.as_deref().unwrap_or("usher");
                UpstreamClientAuth::PrivateKeyJwt(Box::new(
                    private_key_jwt_key(&pem, kid)
                        .map_err(|e| ConfigError::invalid(&key("private_key_file"), e))?,
                ))
            }
            other => {
                return Err(ConfigError::invalid(
                    &key("token_endpoint_auth_method"),
                    format!(
                        "{other:?}: expected client_secret_basic, client_secret_post or private_key_jwt"
                    ),
                ));
            }
        };
        let mut scopes = oidc
            .scopes
            .clone()
            .unwrap_or_else(|| vec!["openid".into(), "email".into(), "profile".into()]);
        if !scopes.iter().any(|s| s == "openid") {
            scopes.insert(0, "openid".into());
        }
        out.push(OidcUpstream {
            id: profile.id,
            display_name: profile.display_name,
            enabled: profile.enabled,
            issuer: oidc.issuer.trim_end_matches('/').to_owned(),
            client_id: oidc.client_id.clone(),
            auth,
            scopes,
            userinfo: oidc.userinfo,
            timeout: oidc.timeout,
        });
    }
    Ok(out)
}

/// An https URL, or http on a loopback host (tests, a local IdP): tokens and
/// codes must not cross a network in clear text (OIDC Core §3.1.2.1). Parsed as
/// reqwest will parse it, so the host judged is the host reached.
fn check_issuer(key: &str, issuer: &str) -> Result<(), ConfigError> {
    let parsed = reqwest::Url::parse(issuer)
        .map_err(|_| ConfigError::invalid(key, "expected an https URL"))?;
    if parsed
        .host_str()
        .is_some_and(|h| usher_core::transport::is_protected(parsed.scheme(), h))
    {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            key,
            "expected an https URL (http only for localhost)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use figment::providers::Format;

    #[derive(Deserialize)]
    struct Wrap {
        upstreams: Vec<UpstreamConfig>,
    }

    fn try_parse(toml: &str) -> Result<Vec<UpstreamConfig>, String> {
        figment::Figment::from(figment::providers::Toml::string(toml))
            .extract::<Wrap>()
            .map(|w| w.upstreams)
            .map_err(|e| e.to_string())
    }

    fn parse(toml: &str) -> Vec<UpstreamConfig> {
        try_parse(toml).expect("parses")
    }

    const OK: &str = r#"
[[upstreams]]
id = "corp"
kind = "oidc"
domains = ["Example.COM"]
[upstreams.oidc]
issuer = "https://login.example.com"
client_id = "usher"
client_secret = "s3cret"
[upstreams.jit]
allowed_networks = ["10.0.0.0/8"]
sync = "force"
default_groups = ["staff"]
group_map = { "eng" = "engineering" }
[upstreams.jit.mapping]
username = "{preferred_username|lower}"
attributes = { department = "{department}" }

[[upstreams]]
id = "partner"
kind = "saml"
domains = ["partner.example"]
[upstreams.saml]
metadata_file = "partner.xml"
"#;

    #[test]
    fn a_complete_example_loads() {
        let ups = parse(OK);
        let profiles = profiles(&ups).expect("valid");
        assert_eq!(profiles[0].domains, ["example.com"]);
        assert_eq!(profiles[0].jit.sync, SyncMode::Force);
        assert_eq!(profiles[1].kind, UpstreamKind::Saml);
        let oidc = oidc_upstreams(&ups).expect("valid");
        assert_eq!(oidc.len(), 1);
        assert_eq!(oidc[0].scopes, ["openid", "email", "profile"]);
    }

    #[test]
    fn mistakes_name_their_key() {
        let cases = [
            (
                OK.replace("id = \"partner\"", "id = \"corp\""),
                "upstreams[1].id",
            ),
            (
                OK.replace("\"partner.example\"", "\"example.com\""),
                "upstreams[1].domains",
            ),
            (
                OK.replace("{preferred_username|lower}", "{preferred_username|nope}"),
                "upstreams[0].jit.mapping.username",
            ),
            (
                OK.replace("https://login.example.com", "http://login.example.com"),
                "upstreams[0].oidc.issuer",
            ),
            (
                OK.replace("client_secret = \"s3cret\"", ""),
                "upstreams[0].oidc.client_secret",
            ),
            (
                OK.replace("id = \"corp\"", "id = \"a/b\""),
                "upstreams[0].id",
            ),
        ];
        for (toml, key) in cases {
            let ups = parse(&toml);
            let err = profiles(&ups)
                .and_then(|_| oidc_upstreams(&ups))
                .expect_err(key);
            assert!(err.to_string().contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn the_protocol_table_must_match_the_kind() {
        let toml = OK.replace("kind = \"oidc\"", "kind = \"saml\"");
        assert!(profiles(&parse(&toml)).is_err());
        // Unknown keys and tables are refused, not ignored.
        let toml = OK.replace("[upstreams.oidc]", "[upstreams.other]");
        assert!(try_parse(&toml).is_err());
        let toml = OK.replace("sync = \"force\"", "sync = \"force\"\nsnyc = \"import\"");
        assert!(try_parse(&toml).is_err());
    }
}
