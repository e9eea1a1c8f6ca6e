//! Assertion encryption (SAML Core §2.3.4, §6; XML Encryption 1.1): the (already
//! signed) `<saml:Assertion>` becomes a `<saml:EncryptedAssertion>` holding one
//! `xenc:EncryptedData` of Type Element, encrypted with AES-256-GCM under a fresh
//! random key and IV, and the key transported in a `ds:KeyInfo/xenc:EncryptedKey`
//! with RSA-OAEP to the SP's encryption certificate.
//!
//! Algorithms: `http://www.w3.org/2009/xmlenc11#aes256-gcm` for the data (CipherValue
//! = base64(12-byte IV ‖ ciphertext ‖ 16-byte tag), XML Encryption 1.1 §5.2.4) and
//! `http://www.w3.org/2009/xmlenc11#rsa-oaep` with `ds:DigestMethod` SHA-256 for the
//! key (§5.5.2), and no `xenc11:MGF` element, which means MGF1 with SHA-1 (the
//! §5.5.2 default). Why no `xenc11:MGF mgf1sha256`: SPs that validate the Response
//! against the SAML schemas in strict mode (python3-saml 1.16 with
//! `wantXMLValidation`, as in the interop test) ship the 2002 `xenc-schema.xsd`
//! only, whose EncryptionMethod wildcard is `processContents="strict"`, so an
//! `xenc11:MGF` child fails schema validation ("no matching global element
//! declaration") and the whole Response is refused. `ds:DigestMethod` is declared
//! there, so the OAEP digest can be SHA-256; SHA-1 remains only inside MGF1, where
//! OAEP needs no collision resistance. This is still the xmlenc11 form (not
//! `xmlenc#rsa-oaep-mgf1p`), and xmlsec 1.3 decrypts it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::md::Md;
use openssl::pkey::{Id, PKey, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::symm::{Cipher, encrypt_aead};
use openssl::x509::X509;
use usher_core::{Error, Result};

/// `xenc:EncryptedData`'s algorithm.
pub const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
/// `xenc:EncryptedKey`'s algorithm.
pub const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
/// The OAEP digest.
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

const IV_LEN: usize = 12;
const TAG_LEN: usize = 16;

fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("encrypting the assertion: {what}: {e}"))
}

/// The RSA public key of an SP's encryption certificate (DER).
fn rsa_key(cert_der: &[u8]) -> Result<PKey<Public>> {
    let key = X509::from_der(cert_der)
        .and_then(|c| c.public_key())
        .map_err(|e| internal("the SP's encryption certificate", e))?;
    if key.id() != Id::RSA {
        return Err(internal(
            "the SP's encryption certificate",
            "its key is not RSA",
        ));
    }
    Ok(key)
}

/// RSA-OAEP with SHA-256 as the digest, MGF1 with SHA-1 (the default when no
/// `xenc11:MGF` is given), no label.
fn wrap_key(key: &PKey<Public>, cek: &[u8]) -> Result<Vec<u8>> {
    let mut ctx = PkeyCtx::new(key).map_err(|e| internal("RSA-OAEP", e))?;
    ctx.encrypt_init().map_err(|e| internal("RSA-OAEP", e))?;
    ctx.set_rsa_padding(Padding::PKCS1_OAEP)
        .and_then(|()| ctx.set_rsa_oaep_md(Md::sha256()))
        .and_then(|()| ctx.set_rsa_mgf1_md(Md::sha1()))
        .map_err(|e| internal("RSA-OAEP", e))?;
    let mut out = Vec::new();
    ctx.encrypt_to_vec(cek, &mut out)
        .map_err(|e| internal("RSA-OAEP", e))?;
    Ok(out)
}

/// Encrypts `assertion` (the complete, signed `<saml:Assertion>` element, declaring
/// its own namespaces) to the SP's encryption certificate; returns the
/// `<saml:EncryptedAssertion>` element.
pub fn encrypt_assertion(assertion: &str, cert_der: &[u8]) -> Result<String> {
    let public = rsa_key(cert_der)?;
    let mut cek = [0u8; 32];
    let mut iv = [0u8; IV_LEN];
    openssl::rand::rand_bytes(&mut cek).map_err(|e| internal("random key", e))?;
    openssl::rand::rand_bytes(&mut iv).map_err(|e| internal("random IV", e))?;
    let mut tag = [0u8; TAG_LEN];
    let ciphertext = encrypt_aead(
        Cipher::aes_256_gcm(),
        &cek,
        Some(&iv),
        &[],
        assertion.as_bytes(),
        &mut tag,
    )
    .map_err(|e| internal("AES-256-GCM", e))?;
    let wrapped = wrap_key(&public, &cek)?;
    let mut data = Vec::with_capacity(IV_LEN + ciphertext.len() + TAG_LEN);
    data.extend_from_slice(&iv);
    data.extend_from_slice(&ciphertext);
    data.extend_from_slice(&tag);
    Ok(format!(
        "<saml:EncryptedAssertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\">\
<xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" \
Type=\"http://www.w3.org/2001/04/xmlenc#Element\">\
<xenc:EncryptionMethod Algorithm=\"{AES256_GCM}\"/>\
<ds:KeyInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><xenc:EncryptedKey>\
<xenc:EncryptionMethod Algorithm=\"{RSA_OAEP}\">\
<ds:DigestMethod Algorithm=\"{SHA256}\"/></xenc:EncryptionMethod>\
<xenc:CipherData><xenc:CipherValue>{key}</xenc:CipherValue></xenc:CipherData>\
</xenc:EncryptedKey></ds:KeyInfo>\
<xenc:CipherData><xenc:CipherValue>{data}</xenc:CipherValue></xenc:CipherData>\
</xenc:EncryptedData></saml:EncryptedAssertion>",
        key = STANDARD.encode(wrapped),
        data = STANDARD.encode(data),
    ))
}
