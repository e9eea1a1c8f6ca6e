//! An upstream SAML IdP's configuration: [`SamlUpstreamSettings`] is what the
//! binary deserializes from an `[[upstreams]] kind = "saml"` entry (the protocol
//! fields; the JIT policy lives beside them and is not read here), and
//! [`SamlUpstream`] is the checked, resolved form the handlers use, built by
//! [`SamlUpstreamSettings::resolve`] from the settings and the metadata text (the
//! binary reads files and fetches URLs; this crate reads nothing).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use usher_core::UpstreamId;

use super::idp_metadata::{certificate_der, parse_idp_metadata};
use crate::metadata_trust::{MetadataPin, signed_root};
use crate::sp::Binding;

/// The largest clock skew allowed to be configured.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(10 * 60);

/// Attribute names read for the email address when none are configured: the
/// common `email` and `mail`, the LDAP OID of `mail` (eduPerson, Shibboleth), and
/// the WS-Federation claim URI ADFS and Entra ID send.
pub const DEFAULT_EMAIL_ATTRIBUTES: [&str; 4] = [
    "email",
    "mail",
    "urn:oid:0.9.2342.19200300.100.1.3",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
];

/// Which binding carries the AuthnRequest to the IdP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SsoBinding {
    /// HTTP-Redirect (Bindings §3.4), signature over the query.
    Redirect,
    /// HTTP-POST (Bindings §3.5), enveloped signature.
    Post,
}

fn default_true() -> bool {
    true
}

fn default_skew() -> u64 {
    120
}

fn default_refresh() -> u64 {
    3600
}

/// The protocol settings of one upstream SAML IdP, as configured (see
/// `docs/saml.md`, "Upstream SAML IdPs"). Metadata (file or URL) or the explicit
/// `idp_entity_id` + `sso_url` + `certificates` fields; explicit fields win over
/// metadata, and certificates from both are trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlUpstreamSettings {
    /// IdP metadata file (read by the binary).
    #[serde(default)]
    pub metadata_file: Option<PathBuf>,
    /// IdP metadata URL: https, or http only on loopback
    /// ([`crate::check_metadata_url`]; fetched by the binary, re-read every
    /// `metadata_refresh_seconds`).
    #[serde(default)]
    pub metadata_url: Option<String>,
    /// How often metadata from a URL is re-read.
    #[serde(default = "default_refresh")]
    pub metadata_refresh_seconds: u64,
    /// A certificate file (PEM; read by the binary and passed to
    /// [`Self::resolve`] in [`SettingsFiles`]): the metadata must then carry an
    /// enveloped signature over its root made with it
    /// ([`crate::metadata_trust::signed_root`]).
    #[serde(default)]
    pub metadata_signing_certificate: Option<PathBuf>,
    /// The IdP's entity id: the expected `Issuer` (required without metadata;
    /// picks the entity in an EntitiesDescriptor).
    #[serde(default)]
    pub idp_entity_id: Option<String>,
    /// The IdP's SingleSignOnService URL (overrides metadata).
    #[serde(default)]
    pub sso_url: Option<String>,
    /// The binding of `sso_url`; from metadata the Redirect binding is preferred.
    #[serde(default)]
    pub sso_binding: Option<SsoBinding>,
    /// The IdP's SingleLogoutService URL (HTTP-Redirect), for logout propagation.
    #[serde(default)]
    pub slo_url: Option<String>,
    /// Signing certificates (PEM or base64 DER) trusted besides the metadata's.
    #[serde(default)]
    pub certificates: Vec<String>,
    /// Files holding more signing certificates (PEM; read by the binary and
    /// passed to [`Self::resolve`]).
    #[serde(default)]
    pub certificate_files: Vec<PathBuf>,
    /// The `<samlp:Response>` must be signed.
    #[serde(default)]
    pub want_response_signed: bool,
    /// The `<saml:Assertion>` must be signed (the default; at least one of the
    /// two is always required).
    #[serde(default = "default_true")]
    pub want_assertion_signed: bool,
    /// Accept unsolicited responses (IdP-initiated sign-in). Off by default:
    /// they cannot be bound to a browser (login CSRF).
    #[serde(default)]
    pub allow_idp_initiated: bool,
    /// Email domains this IdP is authoritative for: only addresses there count
    /// as verified (`email_verified`), for linking to existing users.
    #[serde(default)]
    pub authoritative_email_domains: Vec<String>,
    /// Attribute names holding the email address, first match wins (default
    /// [`DEFAULT_EMAIL_ATTRIBUTES`]); an emailAddress-format NameID is the fallback.
    #[serde(default)]
    pub email_attributes: Vec<String>,
    /// `NameIDPolicy Format` to request (omitted when unset).
    #[serde(default)]
    pub name_id_format: Option<String>,
    /// Allowed clock difference for NotBefore/NotOnOrAfter, at most 600.
    #[serde(default = "default_skew")]
    pub clock_skew_seconds: u64,
    /// usher's SP entity id for this IdP (default
    /// `{public_url}/federation/{id}/saml/metadata`).
    #[serde(default)]
    pub sp_entity_id: Option<String>,
}

