//! `[saml]` and `[[saml.service_providers]]`: the SAML IdP and the apps that use it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use usher_saml::{
    Acs, Binding, Claim, MetadataError, MetadataPin, NameIdFormat, ServiceProvider, SignWhat,
};

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

/// `[[saml.service_providers]]`: by metadata (a file or a URL, re-read every
/// `metadata_refresh`), or by fields; fields given alongside metadata override what
/// it says, at every re-read.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SpConfig {
    /// Entity id; must equal the metadata's when both are given.
    pub entity_id: String,
    /// The SP's metadata XML, as a file.
    pub metadata_file: Option<PathBuf>,
    /// The SP's metadata XML, fetched over https (http only on loopback).
    pub metadata_url: Option<String>,
    /// A certificate (PEM file) the metadata must be signed with: an enveloped
    /// signature over its root, checked at every read.
    pub metadata_signing_certificate: Option<PathBuf>,
    /// How often the metadata is re-read (default 1 hour, at least 1 second).
    #[serde(default, with = "humantime_serde")]
    pub metadata_refresh: Option<Duration>,
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
    /// How long the SP may keep its session (`SessionNotOnOrAfter`); never past
    /// the SSO session's end, which is also the default.
    #[serde(default, with = "humantime_serde")]
    pub session_lifetime: Option<Duration>,
    /// A development SP: its ACS and SLO URLs may be plain http on any host
    /// (usher logs a warning at start). Never for production SPs.
    #[serde(default)]
    pub development: bool,
}

/// How often SP metadata is re-read when `metadata_refresh` is not set.
pub const DEFAULT_METADATA_REFRESH: Duration = Duration::from_secs(3600);
/// The shortest `metadata_refresh` accepted (production values should be minutes).
pub const MIN_METADATA_REFRESH: Duration = Duration::from_secs(1);

/// Where an SP's registration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpSource {
    /// The fields only.
    Fields,
    /// A metadata file.
    File(PathBuf),
    /// Metadata fetched over https (http only on loopback).
    Url(String),
}

/// A declared service provider, checked: where its metadata comes from and the
/// settings from the fields, applied over the metadata each time it is read.
#[derive(Debug, Clone)]
pub struct SpDeclaration {
    /// Entity id.
    pub entity_id: String,
    /// Where its registration comes from.
    pub source: SpSource,
    /// How often the metadata is re-read.
    pub refresh: Duration,
    index: usize,
    pin: Option<MetadataPin>,
    overrides: Overrides,
}

/// Settings from the fields, parsed once.
#[derive(Debug, Clone)]
struct Overrides {
    acs: Vec<Acs>,
    slo_url: Option<String>,
    signing_cert_der: Option<Vec<u8>>,
    encryption_cert_der: Option<Vec<u8>>,
    want_signed_requests: bool,
    sign: Option<SignWhat>,
    name_id_format: Option<NameIdFormat>,
    attributes: Option<Vec<(String, Claim)>>,
    allow_idp_initiated: bool,
    assertion_lifetime: Option<Duration>,
    session_lifetime: Option<Duration>,
    development: bool,
}

impl SamlConfig {
    /// Every service provider declaration, checked (certificate files are read;
    /// metadata is not).
    pub fn declarations(&self) -> Result<Vec<SpDeclaration>, ConfigError> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for (i, sp) in self.service_providers.iter().enumerate() {
            if !seen.insert(sp.entity_id.as_str()) {
                return Err(ConfigError::invalid(
                    &format!("saml.service_providers[{i}].entity_id"),
                    format!("{:?} is declared twice", sp.entity_id),
                ));
            }
            out.push(sp.declaration(i)?);
        }
        Ok(out)
    }

    /// Every declaration checked, and every service provider that needs no network
    /// built (metadata files are read and parsed); the URL ones are fetched by the
    /// server.
    pub fn service_providers(&self) -> Result<Vec<ServiceProvider>, ConfigError> {
        let mut sps = Vec::new();
        for d in self.declarations()? {
            if let Some(sp) = d.load_local()? {
                sps.push(sp);
            }
        }
        Ok(sps)
    }
}

impl SpDeclaration {
    fn key(&self, k: &str) -> String {
        format!("saml.service_providers[{}].{k}", self.index)
    }

