//! How far SAML metadata is believed, for SP metadata and upstream IdP metadata
//! alike. Metadata carries the keys and endpoints every later trust decision
//! rests on (an IdP's signing certificates, an SP's ACS and encryption
//! certificate), so whoever can change it in transit can forge any identity or
//! receive the assertions (SAML Metadata §3, "Signature Processing", leaves
//! how metadata is trusted to the deployment; usher's rules):
//!
//! - a metadata URL is https, or plain http only to a loopback host
//!   ([`check_metadata_url`], the rule of [`usher_core::transport`]); the binary,
//!   which fetches, applies the same rule to every redirect;
//! - a [`MetadataPin`] (`metadata_signing_certificate`) requires the document to
//!   carry an enveloped XML signature over its root element made with that
//!   certificate ([`signed_root`]); what is read afterwards is only what the
//!   signature covered.

use samael::crypto::{CertificateDer, Crypto, CryptoProvider, ReduceMode};

use crate::upstream::dom::{self, DSIG, Element, METADATA};
use crate::upstream::error::Rejection;
use crate::upstream::idp_metadata::certificate_der;
use crate::upstream::{structure, verify};

/// Checks a metadata URL: absolute, with a host, https, or http on loopback.
/// Parsed as the fetch will parse it (WHATWG, the `url` crate under reqwest), so
/// `http://127.0.0.1@evil.example/` is judged by the host it reaches. The error
/// says what to do.
pub fn check_metadata_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url)
        .map_err(|_| "not an absolute URL: expected https://HOST/PATH".to_owned())?;
    let Some(host) = parsed.host_str() else {
        return Err("not an absolute URL with a host: expected https://HOST/PATH".into());
    };
    if usher_core::transport::is_protected(parsed.scheme(), host) {
        Ok(())
    } else {
        Err(
            "expected an https:// URL (plain http only to localhost or a loopback address): \
             metadata read over http can be changed on the way, adding a signing certificate \
             or moving an ACS; serve it over https, or pin metadata_signing_certificate and \
             read it from a file"
                .into(),
        )
    }
}

/// The certificate metadata must be signed with (`metadata_signing_certificate`),
/// checked to be an X.509 certificate with an RSA or EC key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataPin {
    der: Vec<u8>,
}

impl MetadataPin {
    /// From PEM (or bare base64 DER) text.
    pub fn from_pem(text: &str) -> Result<Self, String> {
        certificate_der(text).map(|der| Self { der })
    }
}

/// Why pinned metadata was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the metadata is not signed with metadata_signing_certificate: {0}")]
pub struct SignatureRefused(pub String);

fn refused(m: impl Into<String>) -> SignatureRefused {
    SignatureRefused(m.into())
}

/// The root element of `xml` as the signature made with `pin` covers it: the
/// canonical bytes xmlsec digested, from which alone the metadata is then read.
///
/// Before xmlsec: the XML gate ([`crate::xml::admit`]); the root is an
/// EntityDescriptor or EntitiesDescriptor with an `ID`; exactly one
/// `ds:Signature` in the whole document, a direct child of the root, with one
/// Reference to the root's own `ID`, the enveloped-signature and c14n
/// transforms only and SHA-256 or better ([`structure::check_signature`]).
/// Then xmlsec verifies it with the pinned certificate only (never a key the
/// document carries) and the same algorithm allow-list as assertions; the
/// signed bytes must again be that root. Content outside the signed root (a
/// second, unsigned entity beside a signed one, the signature wrapping of
/// Somorovsky et al.) is thereby never read.
pub fn signed_root(xml: &str, pin: &MetadataPin) -> Result<String, SignatureRefused> {
    let text = dom::admit(xml.as_bytes()).map_err(|e| refused(e.0))?;
    let root = dom::parse(text.as_bytes()).map_err(|e| refused(e.0))?;
    let signatures: Vec<&Element> = root
        .descendants()
        .into_iter()
        .filter(|e| e.is(DSIG, "Signature"))
        .collect();
    let [signature] = signatures.as_slice() else {
        return Err(refused(if signatures.is_empty() {
            "it carries no signature"
        } else {
            "it carries more than one signature; exactly one, over the root element, is accepted"
        }));
    };
    let (name, id) = root_name_and_id(&root)?;
    if root.children_named(DSIG, "Signature").count() != 1 {
        return Err(refused("the signature is not a child of the root element"));
    }
    structure::check_signature(signature, id).map_err(|e| match e {
        Rejection::WeakAlgorithm => {
            refused("a refused algorithm: RSA or ECDSA with SHA-256 or better is required")
        }
        Rejection::SignatureShape(m) => refused(m),
        other => refused(other.to_string()),
    })?;
    let signed = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        text,
        &[CertificateDer::from(pin.der.clone())],
        ReduceMode::PreDigest,
        Some(&verify::ALLOWED),
    )
    .map_err(|e| {
        tracing::debug!(error = %e, "xmlsec refused the metadata signature");
        refused("the signature does not verify with that certificate (another key, or the document was changed after signing)")
    })?;
    let signed_root = dom::parse(signed.as_bytes()).map_err(|e| refused(e.0))?;
    if root_name_and_id(&signed_root)? != (name, id) {
        return Err(refused("the signed element is not the root element"));
    }
    Ok(signed)
}

fn root_name_and_id(root: &Element) -> Result<(&str, &str), SignatureRefused> {
    if !(root.is(METADATA, "EntityDescriptor") || root.is(METADATA, "EntitiesDescriptor")) {
        return Err(refused(
            "the root is not an EntityDescriptor or EntitiesDescriptor",
        ));
    }
    let id = root
        .attr("ID")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| refused("the root element has no ID for the signature to reference"))?;
    Ok((root.local.as_str(), id))
}

#[cfg(test)]
mod tests {
    use super::check_metadata_url;

    #[test]
    fn metadata_urls_are_https_or_loopback_http() {
        for ok in [
            "https://idp.example.com/metadata",
            "http://127.0.0.1:8080/md",
            "http://localhost/md",
            "http://[::1]:9/md",
            "http://0x7f.1/md",
        ] {
            assert!(check_metadata_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://idp.example.com/metadata",
            "http://127.0.0.1.evil.example/md",
            "http://127.0.0.1@evil.example/md",
            "http://localhost.@evil.example/md",
            "ftp://127.0.0.1/md",
            "sp.test/md",
            "/metadata",
        ] {
            assert!(check_metadata_url(bad).is_err(), "{bad}");
        }
    }
}
