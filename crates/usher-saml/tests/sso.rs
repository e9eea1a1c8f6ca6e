//! SSO over both bindings, happy paths and attacks, one test each.

use actix_web::http::StatusCode;
use actix_web::{App, test};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use usher_core::SESSION_COOKIE;
use usher_saml::{Claim, ServiceProvider, configure};

use crate::fixture::*;

pub(crate) fn sp() -> ServiceProvider {
    let mut sp = ServiceProvider::new(SP, ACS);
    sp.attributes = vec![
        ("displayName".into(), Claim::Name),
        ("mail".into(), Claim::Email),
    ];
    sp
}

pub(crate) async fn get(idp: &Idp, uri: &str, cookie: Option<&str>) -> (StatusCode, String) {
    let app = test::init_service(App::new().app_data(idp.data.clone()).configure(configure)).await;
    let mut req = test::TestRequest::get().uri(uri);
    if let Some(c) = cookie {
        req = req.cookie(actix_web::cookie::Cookie::new(SESSION_COOKIE, c.to_owned()));
    }
    let resp = test::call_service(&app, req.to_request()).await;
    let status = resp.status();
    let body = test::read_body(resp).await;
    (status, String::from_utf8_lossy(&body).into_owned())
}

pub(crate) async fn post(idp: &Idp, body: String, cookie: Option<&str>) -> (StatusCode, String) {
    let app = test::init_service(App::new().app_data(idp.data.clone()).configure(configure)).await;
    let mut req = test::TestRequest::post()
        .uri("/saml/sso")
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(body);
    if let Some(c) = cookie {
        req = req.cookie(actix_web::cookie::Cookie::new(SESSION_COOKIE, c.to_owned()));
    }
    let resp = test::call_service(&app, req.to_request()).await;
    let status = resp.status();
    (
        status,
        String::from_utf8_lossy(&test::read_body(resp).await).into_owned(),
    )
}

pub(crate) fn redirect_uri(xml: &str) -> String {
    format!(
        "/saml/sso?SAMLRequest={}&RelayState=rs1",
        urlencode(&deflate_b64(xml.as_bytes()))
    )
}

/// The decoded SAMLResponse of an auto-post page.
pub(crate) fn posted_response(body: &str) -> String {
    let start = body
        .find("name=\"SAMLResponse\" value=\"")
        .expect("a SAMLResponse field")
        + 27;
    let end = start + body[start..].find('"').expect("end of value");
    String::from_utf8(STANDARD.decode(&body[start..end]).expect("base64")).expect("utf-8")
}

/// Verifies a signed document with xmlsec (through samael) against our certificate
/// only, SHA-256 family only.
pub(crate) fn xmlsec_verify(idp_cert_der: &[u8], xml: &str) {
    use samael::crypto::{
        AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
    };
    Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        xml,
        &[CertificateDer::from(idp_cert_der.to_vec())],
        ReduceMode::PreDigest,
        Some(&[AllowedSignatureAlgorithm::RsaSha256]),
    )
    .expect("the response signature verifies");
}

pub(crate) async fn idp_cert(idp: &Idp) -> Vec<u8> {
    let (_, md) = get(idp, "/saml/metadata", None).await;
    let start = md.find("<ds:X509Certificate>").expect("a certificate") + 20;
    let end = start + md[start..].find('<').expect("end");
    STANDARD.decode(&md[start..end]).expect("base64")
}

