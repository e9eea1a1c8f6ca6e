//! Starting a sign-in at an upstream (signed AuthnRequest) and usher's SP
//! metadata for it.

use actix_web::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use openssl::x509::X509;
use samael::crypto::{CertificateDer, Crypto, CryptoProvider, ReduceMode};

use super::fixture::*;

async fn our_certificate(sp: &Sp) -> Vec<u8> {
    let md = sp.get("/federation/corp/saml/metadata", None).await;
    let b64 = md
        .body
        .split("<ds:X509Certificate>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("certificate");
    STANDARD.decode(b64).expect("base64")
}

#[actix_web::test]
async fn sp_metadata_names_entity_acs_and_signing_certificate() {
    let sp = Sp::new(settings()).await;
    let md = sp.get("/federation/corp/saml/metadata", None).await;
    assert_eq!(md.status, StatusCode::OK);
    assert!(
        md.body.contains(&format!("entityID=\"{SP_ENTITY}\"")),
        "{}",
        md.body
    );
    assert!(md.body.contains("AuthnRequestsSigned=\"true\""));
    assert!(md.body.contains("WantAssertionsSigned=\"true\""));
    assert!(md.body.contains(&format!(
        "<md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"{ACS}\""
    )));
    assert!(md.body.contains("<md:KeyDescriptor use=\"signing\">"));
    X509::from_der(&our_certificate(&sp).await).expect("a certificate");
}

#[actix_web::test]
async fn redirect_start_sends_a_signed_authn_request_and_a_browser_cookie() {
    let sp = Sp::new(settings()).await;
    let a = sp.get("/federation/corp/saml/start", None).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(a.set_cookie.is_some());
    let s = sp.start(None, None).await;
    assert!(
        s.authn_request
            .contains(&format!("Destination=\"{IDP_SSO}\""))
    );
    assert!(
        s.authn_request
            .contains(&format!("AssertionConsumerServiceURL=\"{ACS}\""))
    );
    assert!(
        s.authn_request
            .contains(&format!("<saml:Issuer>{SP_ENTITY}</saml:Issuer>"))
    );
    assert!(s.request_id.starts_with('_') && s.request_id.len() > 40);
    // The signature covers SAMLRequest, RelayState and SigAlg as sent, and
    // verifies with the certificate in our metadata.
    let query = s.location.split_once('?').expect("query").1;
    let (signed, signature) = query.rsplit_once("&Signature=").expect("signed");
    assert!(
        signed.contains("&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256")
    );
    let cert = X509::from_der(&our_certificate(&sp).await).expect("cert");
    let key = cert.public_key().expect("key");
    let mut v = Verifier::new(MessageDigest::sha256(), &key).expect("verifier");
    v.update(signed.as_bytes()).expect("update");
    assert!(
        v.verify(&STANDARD.decode(urldecode(signature)).expect("b64"))
            .expect("verifies")
    );
    // The same browser keeps its cookie on a second start.
    let again = sp
        .get("/federation/corp/saml/start", Some(&s.browser))
        .await;
    assert!(again.set_cookie.is_none());
}

#[actix_web::test]
async fn post_start_posts_an_enveloped_signed_request() {
    let sp = Sp::new(usher_saml::SamlUpstreamSettings {
        sso_binding: Some(usher_saml::SsoBinding::Post),
        ..settings()
    })
    .await;
    let a = sp.get("/federation/corp/saml/start", None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(a.body.contains(&format!("action=\"{IDP_SSO}\"")));
    let value = a
        .body
        .split("name=\"SAMLRequest\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("SAMLRequest");
    let xml = String::from_utf8(STANDARD.decode(value).expect("b64")).expect("utf8");
    assert!(xml.contains("rsa-sha256"));
    Crypto::reduce_xml_to_signed(
        &xml,
        &[CertificateDer::from(our_certificate(&sp).await)],
        ReduceMode::PreDigest,
    )
    .expect("the request's signature verifies with our metadata's certificate");
}

#[actix_web::test]
async fn start_with_an_expired_login_request_gets_a_page() {
    let sp = Sp::new(settings()).await;
    let a = sp.get("/federation/corp/saml/start?t=gone", None).await;
    refused(&a, StatusCode::BAD_REQUEST, "expired");
}
