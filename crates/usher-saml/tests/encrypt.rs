//! Assertion encryption: an SP with an encryption certificate receives a
//! `<saml:EncryptedAssertion>` (AES-256-GCM, RSA-OAEP with SHA-256 key transport)
//! that its private key opens to the signed assertion; decrypted here with openssl
//! alone, independently of the code that encrypted it.

use actix_web::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::md::Md;
use openssl::pkey::{PKey, Private};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::{Padding, Rsa};
use openssl::symm::{Cipher, decrypt_aead};
use openssl::x509::{X509, X509NameBuilder};
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};
use usher_saml::{ServiceProvider, SignWhat, parse_sp_metadata};

use crate::fixture::*;
use crate::sso::{get, idp_cert, posted_response, redirect_uri, sp};

/// An SP key pair: the private key and its self-signed certificate (DER).
fn sp_keys(cn: &str) -> (PKey<Private>, Vec<u8>) {
    let key = PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("pkey");
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", cn).expect("cn");
    let name = name.build();
    let mut b = X509::builder().expect("builder");
    b.set_version(2).expect("version");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(&name).expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    b.set_not_before(&Asn1Time::days_from_now(0).expect("now"))
        .expect("nbf");
    b.set_not_after(&Asn1Time::days_from_now(2).expect("later"))
        .expect("naf");
    b.sign(&key, MessageDigest::sha256()).expect("signs");
    (key, b.build().to_der().expect("der"))
}

fn encrypting_sp(sign: SignWhat) -> (ServiceProvider, PKey<Private>) {
    let (key, cert) = sp_keys("sp.example");
    let mut sp = sp();
    sp.sign = sign;
    sp.encryption_cert_der = Some(cert);
    (sp, key)
}

/// The posted Response for a signed-in user, and the IdP's certificate.
async fn respond(sp: ServiceProvider, times: usize) -> (Vec<String>, Vec<u8>) {
    let idp = Idp::new(vec![sp]).await;
    let (cookie, _) = idp
        .sessions
        .create(idp.user.id, vec!["pwd".into()], None)
        .await
        .expect("session");
    let mut out = Vec::new();
    for n in 0..times {
        let (status, body) = get(
            &idp,
            &redirect_uri(&authn_request(&format!("_e{n}"), SP, "")),
            Some(&cookie),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        out.push(posted_response(&body));
    }
    (out, idp_cert(&idp).await)
}

/// The text between `open` and the next `<` after it.
fn text_after<'a>(xml: &'a str, open: &str, nth: usize) -> &'a str {
    let start = xml
        .match_indices(open)
        .nth(nth)
        .unwrap_or_else(|| panic!("{open} #{nth} in {xml}"))
        .0
        + open.len();
    &xml[start..start + xml[start..].find('<').expect("end")]
}

struct Opened {
    cek: Vec<u8>,
    iv: Vec<u8>,
    plaintext: String,
}

/// Decrypts the EncryptedAssertion with the SP's private key: RSA-OAEP (SHA-256
/// digest, MGF1 with SHA-1 as no `xenc11:MGF` is given) for the key, then AES-256-GCM over IV ‖ ciphertext ‖ tag.
fn open(xml: &str, key: &PKey<Private>) -> Opened {
    // Document order: the EncryptedKey's CipherValue first, then the data's.
    let wrapped = STANDARD
        .decode(text_after(xml, "<xenc:CipherValue>", 0))
        .expect("base64 key");
    let data = STANDARD
        .decode(text_after(xml, "<xenc:CipherValue>", 1))
        .expect("base64 data");
    let mut ctx = PkeyCtx::new(key).expect("ctx");
    ctx.decrypt_init().expect("init");
    ctx.set_rsa_padding(Padding::PKCS1_OAEP).expect("oaep");
    ctx.set_rsa_oaep_md(Md::sha256()).expect("oaep md");
    ctx.set_rsa_mgf1_md(Md::sha1()).expect("mgf1 md");
    let mut cek = Vec::new();
    ctx.decrypt_to_vec(&wrapped, &mut cek)
        .expect("the SP's key unwraps the content key");
    assert_eq!(cek.len(), 32, "an AES-256 key");
    assert!(data.len() > 12 + 16);
    let (iv, rest) = data.split_at(12);
    let (ciphertext, tag) = rest.split_at(rest.len() - 16);
    let plaintext = decrypt_aead(Cipher::aes_256_gcm(), &cek, Some(iv), &[], ciphertext, tag)
        .expect("AES-GCM decrypts and the tag verifies");
    Opened {
        cek,
        iv: iv.to_vec(),
        plaintext: String::from_utf8(plaintext).expect("utf-8"),
    }
}