    /// The SP, when its registration needs no network: from the fields, or from
    /// its metadata file (read now). `None` for metadata by URL.
    pub fn load_local(&self) -> Result<Option<ServiceProvider>, ConfigError> {
        match &self.source {
            SpSource::Fields => {
                let sp = ServiceProvider::new(self.entity_id.clone(), String::new());
                self.finish(sp).map(Some)
            }
            SpSource::File(path) => {
                let xml = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError::invalid(
                        &self.key("metadata_file"),
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                self.sp_from_metadata(&xml).map(Some)
            }
            SpSource::Url(_) => Ok(None),
        }
    }

    /// The SP from its metadata `xml`, with the fields applied over it. The
    /// metadata must describe this entity id.
    pub fn sp_from_metadata(&self, xml: &str) -> Result<ServiceProvider, ConfigError> {
        let (key, origin) = match &self.source {
            SpSource::File(path) => (self.key("metadata_file"), path.display().to_string()),
            SpSource::Url(url) => (self.key("metadata_url"), url.clone()),
            SpSource::Fields => (self.key("entity_id"), "metadata".to_owned()),
        };
        let sp = usher_saml::parse_sp_metadata(xml, self.pin.as_ref()).map_err(|e| {
            let key = match e {
                MetadataError::Signature(_) => self.key("metadata_signing_certificate"),
                MetadataError::Invalid(_) => key.clone(),
            };
            ConfigError::invalid(&key, format!("{origin}: {e}"))
        })?;
        if sp.entity_id != self.entity_id {
            return Err(ConfigError::invalid(
                &self.key("entity_id"),
                format!("the metadata at {origin} describes {:?}", sp.entity_id),
            ));
        }
        self.finish(sp)
    }

    /// Applies the fields over `sp` and checks the result.
    fn finish(&self, mut sp: ServiceProvider) -> Result<ServiceProvider, ConfigError> {
        let o = &self.overrides;
        if !o.acs.is_empty() {
            sp.acs = o.acs.clone();
        }
        for (n, acs) in sp.acs.iter().enumerate() {
            super::oidc::check_redirect_uri(&self.key(&format!("acs_urls[{n}]")), &acs.url)?;
        }
        if let Some(url) = &o.slo_url {
            sp.slo_url = Some(url.clone());
        }
        if let Some(cert) = &o.signing_cert_der {
            sp.signing_cert_der = Some(cert.clone());
        }
        if let Some(cert) = &o.encryption_cert_der {
            sp.encryption_cert_der = Some(cert.clone());
        }
        sp.want_signed_requests |= o.want_signed_requests;
        if sp.want_signed_requests && sp.signing_cert_der.is_none() {
            return Err(ConfigError::invalid(
                &self.key("certificate_file"),
                "signed requests are required but no SP certificate is known",
            ));
        }
        if let Some(sign) = o.sign {
            sp.sign = sign;
        }
        if let Some(format) = o.name_id_format {
            sp.name_id_format = format;
        }
        if let Some(attributes) = &o.attributes {
            sp.attributes = attributes.clone();
        }
        sp.allow_idp_initiated = o.allow_idp_initiated;
        if let Some(lifetime) = o.assertion_lifetime {
            sp.assertion_lifetime = lifetime;
        }
        sp.session_lifetime = o.session_lifetime;
        // Checked on the result, so endpoints from metadata (at start and at every
        // re-read) meet the same rule as those from the fields.
        sp.check_endpoints(o.development)
            .map_err(|(field, why)| ConfigError::invalid(&self.key(&field), why))?;
        Ok(sp)
    }
}

impl SpConfig {
    fn declaration(&self, i: usize) -> Result<SpDeclaration, ConfigError> {
        let key = |k: &str| format!("saml.service_providers[{i}].{k}");
        let source = match (&self.metadata_file, &self.metadata_url) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    &key("metadata_url"),
                    "give metadata_file or metadata_url, not both",
                ));
            }
            (Some(path), None) => SpSource::File(path.clone()),
            (None, Some(url)) => {
                usher_saml::check_metadata_url(url)
                    .map_err(|e| ConfigError::invalid(&key("metadata_url"), e))?;
                SpSource::Url(url.clone())
            }
            (None, None) => {
                if self.acs_urls.is_empty() {
                    return Err(ConfigError::invalid(
                        &key("acs_urls"),
                        "give metadata_file, metadata_url or at least one ACS URL",
                    ));
                }
                SpSource::Fields
            }
        };
        let refresh = match self.metadata_refresh {
            Some(_) if source == SpSource::Fields => {
                return Err(ConfigError::invalid(
                    &key("metadata_refresh"),
                    "only applies with metadata_file or metadata_url",
                ));
            }
            Some(d) if d < MIN_METADATA_REFRESH => {
                return Err(ConfigError::invalid(
                    &key("metadata_refresh"),
                    "expected a duration of at least 1s (production values should be minutes, \
                     such as \"1h\")",
                ));
            }
            Some(d) => d,
            None => DEFAULT_METADATA_REFRESH,
        };
        let pin =
            match &self.metadata_signing_certificate {
                None => None,
                Some(_) if source == SpSource::Fields => {
                    return Err(ConfigError::invalid(
                        &key("metadata_signing_certificate"),
                        "only applies with metadata_file or metadata_url",
                    ));
                }
                Some(path) => {
                    let key = key("metadata_signing_certificate");
                    let pem = std::fs::read_to_string(path).map_err(|e| {
                        ConfigError::invalid(&key, format!("cannot read {}: {e}", path.display()))
                    })?;
                    Some(MetadataPin::from_pem(&pem).map_err(|e| {
                        ConfigError::invalid(&key, format!("{}: {e}", path.display()))
                    })?)
                }
            };
        Ok(SpDeclaration {
            entity_id: self.entity_id.clone(),
            source,
            refresh,
            index: i,
            pin,
            overrides: self.overrides(i)?,
        })
    }

    fn overrides(&self, i: usize) -> Result<Overrides, ConfigError> {
        let key = |k: &str| format!("saml.service_providers[{i}].{k}");
        let acs: Vec<Acs> = self
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
        for (n, acs) in acs.iter().enumerate() {
            super::oidc::check_redirect_uri(
                &format!("saml.service_providers[{i}].acs_urls[{n}]"),
                &acs.url,
            )?;
        }
        if let Some(url) = &self.slo_url {
            super::oidc::check_redirect_uri(&key("slo_url"), url)?;
        }
        let signing_cert_der = self
            .certificate_file
            .as_ref()
            .map(|path| read_certificate(&key("certificate_file"), path, false))
            .transpose()?;
        let encryption_cert_der = self
            .encryption_certificate_file
            .as_ref()
            .map(|path| read_certificate(&key("encryption_certificate_file"), path, true))
            .transpose()?;
        if self.want_signed_requests
            && signing_cert_der.is_none()
            && self.metadata_file.is_none()
            && self.metadata_url.is_none()
        {
            return Err(ConfigError::invalid(
                &key("certificate_file"),
                "signed requests are required but no SP certificate is known",
            ));
        }
        let sign = match self.sign.as_deref() {
            None => None,
            Some("response") => Some(SignWhat::Response),
            Some("assertion") => Some(SignWhat::Assertion),
            Some("both") => Some(SignWhat::Both),
            Some(_) => {
                return Err(ConfigError::invalid(
                    &key("sign"),
                    "expected response, assertion or both",
                ));
            }
        };
        let name_id_format = match self.name_id_format.as_deref() {
            None => None,
            Some("emailAddress") => Some(NameIdFormat::EmailAddress),
            Some("persistent") => Some(NameIdFormat::Persistent),
            Some("transient") => Some(NameIdFormat::Transient),
            Some("unspecified") => Some(NameIdFormat::Unspecified),
            Some(_) => {
                return Err(ConfigError::invalid(
                    &key("name_id_format"),
                    "expected emailAddress, persistent, transient or unspecified",
                ));
            }
        };
        let attributes = if self.attributes.is_empty() {
            None
        } else {
            Some(
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
                    .collect::<Result<_, _>>()?,
            )
        };
        if let Some(lifetime) = self.assertion_lifetime
            && (lifetime.is_zero() || lifetime > Duration::from_secs(3600))
        {
            return Err(ConfigError::invalid(
                &key("assertion_lifetime"),
                "expected a duration up to 1h",
            ));
        }
        if self
            .session_lifetime
            .is_some_and(|l| l < Duration::from_secs(60))
        {
            return Err(ConfigError::invalid(
                &key("session_lifetime"),
                "expected a duration of at least 1m (the SP's own session; it is \
                 capped by the SSO session's lifetime anyway)",
            ));
        }
        Ok(Overrides {
            acs,
            slo_url: self.slo_url.clone(),
            signing_cert_der,
            encryption_cert_der,
            want_signed_requests: self.want_signed_requests,
            sign,
            name_id_format,
            attributes,
            allow_idp_initiated: self.allow_idp_initiated,
            assertion_lifetime: self.assertion_lifetime,
            session_lifetime: self.session_lifetime,
            development: self.development,
        })
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
