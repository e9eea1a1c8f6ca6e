//! From the bytes of a Response to what the IdP signed. Order: the XML gate
//! (DTD and any encoding but UTF-8 refused, [`crate::xml::admit`]),
//! strict parse, shape ([`super::structure`]), required signatures present, then
//! xmlsec verifies every signature with the upstream's configured certificates
//! only (a certificate in KeyInfo is never used: the key is set on the context)
//! and an allow-list of algorithms (RSA and ECDSA with SHA-256 or better; SHA-1
//! is refused, NIST SP 800-131A). The data is then read only from xmlsec's
//! pre-digest output: the exact canonical bytes the digest covered, so content
//! outside the signed element cannot be read by mistake (XSW), and the
//! signed element must be the one assertion (or the Response around it) whose
//! `ID` the single Reference names.

use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};

use super::assertion::{self, Assertion};
use super::dom::{self, ASSERTION, PROTOCOL};
use super::error::Rejection;
use super::settings::SamlUpstream;
use super::structure::{self, STATUS_SUCCESS, Wrapper};

/// What the IdP signed, with the wrapper to check.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The Response's fields: from the signed bytes when the Response is
    /// signed, as received otherwise.
    pub wrapper: Wrapper,
    /// Whether the Response itself was signed.
    pub response_signed: bool,
    /// The signed assertion.
    pub assertion: Assertion,
}

/// SignatureMethods xmlsec accepts (with their digests).
pub(crate) const ALLOWED: [AllowedSignatureAlgorithm; 6] = [
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// Checks `xml` from `upstream` up to and including its signatures. A
/// non-Success status is reported as [`Rejection::Status`] once the shape is
/// known (such a Response need not carry an assertion or a signature).
pub fn verify_document(upstream: &SamlUpstream, xml_bytes: &[u8]) -> Result<Verified, Rejection> {
    // The gate before any parser (DTD, encodings other than UTF-8); xmlsec gets
    // the same admitted text quick-xml read.
    let text = dom::admit(xml_bytes)?;
    let raw = dom::parse(text.as_bytes())?;
    let shape = structure::check(&raw)?;
    if shape.wrapper.status != STATUS_SUCCESS {
        let mut status = shape.wrapper.status.clone();
        if let Some(sub) = &shape.wrapper.sub_status {
            status = format!("{status} / {sub}");
        }
        // Unverified text from the message: shown escaped, and never long.
        return Err(Rejection::Status(status.chars().take(300).collect()));
    }
    let Some(assertion_id) = shape.assertion_id.clone() else {
        return Err(Rejection::AssertionCount("there is no assertion"));
    };
    // Signature stripping: what the upstream requires must be there, and at
    // least one of the two always.
    if upstream.want_response_signed && !shape.response_signed {
        return Err(Rejection::Unsigned("the Response is not signed"));
    }
    if upstream.want_assertion_signed && !shape.assertion_signed {
        return Err(Rejection::Unsigned("the Assertion is not signed"));
    }
    if !shape.response_signed && !shape.assertion_signed {
        return Err(Rejection::Unsigned(
            "neither the Response nor the Assertion is signed",
        ));
    }
    let certs: Vec<CertificateDer> = upstream
        .certificates
        .iter()
        .map(|c| CertificateDer::from(c.clone()))
        .collect();
    let signed = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        text,
        &certs,
        ReduceMode::PreDigest,
        Some(&ALLOWED),
    )
    .map_err(|e| {
        tracing::debug!(upstream = %upstream.id, error = %e, "xmlsec refused the signature");
        Rejection::BadSignature
    })?;
    let signed = dom::parse(signed.as_bytes())?;
    if signed.is(PROTOCOL, "Response") {
        // The Response is signed (when both are, xmlsec hands back the Response,
        // whose signed bytes include the signed assertion).
        if !shape.response_signed || signed.attr("ID") != Some(shape.wrapper.id.as_str()) {
            return Err(Rejection::SignatureShape(
                "the signed element is not this Response",
            ));
        }
        let wrapper = structure::read_wrapper(&signed)?;
        if wrapper.status != STATUS_SUCCESS {
            return Err(Rejection::Status(wrapper.status));
        }
        let inner: Vec<_> = signed.children_named(ASSERTION, "Assertion").collect();
        let [inner] = inner.as_slice() else {
            return Err(Rejection::AssertionCount(
                "the signed Response has no single assertion",
            ));
        };
        if inner.attr("ID") != Some(assertion_id.as_str()) {
            return Err(Rejection::SignatureShape(
                "the signed assertion is not the one received",
            ));
        }
        Ok(Verified {
            wrapper,
            response_signed: true,
            assertion: assertion::read(inner)?,
        })
    } else if signed.is(ASSERTION, "Assertion") {
        if !shape.assertion_signed
            || shape.response_signed
            || signed.attr("ID") != Some(assertion_id.as_str())
        {
            return Err(Rejection::SignatureShape(
                "the signed element is not the assertion received",
            ));
        }
        Ok(Verified {
            wrapper: shape.wrapper,
            response_signed: false,
            assertion: assertion::read(&signed)?,
        })
    } else {
        Err(Rejection::SignatureShape(
            "the signature covers neither the Response nor its assertion",
        ))
    }
}