fn verify(idp_cert: &[u8], xml: &str) -> String {
    Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        xml,
        &[CertificateDer::from(idp_cert.to_vec())],
        ReduceMode::ValidateAndMarkNoAncestors,
        Some(&[AllowedSignatureAlgorithm::RsaSha256]),
    )
    .expect("the signature verifies")
}

#[actix_web::test]
async fn encrypted_assertion_opens_to_the_signed_assertion() {
    let (sp, key) = encrypting_sp(SignWhat::Both);
    let (xml, cert) = respond(sp, 1).await;
    let xml = &xml[0];
    assert!(
        !xml.contains("<saml:Assertion"),
        "no plaintext assertion: {xml}"
    );
    assert!(!xml.contains("alice"), "no plaintext user data: {xml}");
    assert!(xml.contains("<saml:EncryptedAssertion "));
    assert!(xml.contains("Type=\"http://www.w3.org/2001/04/xmlenc#Element\""));
    assert!(xml.contains(
        "<xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#aes256-gcm\"/>"
    ));
    assert!(xml.contains(
        "<xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#rsa-oaep\">\
<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>"
    ));
    // No xenc11:MGF (strict schema validation at SPs refuses it): MGF1-SHA1 default.
    // Looked for as an element: three letters alone turn up in the base64
    // ciphertext about once in seventy runs.
    assert!(!xml.contains(":MGF "), "{xml}");
    // The Response signature covers the EncryptedAssertion.
    assert_eq!(xml.matches("<ds:Signature ").count(), 1, "{xml}");
    let reduced = verify(&cert, xml);
    assert!(reduced.contains("EncryptedAssertion"), "{reduced}");

    let opened = open(xml, &key);
    let assertion = &opened.plaintext;
    assert!(assertion.starts_with("<saml:Assertion "), "{assertion}");
    assert!(assertion.ends_with("</saml:Assertion>"), "{assertion}");
    assert!(assertion.contains("InResponseTo=\"_e0\""));
    assert!(assertion.contains(&format!("<saml:Audience>{SP}</saml:Audience>")));
    assert!(
        assertion.contains("&lt;b&gt;Alice&lt;/b&gt;"),
        "still escaped"
    );
    // Signed before it was encrypted: the signature inside verifies on its own.
    assert_eq!(assertion.matches("<ds:Signature ").count(), 1);
    let reduced = verify(&cert, assertion);
    assert!(reduced.contains("AuthnStatement"), "{reduced}");
}

#[actix_web::test]
async fn assertion_only_signing_keeps_its_signature_inside_the_encryption() {
    let (sp, key) = encrypting_sp(SignWhat::Assertion);
    let (xml, cert) = respond(sp, 1).await;
    assert!(!xml[0].contains("<ds:Signature "), "response unsigned");
    let opened = open(&xml[0], &key);
    verify(&cert, &opened.plaintext);
}

