//! Enveloped XML signatures (XML-DSig §6.6.4) with RSA-SHA256 and exclusive
//! canonicalization. The template has exactly one Reference, to the signed
//! element's own ID, and sits right after its Issuer (the schema order of SAML
//! Core §2.3.3 and §3.2.2).
//!
//! usher signs only documents it wrote, so it canonicalizes them itself (c14n.rs)
//! and signs with the key parsed once per key-cache refresh, instead of a DOM parse
//! and a key import in xmlsec per signature. The signatures are verified by xmlsec
//! in the tests and by python3-saml in the interop suite.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::MessageDigest;
use openssl::sha::sha256;
use usher_core::{Error, Result};

use crate::c14n;
use crate::keys::SamlKey;

/// The `<ds:Signature>` template for the element whose `ID` is `id`.
pub fn template(id: &str, certificate_der: &[u8]) -> String {
    format!(
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
<ds:Reference URI=\"#{id}\"><ds:Transforms>\
<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
<ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo>\
<ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}\
</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>",
        id = crate::xml::escape(id),
        cert = STANDARD.encode(certificate_der),
    )
}

const SIGNATURE_START: &str = "<ds:Signature ";
const SIGNATURE_END: &str = "</ds:Signature>";
const DIGEST_SLOT: &str = "<ds:DigestValue></ds:DigestValue>";
const VALUE_SLOT: &str = "<ds:SignatureValue></ds:SignatureValue>";

fn broken(what: &str) -> Error {
    Error::Internal(format!("signing a SAML document: {what}"))
}

/// Where `pat` first occurs at or after byte `from` of `s`.
fn find_from(s: &str, from: usize, pat: &str) -> Option<usize> {
    Some(from + s.get(from..)?.find(pat)?)
}

/// Fills `slot` (an empty element) at or after byte `from` of `xml` with `value`.
fn fill(xml: &mut String, from: usize, slot: &str, value: &str) -> Result<()> {
    let at = find_from(xml, from, slot).ok_or_else(|| broken("no slot"))?;
    let inner = at + slot.find("></").ok_or_else(|| broken("bad slot"))? + 1;
    xml.insert_str(inner, value);
    Ok(())
}

/// Signs the first (in document order) signature template of `xml` with `key`;
/// returns the signed document.
pub fn sign(xml: &str, key: &SamlKey) -> Result<String> {
    let start = xml
        .find(SIGNATURE_START)
        .ok_or_else(|| broken("no template"))?;
    let end = find_from(xml, start, SIGNATURE_END)
        .map(|at| at + SIGNATURE_END.len())
        .ok_or_else(|| broken("an unterminated template"))?;
    let template = xml
        .get(start..end)
        .ok_or_else(|| broken("an unterminated template"))?;
    let uri = template
        .split_once("URI=\"#")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(id, _)| id)
        .ok_or_else(|| broken("no Reference"))?;
    // The signed element: the one whose ID the Reference names. IDs are 256-bit
    // random tokens, so the attribute text occurs once.
    let id_attr = format!(" ID=\"{uri}\"");
    let apex = xml
        .split_once(id_attr.as_str())
        .and_then(|(before, _)| before.rfind('<'))
        .ok_or_else(|| broken("the referenced element is missing"))?;

    let digest = sha256(c14n::exclusive(xml, apex, Some(start..end))?.as_bytes());
    let mut signed = xml.to_owned();
    fill(&mut signed, start, DIGEST_SLOT, &STANDARD.encode(digest))?;
    let signed_info =
        find_from(&signed, start, "<ds:SignedInfo>").ok_or_else(|| broken("no SignedInfo"))?;
    let canonical = c14n::exclusive(&signed, signed_info, None)?;
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &key.pkey)
        .map_err(|e| broken(&e.to_string()))?;
    let value = signer
        .sign_oneshot_to_vec(canonical.as_bytes())
        .map_err(|e| broken(&e.to_string()))?;
    fill(
        &mut signed,
        signed_info,
        VALUE_SLOT,
        &STANDARD.encode(value),
    )?;
    Ok(signed)
}
