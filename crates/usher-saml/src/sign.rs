//! Enveloped XML signatures (XML-DSig §6.6.4) with RSA-SHA256 and exclusive
//! canonicalization, made by xmlsec through samael. The template has exactly one
//! Reference, to the signed element's own ID, and sits right after its Issuer
//! (the schema order of SAML Core §2.3.3 and §3.2.2).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use samael::crypto::{Crypto, CryptoProvider};
use usher_core::{Error, Result};

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

/// Signs the first (in document order) signature template of `xml` with
/// `private_key_der` (PKCS#8); returns the document without its XML declaration,
/// ready to embed or send.
pub fn sign(xml: &str, private_key_der: &[u8]) -> Result<String> {
    let signed = Crypto::sign_xml(xml, private_key_der)
        .map_err(|e| Error::Internal(format!("signing a SAML document failed: {e}")))?;
    let body = match signed.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(rest, |(_, b)| b),
        None => &signed,
    };
    Ok(body.trim().to_owned())
}