impl Default for SamlUpstreamSettings {
    fn default() -> Self {
        Self {
            metadata_file: None,
            metadata_url: None,
            metadata_refresh_seconds: default_refresh(),
            metadata_signing_certificate: None,
            idp_entity_id: None,
            sso_url: None,
            sso_binding: None,
            slo_url: None,
            certificates: Vec::new(),
            certificate_files: Vec::new(),
            want_response_signed: false,
            want_assertion_signed: true,
            allow_idp_initiated: false,
            authoritative_email_domains: Vec::new(),
            email_attributes: Vec::new(),
            name_id_format: None,
            clock_skew_seconds: default_skew(),
            sp_entity_id: None,
        }
    }
}

/// The contents of the files [`SamlUpstreamSettings`] names, read by the binary
/// (this crate reads nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsFiles {
    /// The contents of `certificate_files`, in order.
    pub certificate_files: Vec<String>,
    /// The contents of `metadata_signing_certificate`.
    pub metadata_signing_certificate: Option<String>,
}

/// Why an upstream cannot be configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("upstream {upstream}: {message}")]
pub struct UpstreamConfigError {
    /// The upstream.
    pub upstream: String,
    /// The settings field to fix (`metadata_url`, `certificates`, ...).
    pub field: &'static str,
    /// What is wrong and what to do.
    pub message: String,
}

/// Who the upstream is (from the `[[upstreams]]` entry) and where usher is.
#[derive(Debug, Clone)]
pub struct UpstreamIdentity {
    /// Its id (URL segment).
    pub id: UpstreamId,
    /// The name on its button and error pages.
    pub display_name: String,
    /// False: nothing is accepted, IdP-initiated included.
    pub enabled: bool,
    /// usher's public URL, without a trailing slash.
    pub public_url: String,
}

/// A resolved, checked upstream SAML IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlUpstream {
    /// Its id.
    pub id: UpstreamId,
    /// Its display name.
    pub display_name: String,
    /// Whether it accepts sign-ins.
    pub enabled: bool,
    /// The IdP's entity id (expected Issuer).
    pub idp_entity_id: String,
    /// Where AuthnRequests go.
    pub sso_url: String,
    /// With which binding.
    pub sso_binding: Binding,
    /// The IdP's SLO endpoint (HTTP-Redirect), if any.
    pub slo_url: Option<String>,
    /// The only certificates signatures are checked with (DER), never one
    /// carried in a message.
    pub certificates: Vec<Vec<u8>>,
    /// The Response must be signed.
    pub want_response_signed: bool,
    /// The Assertion must be signed.
    pub want_assertion_signed: bool,
    /// Unsolicited responses accepted.
    pub allow_idp_initiated: bool,
    /// Lower-case domains this IdP is authoritative for.
    pub authoritative_email_domains: Vec<String>,
    /// Attribute names read for the email address.
    pub email_attributes: Vec<String>,
    /// Requested NameID format.
    pub name_id_format: Option<String>,
    /// Clock skew.
    pub clock_skew: Duration,
    /// usher's SP entity id for this IdP (the Audience it must name).
    pub sp_entity_id: String,
    /// usher's ACS for this IdP (Destination and Recipient).
    pub acs_url: String,
}

fn absolute_http(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains(|c: char| c.is_whitespace() || c == '#')
}

