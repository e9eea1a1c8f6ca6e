//! `[saml]` and `[[saml.service_providers]]`: the SAML IdP and the apps that use it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use usher_saml::{Acs, Binding, Claim, NameIdFormat, ServiceProvider, SignWhat};

use super::ConfigError;

/// `[saml]`
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamlConfig {
    /// Advertise `WantAuthnRequestsSigned` and require every AuthnRequest signed.
    pub want_authn_requests_signed: bool,
    /// Registered service providers.
    pub service_providers: Vec<SpConfig>,
}

/// `[[saml.service_providers]]`: by metadata file, or by fields (fields given
/// alongside a metadata file override what it says).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SpConfig {
    /// Entity id; must equal the metadata's when both are given.
    pub entity_id: String,
    /// The SP's metadata XML.
    pub metadata_file: Option<PathBuf>,
    /// ACS URLs (HTTP-POST binding), index = position; the first is the default.
    #[serde(default)]
    pub acs_urls: Vec<String>,
    /// Single Logout URL.
    pub slo_url: Option<String>,
    /// The SP's signing certificate (PEM), to verify its requests.
    pub certificate_file: Option<PathBuf>,
    /// The SP's encryption certificate (PEM, RSA key): assertions to this SP are
    /// encrypted to it (AES-256-GCM, RSA-OAEP key transport). Overrides a
    /// metadata file's encryption KeyDescriptor.
    pub encryption_certificate_file: Option<PathBuf>,
    /// Refuse unsigned AuthnRequests from this SP.
    #[serde(default)]
    pub want_signed_requests: bool,
    /// What to sign: `response` (default), `assertion` or `both`.
    pub sign: Option<String>,
    /// `emailAddress`, `persistent`, `transient` or `unspecified` (default).
    pub name_id_format: Option<String>,
    /// SAML attribute name -> claim (`email`, `given_name`, `family_name`, `name`,
    /// `username`, `groups`).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Allow IdP-initiated sign-in at `/saml/sso/init?sp=ENTITY_ID`.
    #[serde(default)]
    pub allow_idp_initiated: bool,
    /// Assertion lifetime (default 5 minutes).
    #[serde(default, with = "humantime_serde")]
    pub assertion_lifetime: Option<Duration>,
}

impl SamlConfig {
    /// Every service provider, checked (metadata and certificate files are read).
    pub fn service_providers(&self) -> Result<Vec<ServiceProvider>, ConfigError> {
        let mut seen = std::collections::HashSet::new();
        let mut sps = Vec::new();
        for (i, sp) in self.service_providers.iter().enumerate() {
            if !seen.insert(sp.entity_id.as_str()) {
                return Err(ConfigError::invalid(
                    &format!("saml.service_providers[{i}].entity_id"),
                    format!("{:?} is declared twice", sp.entity_id),
                ));
            }
            sps.push(sp.to_service_provider(i)?);
        }
        Ok(sps)
    }
}

