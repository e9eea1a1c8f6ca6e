//! An upstream IdP's metadata (SAML Metadata §2.3.2, §2.4.3): its entity id,
//! SingleSignOnService and SingleLogoutService endpoints and signing
//! certificates, read with the strict tree of [`super::dom`]. The text comes from
//! a file or an https URL; with `metadata_signing_certificate` it is the signed
//! root only ([`crate::metadata_trust::signed_root`], applied by
//! [`super::settings::SamlUpstreamSettings::resolve`]).

// Parses network input: an index out of range must be an error, never a panic.
#![warn(clippy::indexing_slicing)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::dom::{self, DSIG, Element, METADATA};
use crate::sp::Binding;

/// What the IdP's metadata says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdpMetadata {
    /// `entityID`.
    pub entity_id: String,
    /// SingleSignOnService endpoints usher can use, in document order.
    pub sso: Vec<(Binding, String)>,
    /// SingleLogoutService endpoints usher can use.
    pub slo: Vec<(Binding, String)>,
    /// Signing certificates (DER): KeyDescriptors with `use="signing"` or no `use`.
    pub signing_certificates: Vec<Vec<u8>>,
}

/// Why IdP metadata was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("IdP metadata: {0}")]
pub struct IdpMetadataError(pub String);

fn err(m: impl Into<String>) -> IdpMetadataError {
    IdpMetadataError(m.into())
}

/// Parses `xml`: an EntityDescriptor, or an EntitiesDescriptor from which the
/// entity `entity_id` is taken (or its only IdP when `entity_id` is `None`).
pub fn parse_idp_metadata(
    xml: &str,
    entity_id: Option<&str>,
) -> Result<IdpMetadata, IdpMetadataError> {
    let root = dom::parse(xml.as_bytes()).map_err(|e| err(e.to_string()))?;
    let entity = if root.is(METADATA, "EntityDescriptor") {
        &root
    } else if root.is(METADATA, "EntitiesDescriptor") {
        let idps: Vec<&Element> = root
            .descendants()
            .into_iter()
            .filter(|e| e.is(METADATA, "EntityDescriptor"))
            .filter(|e| {
                e.children_named(METADATA, "IDPSSODescriptor")
                    .next()
                    .is_some()
            })
            .filter(|e| entity_id.is_none_or(|id| e.attr("entityID") == Some(id)))
            .collect();
        match idps.as_slice() {
            [one] => *one,
            [] => return Err(err("no matching IdP entity in the EntitiesDescriptor")),
            _ => {
                return Err(err(
                    "several IdP entities in the EntitiesDescriptor: set idp_entity_id",
                ));
            }
        }
    } else {
        return Err(err("the root is not an EntityDescriptor"));
    };
    let found = entity
        .attr("entityID")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| err("entityID is missing"))?;
    if let Some(want) = entity_id
        && want != found
    {
        return Err(err(format!(
            "the metadata describes {found}, not the configured idp_entity_id {want}"
        )));
    }
    let idp = entity
        .only_child(METADATA, "IDPSSODescriptor")
        .map_err(|e| err(e.to_string()))?
        .ok_or_else(|| err("no IDPSSODescriptor"))?;
    let endpoints = |name: &str| -> Vec<(Binding, String)> {
        idp.children_named(METADATA, name)
            .filter_map(|e| {
                let binding = Binding::parse(e.attr("Binding")?)?;
                let location = e.attr("Location")?.trim();
                (!location.is_empty()).then(|| (binding, location.to_owned()))
            })
            .collect()
    };
    let mut signing_certificates = Vec::new();
    for kd in idp.children_named(METADATA, "KeyDescriptor") {
        if !matches!(kd.attr("use"), None | Some("signing")) {
            continue;
        }
        for c in kd
            .descendants()
            .into_iter()
            .filter(|e| e.is(DSIG, "X509Certificate"))
        {
            let text = c.text().ok_or_else(|| err("bad X509Certificate"))?;
            signing_certificates.push(certificate_der(&text).map_err(err)?);
        }
    }
    Ok(IdpMetadata {
        entity_id: found.to_owned(),
        sso: endpoints("SingleSignOnService"),
        slo: endpoints("SingleLogoutService"),
        signing_certificates,
    })
}

/// A certificate from PEM or bare base64 (whitespace ignored), checked to be an
/// X.509 certificate with an RSA or EC public key.
pub fn certificate_der(text: &str) -> Result<Vec<u8>, String> {
    let body: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .collect::<String>()
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = STANDARD
        .decode(body.as_bytes())
        .map_err(|_| "a certificate is not base64 or PEM".to_owned())?;
    let cert = openssl::x509::X509::from_der(&der)
        .map_err(|_| "a certificate is not a valid X.509 certificate".to_owned())?;
    let key = cert
        .public_key()
        .map_err(|_| "a certificate's public key cannot be read".to_owned())?;
    match key.id() {
        openssl::pkey::Id::RSA | openssl::pkey::Id::EC => Ok(der),
        _ => Err("a certificate's key is neither RSA nor EC".to_owned()),
    }
}