#[actix_web::test]
async fn every_assertion_gets_a_fresh_key_and_iv() {
    let (sp, key) = encrypting_sp(SignWhat::Response);
    let (xml, _) = respond(sp, 3).await;
    let opened: Vec<Opened> = xml.iter().map(|x| open(x, &key)).collect();
    for (i, a) in opened.iter().enumerate() {
        for b in &opened[i + 1..] {
            assert_ne!(a.cek, b.cek, "a fresh content key");
            assert_ne!(a.iv, b.iv, "a fresh IV");
        }
    }
    // Only the intended key opens it.
    let (other, _) = sp_keys("other");
    let wrapped = STANDARD
        .decode(text_after(&xml[0], "<xenc:CipherValue>", 0))
        .expect("base64");
    let mut ctx = PkeyCtx::new(&other).expect("ctx");
    ctx.decrypt_init().expect("init");
    ctx.set_rsa_padding(Padding::PKCS1_OAEP).expect("oaep");
    ctx.set_rsa_oaep_md(Md::sha256()).expect("md");
    ctx.set_rsa_mgf1_md(Md::sha1()).expect("mgf1");
    assert!(ctx.decrypt_to_vec(&wrapped, &mut Vec::new()).is_err());
}

#[actix_web::test]
async fn an_sp_without_an_encryption_certificate_gets_a_plain_assertion() {
    let mut sp = sp();
    sp.sign = SignWhat::Both;
    assert!(sp.encryption_cert_der.is_none());
    let (xml, cert) = respond(sp, 1).await;
    assert!(xml[0].contains("<saml:Assertion "));
    assert!(!xml[0].contains("EncryptedAssertion"));
    assert!(!xml[0].contains("xenc"));
    verify(&cert, &xml[0]);
}

fn metadata(key_descriptors: &str) -> String {
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://sp.example/metadata">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    {key_descriptors}
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="0"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"#
    )
}

fn key_descriptor(usage: Option<&str>, cert: &[u8]) -> String {
    format!(
        "<md:KeyDescriptor{}><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
        usage.map(|u| format!(" use=\"{u}\"")).unwrap_or_default(),
        STANDARD.encode(cert)
    )
}

#[test]
fn metadata_encryption_key_descriptor_is_the_encryption_certificate() {
    let (_, signing) = sp_keys("signing");
    let (_, encryption) = sp_keys("encryption");
    let sp = parse_sp_metadata(
        &metadata(&format!(
            "{}{}",
            key_descriptor(Some("signing"), &signing),
            key_descriptor(Some("encryption"), &encryption)
        )),
        None,
    )
    .expect("parses");
    assert_eq!(sp.signing_cert_der.as_deref(), Some(&signing[..]));
    assert_eq!(sp.encryption_cert_der.as_deref(), Some(&encryption[..]));

    // Encryption first in the document: still not used for signing.
    let sp = parse_sp_metadata(
        &metadata(&format!(
            "{}{}",
            key_descriptor(Some("encryption"), &encryption),
            key_descriptor(Some("signing"), &signing)
        )),
        None,
    )
    .expect("parses");
    assert_eq!(sp.signing_cert_der.as_deref(), Some(&signing[..]));
    assert_eq!(sp.encryption_cert_der.as_deref(), Some(&encryption[..]));

    // Signing only: no encryption.
    let sp = parse_sp_metadata(&metadata(&key_descriptor(Some("signing"), &signing)), None)
        .expect("parses");
    assert!(sp.encryption_cert_der.is_none());
    assert!(sp.signing_cert_der.is_some());
}

#[test]
fn metadata_key_descriptor_without_use_serves_both() {
    let (_, both) = sp_keys("both");
    let sp = parse_sp_metadata(&metadata(&key_descriptor(None, &both)), None).expect("parses");
    assert_eq!(sp.signing_cert_der.as_deref(), Some(&both[..]));
    assert_eq!(sp.encryption_cert_der.as_deref(), Some(&both[..]));
    let none = parse_sp_metadata(&metadata(""), None).expect("parses");
    assert!(none.encryption_cert_der.is_none() && none.signing_cert_der.is_none());
}