impl SpConfig {
    fn to_service_provider(&self, i: usize) -> Result<ServiceProvider, ConfigError> {
        let key = |k: &str| format!("saml.service_providers[{i}].{k}");
        let mut sp = match &self.metadata_file {
            Some(path) => {
                let xml = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError::invalid(
                        &key("metadata_file"),
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                let sp = usher_saml::parse_sp_metadata(&xml).map_err(|e| {
                    ConfigError::invalid(&key("metadata_file"), format!("{}: {e}", path.display()))
                })?;
                if sp.entity_id != self.entity_id {
                    return Err(ConfigError::invalid(
                        &key("entity_id"),
                        format!("the metadata describes {:?}", sp.entity_id),
                    ));
                }
                sp
            }
            None => {
                let Some(first) = self.acs_urls.first() else {
                    return Err(ConfigError::invalid(
                        &key("acs_urls"),
                        "give metadata_file or at least one ACS URL",
                    ));
                };
                ServiceProvider::new(self.entity_id.clone(), first.clone())
            }
        };
        if !self.acs_urls.is_empty() {
            sp.acs = self
                .acs_urls
                .iter()
                .enumerate()
                .map(|(n, url)| Acs {
                    url: url.clone(),
                    binding: Binding::HttpPost,
                    index: n as u16,
                    default: n == 0,
                })
                .collect();
        }
        for (n, acs) in sp.acs.iter().enumerate() {
            super::oidc::check_redirect_uri(
                &format!("saml.service_providers[{i}].acs_urls[{n}]"),
                &acs.url,
            )?;
        }
        if let Some(url) = &self.slo_url {
            super::oidc::check_redirect_uri(&key("slo_url"), url)?;
            sp.slo_url = Some(url.clone());
        }
        if let Some(path) = &self.certificate_file {
            sp.signing_cert_der = Some(read_certificate(&key("certificate_file"), path, false)?);
        }
        if let Some(path) = &self.encryption_certificate_file {
            sp.encryption_cert_der = Some(read_certificate(
                &key("encryption_certificate_file"),
                path,
                true,
            )?);
        }
        sp.want_signed_requests |= self.want_signed_requests;
        if sp.want_signed_requests && sp.signing_cert_der.is_none() {
            return Err(ConfigError::invalid(
                &key("certificate_file"),
                "signed requests are required but no SP certificate is known",
            ));
        }
        if let Some(sign) = &self.sign {
            sp.sign = match sign.as_str() {
                "response" => SignWhat::Response,
                "assertion" => SignWhat::Assertion,
                "both" => SignWhat::Both,
                _ => {
                    return Err(ConfigError::invalid(
                        &key("sign"),
                        "expected response, assertion or both",
                    ));
                }
            };
        }
        if let Some(format) = &self.name_id_format {
            sp.name_id_format = match format.as_str() {
                "emailAddress" => NameIdFormat::EmailAddress,
                "persistent" => NameIdFormat::Persistent,
                "transient" => NameIdFormat::Transient,
                "unspecified" => NameIdFormat::Unspecified,
                _ => {
                    return Err(ConfigError::invalid(
                        &key("name_id_format"),
                        "expected emailAddress, persistent, transient or unspecified",
                    ));
                }
            };
        }
        if !self.attributes.is_empty() {
            sp.attributes =
                self.attributes
                    .iter()
                    .map(|(name, claim)| {
                        Claim::parse(claim).map(|c| (name.clone(), c)).ok_or_else(|| {
                        ConfigError::invalid(
                            &format!("saml.service_providers[{i}].attributes.{name}"),
                            "expected email, given_name, family_name, name, username or groups",
                        )
                    })
                    })
                    .collect::<Result<_, _>>()?;
        }
        sp.allow_idp_initiated = self.allow_idp_initiated;
        if let Some(lifetime) = self.assertion_lifetime {
            if lifetime.is_zero() || lifetime > Duration::from_secs(3600) {
                return Err(ConfigError::invalid(
                    &key("assertion_lifetime"),
                    "expected a duration up to 1h",
                ));
            }
            sp.assertion_lifetime = lifetime;
        }
        Ok(sp)
    }
}

/// A PEM X.509 certificate file as DER; `rsa` also requires an RSA key (what
/// RSA-OAEP key transport needs). Errors name the configuration key.
fn read_certificate(key: &str, path: &std::path::Path, rsa: bool) -> Result<Vec<u8>, ConfigError> {
    let pem = std::fs::read(path)
        .map_err(|e| ConfigError::invalid(key, format!("cannot read {}: {e}", path.display())))?;
    let cert = openssl::x509::X509::from_pem(&pem).map_err(|_| {
        ConfigError::invalid(
            key,
            format!("{}: expected a PEM X.509 certificate", path.display()),
        )
    })?;
    if rsa
        && cert
            .public_key()
            .map_or(true, |k| k.id() != openssl::pkey::Id::RSA)
    {
        return Err(ConfigError::invalid(
            key,
            format!("{}: the certificate's key must be RSA", path.display()),
        ));
    }
    cert.to_der().map_err(|_| {
        ConfigError::invalid(
            key,
            format!("{}: expected a PEM X.509 certificate", path.display()),
        )
    })
}