#[actix_web::test]
async fn metadata_names_the_endpoints_and_certificate() {
    let idp = Idp::new(vec![sp()]).await;
    let (status, md) = get(&idp, "/saml/metadata", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(md.contains("entityID=\"http://usher.test/saml/metadata\""));
    assert!(md.contains("WantAuthnRequestsSigned=\"false\""));
    assert!(md.contains("Location=\"http://usher.test/saml/sso\""));
    assert!(md.contains("Location=\"http://usher.test/saml/slo\""));
    assert!(md.contains("nameid-format:persistent"));
    openssl::x509::X509::from_der(&idp_cert(&idp).await).expect("a DER certificate");
}

#[actix_web::test]
async fn redirect_binding_with_session_posts_a_signed_response() {
    let idp = Idp::new(vec![sp()]).await;
    let (cookie, _) = idp
        .sessions
        .create(idp.user.id, vec!["pwd".into()], None)
        .await
        .expect("session");
    let (status, body) = get(
        &idp,
        &redirect_uri(&authn_request("_r1", SP, "")),
        Some(&cookie),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(&format!("action=\"{ACS}\"")));
    assert!(body.contains("name=\"RelayState\" value=\"rs1\""));
    let xml = posted_response(&body);
    assert!(xml.contains("InResponseTo=\"_r1\""));
    assert!(xml.contains("status:Success"));
    xmlsec_verify(&idp_cert(&idp).await, &xml);
}

#[actix_web::test]
async fn post_binding_with_session_posts_a_signed_response() {
    let idp = Idp::new(vec![sp()]).await;
    let (cookie, _) = idp
        .sessions
        .create(idp.user.id, vec!["pwd".into()], None)
        .await
        .expect("session");
    let req = STANDARD.encode(authn_request("_p1", SP, ""));
    let (status, body) = post(
        &idp,
        format!("SAMLRequest={}", urlencode(&req)),
        Some(&cookie),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let xml = posted_response(&body);
    assert!(xml.contains("InResponseTo=\"_p1\""));
    xmlsec_verify(&idp_cert(&idp).await, &xml);
}

#[actix_web::test]
async fn attribute_values_with_xml_markup_are_escaped() {
    let idp = Idp::new(vec![sp()]).await;
    let (cookie, _) = idp
        .sessions
        .create(idp.user.id, vec!["pwd".into()], None)
        .await
        .expect("session");
    let (_, body) = get(
        &idp,
        &redirect_uri(&authn_request("_x1", SP, "")),
        Some(&cookie),
    )
    .await;
    let xml = posted_response(&body);
    assert!(
        xml.contains("&lt;b&gt;Alice&lt;/b&gt; &amp; \"co\"")
            || xml.contains("&lt;b&gt;Alice&lt;/b&gt; &amp; &quot;co&quot;"),
        "{xml}"
    );
    assert!(!xml.contains("<b>"));
}

#[actix_web::test]
async fn unknown_sp_gets_an_error_page() {
    let idp = Idp::new(vec![sp()]).await;
    let (status, body) = get(
        &idp,
        &redirect_uri(&authn_request("_u1", "https://evil.example", "")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!body.contains("<form"));
}

#[actix_web::test]
async fn unregistered_acs_url_gets_a_page_not_a_post() {
    let idp = Idp::new(vec![sp()]).await;
    let (cookie, _) = idp
        .sessions
        .create(idp.user.id, vec!["pwd".into()], None)
        .await
        .expect("session");
    let xml = authn_request(
        "_a1",
        SP,
        " AssertionConsumerServiceURL=\"https://evil.example/acs\"",
    );
    let (status, body) = get(&idp, &redirect_uri(&xml), Some(&cookie)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!body.contains("<form") && !body.contains("SAMLResponse"));
}

#[actix_web::test]
async fn doctype_xxe_payload_is_refused() {
    let idp = Idp::new(vec![sp()]).await;
    let xml = format!(
        "\u{feff} <!doctype r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        authn_request("_d1", "&x;", "")
    );
    let (status, body) = get(&idp, &redirect_uri(&xml), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("DTD"));
}

/// The request as UTF-16LE with a byte-order mark, declared so.
fn utf16(xml: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    for unit in xml.encode_utf16() {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out
}

#[actix_web::test]
async fn xml_declared_in_another_encoding_is_refused_before_parsing() {
    // libxml2 (under xmlsec) decodes by the declaration or the byte-order mark,
    // quick-xml always as UTF-8: the two parsers must never be handed a
    // document they could read differently.
    let idp = Idp::new(vec![sp()]).await;
    let latin1 = format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>{}",
        authn_request("_e1", SP, "")
    );
    let (status, body) = get(&idp, &redirect_uri(&latin1), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("only UTF-8 is accepted"), "{body}");
    let (status, body) = post(
        &idp,
        format!("SAMLRequest={}", urlencode(&STANDARD.encode(&latin1))),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("only UTF-8 is accepted"), "{body}");

    let wide = utf16(&format!(
        "<?xml version=\"1.0\" encoding=\"UTF-16\"?>{}",
        authn_request("_e2", SP, "")
    ));
    let (status, body) = post(
        &idp,
        format!("SAMLRequest={}", urlencode(&STANDARD.encode(&wide))),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("only UTF-8 is accepted"), "{body}");
    let redirect = format!("/saml/sso?SAMLRequest={}", urlencode(&deflate_b64(&wide)));
    let (status, body) = get(&idp, &redirect, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // The same request declared UTF-8 is accepted (to the sign-in page).
    let utf8 = latin1.replace("ISO-8859-1", "utf-8");
    let (status, body) = get(&idp, &redirect_uri(&utf8.replace("_e1", "_e3")), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
}

#[actix_web::test]
async fn oversized_request_deflate_bomb_is_refused() {
    let idp = Idp::new(vec![sp()]).await;
    let bomb = format!(
        "{}{}",
        authn_request("_b1", SP, ""),
        " ".repeat(10 * 1024 * 1024)
    );
    let (status, _) = get(&idp, &redirect_uri(&bomb), None).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[actix_web::test]
async fn replayed_authn_request_id_is_refused() {
    let idp = Idp::new(vec![sp()]).await;
    let uri = redirect_uri(&authn_request("_same", SP, ""));
    let (first, _) = get(&idp, &uri, None).await;
    assert_eq!(first, StatusCode::SEE_OTHER);
    let (second, body) = get(&idp, &uri, None).await;
    assert_eq!(second, StatusCode::BAD_REQUEST);
    assert!(body.contains("already used"));
}

#[actix_web::test]
async fn is_passive_without_session_answers_no_passive() {
    let idp = Idp::new(vec![sp()]).await;
    let (status, body) = get(
        &idp,
        &redirect_uri(&authn_request("_np", SP, " IsPassive=\"true\"")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let xml = posted_response(&body);
    assert!(xml.contains("status:Responder") && xml.contains("status:NoPassive"));
}

#[actix_web::test]
async fn duplicated_parameters_are_refused() {
    let idp = Idp::new(vec![sp()]).await;
    let one = urlencode(&deflate_b64(authn_request("_dup", SP, "").as_bytes()));
    let (status, _) = get(
        &idp,
        &format!("/saml/sso?SAMLRequest={one}&SAMLRequest={one}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

pub(crate) fn signed_sp() -> (ServiceProvider, PKey<openssl::pkey::Private>) {
    let key = PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("pkey");
    let mut name = openssl::x509::X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", "sp").expect("cn");
    let name = name.build();
    let mut b = openssl::x509::X509::builder().expect("builder");
    b.set_version(2).expect("v3");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(&name).expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).expect("t"))
        .expect("nb");
    b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).expect("t"))
        .expect("na");
    b.sign(&key, MessageDigest::sha256()).expect("sign");
    let mut sp = sp();
    sp.signing_cert_der = Some(b.build().to_der().expect("der"));
    sp.want_signed_requests = true;
    (sp, key)
}

pub(crate) fn signed_uri(
    xml: &str,
    key: &PKey<openssl::pkey::Private>,
    alg: &str,
    digest: MessageDigest,
) -> String {
    let signed = format!(
        "SAMLRequest={}&RelayState=rs&SigAlg={}",
        urlencode(&deflate_b64(xml.as_bytes())),
        urlencode(alg)
    );
    let mut s = Signer::new(digest, key).expect("signer");
    s.update(signed.as_bytes()).expect("update");
    let sig = STANDARD.encode(s.sign_to_vec().expect("sign"));
    format!("/saml/sso?{signed}&Signature={}", urlencode(&sig))
}

pub(crate) const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

#[actix_web::test]
async fn signed_redirect_request_is_accepted() {
    let (sp, key) = signed_sp();
    let idp = Idp::new(vec![sp]).await;
    let (status, _) = get(
        &idp,
        &signed_uri(
            &authn_request("_s1", SP, ""),
            &key,
            RSA_SHA256,
            MessageDigest::sha256(),
        ),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn a_signature_is_verified_whenever_present_even_when_not_required() {
    // An SP with a registered certificate that does not require signing (as
    // python3-saml and most SPs can be set up): unsigned requests pass, but a signed
    // one whose signature fails is refused, never treated as unsigned (a forged or
    // altered request must not downgrade to "unsigned").
    let (mut sp, key) = signed_sp();
    sp.want_signed_requests = false;
    let idp = Idp::new(vec![sp]).await;
    let (unsigned, _) = get(&idp, &redirect_uri(&authn_request("_o1", SP, "")), None).await;
    assert_eq!(unsigned, StatusCode::SEE_OTHER);
    let uri = signed_uri(
        &authn_request("_o2", SP, ""),
        &key,
        RSA_SHA256,
        MessageDigest::sha256(),
    );
    let tampered = uri.replace("RelayState=rs", "RelayState=rt");
    let (bad, body) = get(&idp, &tampered, None).await;
    assert_eq!(bad, StatusCode::BAD_REQUEST);
    assert!(body.contains("does not verify"), "{body}");
}

#[actix_web::test]
async fn missing_or_bad_request_signature_is_refused_when_required() {
    let (sp, key) = signed_sp();
    let idp = Idp::new(vec![sp]).await;
    let (missing, _) = get(&idp, &redirect_uri(&authn_request("_m1", SP, "")), None).await;
    assert_eq!(missing, StatusCode::BAD_REQUEST);
    let uri = signed_uri(
        &authn_request("_m2", SP, ""),
        &key,
        RSA_SHA256,
        MessageDigest::sha256(),
    );
    let tampered = uri.replace("RelayState=rs", "RelayState=rt");
    let (bad, body) = get(&idp, &tampered, None).await;
    assert_eq!(bad, StatusCode::BAD_REQUEST);
    assert!(body.contains("does not verify"));
}

#[actix_web::test]
async fn sha1_sigalg_is_refused() {
    let (sp, key) = signed_sp();
    let idp = Idp::new(vec![sp]).await;
    let uri = signed_uri(
        &authn_request("_sha1", SP, ""),
        &key,
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        MessageDigest::sha1(),
    );
    let (status, body) = get(&idp, &uri, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("algorithm is not allowed"));
}

// Bad input (issue 4): refusals that are a known, trusted SP's own fault get a
// signed Requester error Response at its default registered ACS; everything else
// gets a page.

const ARTIFACT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact";

/// `authn_request` with its IssueInstant replaced.
fn issued_at(xml: &str, at: time::OffsetDateTime) -> String {
    let start = xml.find("IssueInstant=\"").expect("IssueInstant") + 14;
    let end = start + xml[start..].find('"').expect("end");
    let at = at
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats");
    format!("{}{at}{}", &xml[..start], &xml[end..])
}

/// Asserts a 200 auto-post to the default ACS of a signed Requester error with
/// `second`, in response to `id`, with RelayState `rs1`.
async fn assert_requester_error(idp: &Idp, status: StatusCode, body: &str, id: &str, second: &str) {
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains(&format!("action=\"{ACS}\"")), "{body}");
    assert!(body.contains("name=\"RelayState\" value=\"rs1\""), "{body}");
    let xml = posted_response(body);
    assert!(xml.contains(&format!("InResponseTo=\"{id}\"")), "{xml}");
    assert!(
        xml.contains(
            "<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Requester\">\
             <samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:"
        ) && xml.contains(&format!("status:{second}\"/>")),
        "{xml}"
    );
    assert!(!xml.contains("<saml:Assertion"), "{xml}");
    xmlsec_verify(&idp_cert(idp).await, &xml);
}

fn assert_page(status: StatusCode, body: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        !body.contains("<form") && !body.contains("SAMLResponse"),
        "{body}"
    );
}

#[actix_web::test]
async fn wrong_protocol_binding_from_a_known_sp_gets_unsupported_binding() {
    let idp = Idp::new(vec![sp()]).await;
    let xml = authn_request("_wb", SP, &format!(" ProtocolBinding=\"{ARTIFACT}\""));
    let (status, body) = get(&idp, &redirect_uri(&xml), None).await;
    assert_requester_error(&idp, status, &body, "_wb", "UnsupportedBinding").await;
}

#[actix_web::test]
async fn error_response_goes_to_the_default_acs_not_the_named_one() {
    let mut sp = sp();
    sp.acs.push(usher_saml::Acs {
        url: "https://sp.example/acs2".into(),
        binding: usher_saml::Binding::HttpPost,
        index: 1,
        default: false,
    });
    let idp = Idp::new(vec![sp]).await;
    let xml = authn_request(
        "_wb2",
        SP,
        &format!(
            " ProtocolBinding=\"{ARTIFACT}\" \
             AssertionConsumerServiceURL=\"https://sp.example/acs2\""
        ),
    );
    let (status, body) = get(&idp, &redirect_uri(&xml), None).await;
    assert_requester_error(&idp, status, &body, "_wb2", "UnsupportedBinding").await;
    assert!(!body.contains("acs2"), "{body}");
}

#[actix_web::test]
async fn stale_issue_instant_gets_request_unsupported() {
    let idp = Idp::new(vec![sp()]).await;
    let old = time::OffsetDateTime::now_utc() - time::Duration::hours(1);
    let xml = issued_at(&authn_request("_old", SP, ""), old);
    let (status, body) = get(&idp, &redirect_uri(&xml), None).await;
    assert_requester_error(&idp, status, &body, "_old", "RequestUnsupported").await;
}

#[actix_web::test]
async fn wrong_destination_gets_request_unsupported() {
    let idp = Idp::new(vec![sp()]).await;
    let xml = authn_request("_dst", SP, " Destination=\"https://other.example/sso\"");
    let (status, body) = get(&idp, &redirect_uri(&xml), None).await;
    assert_requester_error(&idp, status, &body, "_dst", "RequestUnsupported").await;
}

#[actix_web::test]
async fn wrong_binding_with_an_unregistered_acs_url_gets_a_page() {
    let idp = Idp::new(vec![sp()]).await;
    let xml = authn_request(
        "_wbu",
        SP,
        &format!(
            " ProtocolBinding=\"{ARTIFACT}\" \
             AssertionConsumerServiceURL=\"https://evil.example/acs\""
        ),
    );
    let (status, body) = get(&idp, &redirect_uri(&xml), None).await;
    assert_page(status, &body);
}

#[actix_web::test]
async fn replayed_request_with_a_wrong_binding_gets_a_page_the_second_time() {
    let idp = Idp::new(vec![sp()]).await;
    let uri = redirect_uri(&authn_request(
        "_wbr",
        SP,
        &format!(" ProtocolBinding=\"{ARTIFACT}\""),
    ));
    let (first, _) = get(&idp, &uri, None).await;
    assert_eq!(first, StatusCode::OK);
    let (second, body) = get(&idp, &uri, None).await;
    assert_page(second, &body);
    assert!(body.contains("already used"), "{body}");
}

#[actix_web::test]
async fn wrong_binding_with_a_bad_signature_gets_a_page() {
    let (sp, key) = signed_sp();
    let idp = Idp::new(vec![sp]).await;
    let uri = signed_uri(
        &authn_request("_wbs", SP, &format!(" ProtocolBinding=\"{ARTIFACT}\"")),
        &key,
        RSA_SHA256,
        MessageDigest::sha256(),
    );
    let (status, body) = get(&idp, &uri.replace("RelayState=rs", "RelayState=rt"), None).await;
    assert_page(status, &body);
}

#[actix_web::test]
async fn malformed_xml_gets_a_page() {
    let idp = Idp::new(vec![sp()]).await;
    let xml = authn_request("_mx", SP, "").replace("</samlp:AuthnRequest>", "");
    let (status, body) = get(&idp, &redirect_uri(&xml), None).await;
    assert_page(status, &body);
}

#[actix_web::test]
async fn bad_base64_gets_a_page() {
    let idp = Idp::new(vec![sp()]).await;
    let (status, body) = get(&idp, "/saml/sso?SAMLRequest=%25%25not*base64!!", None).await;
    assert_page(status, &body);
    let (status, body) = post(&idp, "SAMLRequest=%25%25not*base64!!".into(), None).await;
    assert_page(status, &body);
}

#[actix_web::test]
async fn bad_deflate_gets_a_page() {
    let idp = Idp::new(vec![sp()]).await;
    // Valid base64 of the request as is, not deflated.
    let raw = STANDARD.encode(authn_request("_nd", SP, ""));
    let (status, body) = get(
        &idp,
        &format!("/saml/sso?SAMLRequest={}", urlencode(&raw)),
        None,
    )
    .await;
    assert_page(status, &body);
}

#[actix_web::test]
async fn unknown_issuer_with_a_wrong_binding_gets_a_page() {
    let idp = Idp::new(vec![sp()]).await;
    let xml = authn_request(
        "_ui",
        "https://evil.example",
        &format!(" ProtocolBinding=\"{ARTIFACT}\""),
    );
    let (status, body) = get(&idp, &redirect_uri(&xml), None).await;
    assert_page(status, &body);
}