impl SamlUpstreamSettings {
    /// Checks and resolves the settings with the metadata text (when configured)
    /// and the contents of the files they name. Refuses an upstream without a
    /// signing certificate: nothing it sends could be verified. With
    /// `metadata_signing_certificate`, the metadata is read only from what its
    /// signature covers, and unsigned or badly signed metadata is refused.
    pub fn resolve(
        &self,
        who: &UpstreamIdentity,
        metadata_xml: Option<&str>,
        files: &SettingsFiles,
    ) -> Result<SamlUpstream, UpstreamConfigError> {
        let fail = |field: &'static str, message: String| UpstreamConfigError {
            upstream: who.id.to_string(),
            field,
            message,
        };
        let metadata_field = if self.metadata_url.is_some() {
            "metadata_url"
        } else {
            "metadata_file"
        };
        const PIN: &str = "metadata_signing_certificate";
        let pin = match (
            &self.metadata_signing_certificate,
            &files.metadata_signing_certificate,
        ) {
            (None, _) => None,
            (Some(_), None) => return Err(fail(PIN, "the certificate file was not read".into())),
            (Some(_), Some(_)) if metadata_xml.is_none() => {
                return Err(fail(
                    PIN,
                    "only applies with metadata_file or metadata_url".into(),
                ));
            }
            (Some(_), Some(text)) => Some(MetadataPin::from_pem(text).map_err(|e| fail(PIN, e))?),
        };
        let metadata = match (metadata_xml, &pin) {
            (Some(xml), Some(pin)) => {
                let signed =
                    signed_root(xml, pin).map_err(|e| fail(PIN, format!("IdP metadata: {e}")))?;
                Some(signed)
            }
            (Some(xml), None) => Some(xml.to_owned()),
            (None, _) => None,
        };
        let metadata = match metadata {
            Some(xml) => Some(
                parse_idp_metadata(&xml, self.idp_entity_id.as_deref())
                    .map_err(|e| fail(metadata_field, e.to_string()))?,
            ),
            None => None,
        };
        let idp_entity_id = self
            .idp_entity_id
            .clone()
            .or_else(|| metadata.as_ref().map(|m| m.entity_id.clone()))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                fail(
                    "idp_entity_id",
                    "idp_entity_id is required without metadata".into(),
                )
            })?;
        let (sso_url, sso_binding) = match (&self.sso_url, &metadata) {
            (Some(url), _) => (
                url.clone(),
                match self.sso_binding.unwrap_or(SsoBinding::Redirect) {
                    SsoBinding::Redirect => Binding::HttpRedirect,
                    SsoBinding::Post => Binding::HttpPost,
                },
            ),
            (None, Some(m)) => {
                let wanted = self.sso_binding.map(|b| match b {
                    SsoBinding::Redirect => Binding::HttpRedirect,
                    SsoBinding::Post => Binding::HttpPost,
                });
                let pick = |b: Binding| m.sso.iter().find(|(x, _)| *x == b);
                let found = match wanted {
                    Some(b) => pick(b),
                    None => pick(Binding::HttpRedirect).or_else(|| pick(Binding::HttpPost)),
                };
                let (b, url) = found.ok_or_else(|| {
                    fail(metadata_field, "the IdP metadata has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding".into())
                })?;
                (url.clone(), *b)
            }
            (None, None) => {
                return Err(fail(
                    "sso_url",
                    "sso_url is required without metadata".into(),
                ));
            }
        };
        if !absolute_http(&sso_url) {
            return Err(fail(
                "sso_url",
                format!("sso_url {sso_url:?} is not an http(s) URL"),
            ));
        }
        let slo_url = self.slo_url.clone().or_else(|| {
            metadata.as_ref().and_then(|m| {
                m.slo
                    .iter()
                    .find(|(b, _)| *b == Binding::HttpRedirect)
                    .map(|(_, u)| u.clone())
            })
        });
        let mut certificates: Vec<Vec<u8>> = metadata
            .as_ref()
            .map(|m| m.signing_certificates.clone())
            .unwrap_or_default();
        for text in &self.certificates {
            certificates.push(certificate_der(text).map_err(|e| fail("certificates", e))?);
        }
        for text in &files.certificate_files {
            certificates.push(certificate_der(text).map_err(|e| fail("certificate_files", e))?);
        }
        certificates.dedup();
        if certificates.is_empty() {
            return Err(fail(
                "certificates",
                "no signing certificate: add the IdP's certificate (certificates, certificate_files) or metadata with a signing KeyDescriptor".into(),
            ));
        }
        let skew = Duration::from_secs(self.clock_skew_seconds);
        if skew > MAX_CLOCK_SKEW {
            return Err(fail(
                "clock_skew_seconds",
                "clock_skew_seconds must be at most 600".into(),
            ));
        }
        let email_attributes = if self.email_attributes.is_empty() {
            DEFAULT_EMAIL_ATTRIBUTES
                .iter()
                .map(|s| (*s).to_owned())
                .collect()
        } else {
            self.email_attributes.clone()
        };
        let base = who.public_url.trim_end_matches('/');
        Ok(SamlUpstream {
            id: who.id.clone(),
            display_name: who.display_name.clone(),
            enabled: who.enabled,
            idp_entity_id,
            sso_url,
            sso_binding,
            slo_url,
            certificates,
            want_response_signed: self.want_response_signed,
            want_assertion_signed: self.want_assertion_signed,
            allow_idp_initiated: self.allow_idp_initiated,
            authoritative_email_domains: self
                .authoritative_email_domains
                .iter()
                .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
                .collect(),
            email_attributes,
            name_id_format: self.name_id_format.clone(),
            clock_skew: skew,
            sp_entity_id: self
                .sp_entity_id
                .clone()
                .unwrap_or_else(|| format!("{base}/federation/{}/saml/metadata", who.id)),
            acs_url: format!("{base}/federation/{}/saml/acs", who.id),
        })
    }
}
