//! A [`ServiceProvider`] from SP metadata (SAML Metadata §2.4.4), as read from a
//! file or fetched from a URL by the binary. The XML gate (DTDs, encodings other
//! than UTF-8) runs before samael parses the document; with a
//! [`MetadataPin`], only what its signature covers is parsed.

use samael::metadata::EntityDescriptor;

use crate::metadata_trust::{self, MetadataPin};
use crate::sp::{Acs, Binding, NameIdFormat, ServiceProvider};
use crate::xml;

/// Why SP metadata was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// Not usable SP metadata.
    #[error("SP metadata: {0}")]
    Invalid(String),
    /// A pin is set and the signature is missing or wrong
    /// (`metadata_signing_certificate`).
    #[error("SP metadata: {0}")]
    Signature(#[from] metadata_trust::SignatureRefused),
}

fn invalid(m: impl Into<String>) -> MetadataError {
    MetadataError::Invalid(m.into())
}

/// Parses SP metadata; per-SP settings not in metadata (what to sign, attributes,
/// IdP-initiated, lifetimes) take [`ServiceProvider::new`]'s defaults for the
/// caller to override. With `pin`, the document must be signed with it (see
/// [`metadata_trust::signed_root`]) and only the signed bytes are read.
pub fn parse_sp_metadata(
    xml_text: &str,
    pin: Option<&MetadataPin>,
) -> Result<ServiceProvider, MetadataError> {
    let signed;
    let xml_text = match pin {
        Some(pin) => {
            signed = metadata_trust::signed_root(xml_text, pin)?;
            signed.as_str()
        }
        None => xml::admit(xml_text.as_bytes()).map_err(|e| invalid(e.to_string()))?,
    };
    let ed: EntityDescriptor = xml_text
        .parse()
        .map_err(|e| invalid(format!("not an EntityDescriptor: {e}")))?;
    let entity_id = ed
        .entity_id
        .clone()
        .ok_or_else(|| invalid("entityID is missing"))?;
    let sso = ed
        .sp_sso_descriptors
        .as_ref()
        .and_then(|d| d.first())
        .ok_or_else(|| invalid("no SPSSODescriptor"))?;
    let acs: Vec<Acs> = sso
        .assertion_consumer_services
        .iter()
        .filter_map(|a| {
            Some(Acs {
                url: a.location.clone(),
                binding: Binding::parse(&a.binding)?,
                index: u16::try_from(a.index).ok()?,
                default: a.is_default.unwrap_or(false),
            })
        })
        .collect();
    if !acs.iter().any(|a| a.binding == Binding::HttpPost) {
        return Err(invalid("no HTTP-POST AssertionConsumerService"));
    }
    // A KeyDescriptor without `use` serves both signing and encryption (SAML
    // Metadata §2.4.1.1).
    let cert_for = |purpose: &str| {
        sso.key_descriptors
            .iter()
            .flatten()
            .filter(|k| k.key_use.as_deref().is_none_or(|u| u == purpose))
            .find_map(|k| {
                let data = k.key_info.x509_data.as_ref()?;
                let cert = data.certificates.first()?;
                samael::crypto::decode_x509_cert(cert)
                    .ok()
                    .map(|c| c.der_data().to_vec())
            })
    };
    let signing_cert_der = cert_for("signing");
    let encryption_cert_der = cert_for("encryption");
    let name_id_format = sso
        .name_id_formats
        .iter()
        .flatten()
        .find_map(|f| NameIdFormat::parse(f.trim()))
        .unwrap_or(NameIdFormat::Unspecified);
    let slo_url = sso
        .single_logout_services
        .iter()
        .flatten()
        .find(|s| Binding::parse(&s.binding).is_some())
        .map(|s| s.location.clone());
    let mut sp = ServiceProvider::new(entity_id, String::new());
    sp.acs = acs;
    sp.slo_url = slo_url;
    sp.want_signed_requests =
        sso.authn_requests_signed.unwrap_or(false) && signing_cert_der.is_some();
    sp.signing_cert_der = signing_cert_der;
    sp.encryption_cert_der = encryption_cert_der;
    sp.name_id_format = name_id_format;
    Ok(sp)
}
