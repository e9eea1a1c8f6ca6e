//! Whole flows: through the login page and back, ForceAuthn, what gets signed,
//! NameID formats, IdP-initiated SSO, SP metadata, signed POST requests.

use actix_web::http::StatusCode;
use actix_web::{App, test};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};
use usher_core::{NewGroup, Participant, SESSION_COOKIE, UserUpdate};
use usher_saml::{
    Binding, Claim, NameIdFormat, ServiceProvider, SignWhat, configure, parse_sp_metadata,
};

use crate::fixture::*;
use crate::sso::*;

/// The `Location` of a 303 and the status.
async fn get_redirect(idp: &Idp, uri: &str, cookie: Option<&str>) -> (StatusCode, String) {
    let app = test::init_service(App::new().app_data(idp.data.clone()).configure(configure)).await;
    let mut req = test::TestRequest::get().uri(uri);
    if let Some(c) = cookie {
        req = req.cookie(actix_web::cookie::Cookie::new(SESSION_COOKIE, c.to_owned()));
    }
    let resp = test::call_service(&app, req.to_request()).await;
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    (resp.status(), location)
}

#[actix_web::test]
async fn login_then_resume_issues_the_response_and_joins_the_session() {
    let idp = Idp::new(vec![sp()]).await;
    let (status, location) =
        get_redirect(&idp, &redirect_uri(&authn_request("_l1", SP, "")), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let t = location
        .strip_prefix("/login?t=")
        .expect("sent to the login page");
    let login = idp
        .state
        .deps
        .interactions
        .login(t)
        .await
        .expect("store")
        .expect("parked");
    assert!(login.resume_url.starts_with("/saml/sso/resume?id="));
    assert!(!login.force_login);
    // The page signs the user in and sends the browser back.
    let (cookie, session) = idp
        .sessions
        .create(idp.user.id, vec!["pwd".into()], None)
        .await
        .expect("session");
    let (status, body) = get(&idp, &login.resume_url, Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let xml = posted_response(&body);
    assert!(xml.contains("InResponseTo=\"_l1\""));
    assert!(xml.contains(&format!("SessionIndex=\"{}\"", session.sid)));
    assert!(xml.contains("name=\"RelayState\"") || body.contains("value=\"rs1\""));
    let participants = idp
        .sessions
        .participants(&session)
        .await
        .expect("participants");
    assert!(matches!(&participants[..], [Participant::Saml { entity_id, .. }] if entity_id == SP));
    // The parked request is single-use.
    let (again, _) = get(&idp, &login.resume_url, Some(&cookie)).await;
    assert_eq!(again, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn force_authn_sends_a_signed_in_user_to_the_login_page() {
    let idp = Idp::new(vec![sp()]).await;
    let (cookie, _) = idp
        .sessions
        .create(idp.user.id, vec!["pwd".into()], None)
        .await
        .expect("session");
    let xml = authn_request("_f1", SP, " ForceAuthn=\"true\"");
    let (status, location) = get_redirect(&idp, &redirect_uri(&xml), Some(&cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let t = location.strip_prefix("/login?t=").expect("login page");
    let login = idp
        .state
        .deps
        .interactions
        .login(t)
        .await
        .expect("store")
        .expect("parked");
    assert!(login.force_login);
}

async fn response_for(sp: ServiceProvider, setup: impl AsyncFnOnce(&Idp)) -> (Idp, String) {
    let idp = Idp::new(vec![sp]).await;
    setup(&idp).await;
    let (cookie, _) = idp
        .sessions
        .create(idp.user.id, vec!["pwd".into()], None)
        .await
        .expect("session");
    let (status, body) = get(
        &idp,
        &redirect_uri(&authn_request("_w1", SP, "")),
        Some(&cookie),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let xml = posted_response(&body);
    (idp, xml)
}

#[actix_web::test]
async fn sign_both_signs_assertion_and_response() {
    let mut sp = sp();
    sp.sign = SignWhat::Both;
    let (idp, xml) = response_for(sp, async |_| {}).await;
    assert_eq!(xml.matches("<ds:Signature ").count(), 2, "{xml}");
    // The response signature comes right after the Response's Issuer; the
    // assertion's right after the assertion's Issuer (schema order).
    assert!(xml.contains("</saml:Issuer><ds:Signature "));
    let cert = idp_cert(&idp).await;
    Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        &xml,
        &[CertificateDer::from(cert)],
        ReduceMode::ValidateAndMarkNoAncestors,
        Some(&[AllowedSignatureAlgorithm::RsaSha256]),
    )
    .expect("both signatures verify");
}

#[actix_web::test]
async fn sign_assertion_only_leaves_the_response_unsigned() {
    let mut sp = sp();
    sp.sign = SignWhat::Assertion;
    let (idp, xml) = response_for(sp, async |_| {}).await;
    assert_eq!(xml.matches("<ds:Signature ").count(), 1);
    let assertion_at = xml.find("<saml:Assertion").expect("assertion");
    assert!(xml.find("<ds:Signature ").expect("signature") > assertion_at);
    let cert = idp_cert(&idp).await;
    let reduced = Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        &xml,
        &[CertificateDer::from(cert)],
        ReduceMode::ValidateAndMarkNoAncestors,
        Some(&[AllowedSignatureAlgorithm::RsaSha256]),
    )
    .expect("the assertion signature verifies");
    assert!(reduced.contains("Assertion"));
}

/// The instant in `attribute="..."` of the first element carrying it.
fn xml_instant(xml: &str, attribute: &str) -> time::OffsetDateTime {
    let start = xml.find(&format!("{attribute}=\"")).expect(attribute) + attribute.len() + 2;
    let end = start + xml[start..].find('"').expect("closing quote");
    time::OffsetDateTime::parse(
        &xml[start..end],
        &time::format_description::well_known::Rfc3339,
    )
    .expect("an xs:dateTime")
}

#[actix_web::test]
async fn session_not_on_or_after_follows_the_sp_session_lifetime() {
    // Default: the SP may keep its session until the SSO session's absolute end.
    let (_, xml) = response_for(sp(), async |_| {}).await;
    let issued = xml_instant(&xml, "IssueInstant");
    let default_end = xml_instant(&xml, "SessionNotOnOrAfter");
    assert!(default_end - issued > time::Duration::hours(1), "{xml}");

    // A per-SP lifetime shortens it, counted from the assertion.
    let mut short = sp();
    short.session_lifetime = Some(std::time::Duration::from_secs(600));
    let (_, xml) = response_for(short, async |_| {}).await;
    let lifetime = xml_instant(&xml, "SessionNotOnOrAfter") - xml_instant(&xml, "IssueInstant");
    assert!(
        (time::Duration::seconds(599)..=time::Duration::seconds(601)).contains(&lifetime),
        "{lifetime}"
    );

    // A lifetime longer than the SSO session is capped at its end.
    let mut long = sp();
    long.session_lifetime = Some(std::time::Duration::from_secs(400 * 24 * 3600));
    let (_, xml) = response_for(long, async |_| {}).await;
    let capped = xml_instant(&xml, "SessionNotOnOrAfter") - xml_instant(&xml, "IssueInstant");
    assert!(
        capped <= default_end - issued + time::Duration::seconds(2),
        "{capped}"
    );
}

#[actix_web::test]
async fn persistent_name_id_is_stable_and_differs_per_sp() {
    let mut a = sp();
    a.name_id_format = NameIdFormat::Persistent;
    let (_, first) = response_for(a.clone(), async |_| {}).await;
    let id_of = |xml: &str| {
        let s = xml.find("nameid-format:persistent\"").expect("persistent");
        let v = &xml[s..];
        let start = v.find('>').expect(">") + 1;
        v[start..start + v[start..].find('<').expect("<")].to_owned()
    };
    let idp = Idp::new(vec![a.clone()]).await;
    // Same user id across two IdPs is not guaranteed; compare within one IdP.
    let (cookie, _) = idp
        .sessions
        .create(idp.user.id, vec!["pwd".into()], None)
        .await
        .expect("session");
    let (_, b1) = get(
        &idp,
        &redirect_uri(&authn_request("_n1", SP, "")),
        Some(&cookie),
    )
    .await;
    let (_, b2) = get(
        &idp,
        &redirect_uri(&authn_request("_n2", SP, "")),
        Some(&cookie),
    )
    .await;
    assert_eq!(id_of(&posted_response(&b1)), id_of(&posted_response(&b2)));
    assert_ne!(id_of(&first), idp.user.username);
    assert!(!id_of(&first).contains(&idp.user.id.to_string()));
}

#[actix_web::test]
async fn email_name_id_and_multi_valued_groups() {
    let mut s = sp();
    s.name_id_format = NameIdFormat::EmailAddress;
    s.attributes.push(("groups".into(), Claim::Groups));
    let (_, xml) = response_for(s, async |idp| {
        let dir = &idp.state.deps.directory;
        for g in ["admins", "staff"] {
            let group = dir.create_group(NewGroup::named(g)).await.expect("group");
            dir.add_member(group.id, idp.user.id).await.expect("member");
        }
    })
    .await;
    assert!(xml.contains("nameid-format:emailAddress\">alice@example.com</saml:NameID>"));
    assert!(xml.contains(
        "<saml:AttributeValue xsi:type=\"xs:string\">admins</saml:AttributeValue>\
<saml:AttributeValue xsi:type=\"xs:string\">staff</saml:AttributeValue>"
    ));
}

/// usher canonicalizes what it signs itself (c14n.rs): values with markup,
/// quotes, tabs, line breaks, a CR and non-ASCII text, in the assertion and the
/// response, in a signature nested in a signed parent, must verify in xmlsec.
#[actix_web::test]
async fn signatures_over_awkward_values_verify_in_xmlsec() {
    let mut s = sp();
    s.sign = SignWhat::Both;
    s.attributes.push(("givenName".into(), Claim::GivenName));
    s.attributes.push(("groups".into(), Claim::Groups));
    let (idp, xml) = response_for(s, async |idp| {
        let dir = &idp.state.deps.directory;
        let update = UserUpdate {
            given_name: Some(Some("tab\there\r\nnext 'q' \"d\" <&> ünïcødé 名前".into())),
            ..UserUpdate::default()
        };
        dir.update_user(idp.user.id, update).await.expect("updated");
        let group = dir
            .create_group(NewGroup::named("a&b <c> \"d\""))
            .await
            .expect("group");
        dir.add_member(group.id, idp.user.id).await.expect("member");
    })
    .await;
    assert!(xml.contains("&#xD;"), "a CR travels as a reference: {xml}");
    let cert = idp_cert(&idp).await;
    Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        &xml,
        &[CertificateDer::from(cert)],
        ReduceMode::ValidateAndMarkNoAncestors,
        Some(&[AllowedSignatureAlgorithm::RsaSha256]),
    )
    .expect("both signatures verify");
    let tampered = xml.replace("ünïcødé", "unicode");
    assert!(
        Crypto::reduce_xml_to_signed_with_allowed_algorithms(
            &tampered,
            &[CertificateDer::from(idp_cert(&idp).await)],
            ReduceMode::ValidateAndMarkNoAncestors,
            Some(&[AllowedSignatureAlgorithm::RsaSha256]),
        )
        .is_err(),
        "a changed value breaks the signature"
    );
}

#[actix_web::test]
async fn inactive_user_gets_request_denied() {
    let (_, xml) = response_for(sp(), async |idp| {
        let update = UserUpdate {
            active: Some(false),
            ..UserUpdate::default()
        };
        idp.state
            .deps
            .directory
            .update_user(idp.user.id, update)
            .await
            .expect("deactivated");
    })
    .await;
    assert!(xml.contains("status:RequestDenied"));
    assert!(!xml.contains("<saml:Assertion"));
}

#[actix_web::test]
async fn stale_or_future_authn_request_is_refused_at_the_acs() {
    // From a known SP: a signed Requester/RequestUnsupported error, no assertion.
    let idp = Idp::new(vec![sp()]).await;
    for (id, at) in [
        ("_old", "2020-01-01T00:00:00Z"),
        ("_future", "2999-01-01T00:00:00Z"),
    ] {
        let fresh = authn_request(id, SP, "");
        let xml = fresh.replace(&xml_issue_instant(&fresh), at);
        let (status, body) = get(&idp, &redirect_uri(&xml), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let xml = posted_response(&body);
        assert!(xml.contains(&format!("InResponseTo=\"{id}\"")), "{xml}");
        assert!(xml.contains("status:Requester") && xml.contains("status:RequestUnsupported"));
        assert!(!xml.contains("<saml:Assertion"));
    }
}

fn xml_issue_instant(xml: &str) -> String {
    let s = xml.find("IssueInstant=\"").expect("instant") + 14;
    xml[s..s + xml[s..].find('"').expect("end")].to_owned()
}

#[actix_web::test]
async fn idp_initiated_only_where_allowed() {
    let mut allowed = sp();
    allowed.allow_idp_initiated = true;
    let mut other = ServiceProvider::new("https://other.example", "https://other.example/acs");
    other.allow_idp_initiated = false;
    let idp = Idp::new(vec![allowed, other]).await;
    let (cookie, _) = idp
        .sessions
        .create(idp.user.id, vec!["pwd".into()], None)
        .await
        .expect("session");
    let uri = format!("/saml/sso/init?sp={}&RelayState=%2Fhome", urlencode(SP));
    let (status, body) = get(&idp, &uri, Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("value=\"/home\""));
    let xml = posted_response(&body);
    assert!(!xml.contains("InResponseTo"));
    let (refused, body) = get(
        &idp,
        "/saml/sso/init?sp=https%3A%2F%2Fother.example",
        Some(&cookie),
    )
    .await;
    assert_eq!(refused, StatusCode::BAD_REQUEST);
    assert!(!body.contains("<form"));
}

#[actix_web::test]
async fn sp_metadata_is_parsed() {
    let cert = STANDARD.encode(signed_sp().0.signing_cert_der.expect("cert"));
    let md = format!(
        r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/metadata">
  <md:SPSSODescriptor AuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://sp.example/slo"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="1"/>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs2" index="2" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>"#
    );
    let sp = parse_sp_metadata(&md, None).expect("parses");
    assert_eq!(sp.entity_id, SP);
    assert_eq!(sp.acs.len(), 2);
    assert_eq!(
        sp.default_acs().expect("default").url,
        "https://sp.example/acs2"
    );
    assert_eq!(sp.acs[0].binding, Binding::HttpPost);
    assert!(sp.signing_cert_der.is_some() && sp.want_signed_requests);
    assert_eq!(sp.name_id_format, NameIdFormat::EmailAddress);
    assert_eq!(sp.slo_url.as_deref(), Some("https://sp.example/slo"));
    let with_dtd = md.replace(
        "<?xml version=\"1.0\"?>",
        "<?xml version=\"1.0\"?><!DOCTYPE x>",
    );
    assert!(parse_sp_metadata(&with_dtd, None).is_err());
}

/// An AuthnRequest with an enveloped signature by the SP's key (POST binding).
fn sign_request(id: &str, key: &openssl::pkey::PKey<openssl::pkey::Private>) -> String {
    let xml = authn_request(id, SP, "");
    let template = format!(
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
<ds:Reference URI=\"#{id}\"><ds:Transforms>\
<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
<ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo>\
<ds:SignatureValue></ds:SignatureValue></ds:Signature>"
    );
    let xml = xml.replace("</saml:Issuer>", &format!("</saml:Issuer>{template}"));
    Crypto::sign_xml(xml, &key.private_key_to_pkcs8().expect("pkcs8")).expect("signs")
}

#[actix_web::test]
async fn signed_post_request_is_accepted_and_a_tampered_one_refused() {
    let (sp, key) = signed_sp();
    let idp = Idp::new(vec![sp]).await;
    let signed = sign_request("_ps1", &key);
    let (status, _) = post(
        &idp,
        format!("SAMLRequest={}", urlencode(&STANDARD.encode(&signed))),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let tampered =
        sign_request("_ps2", &key).replace("ID=\"_ps2\"", "ID=\"_ps2\" ForceAuthn=\"true\"");
    let (status, body) = post(
        &idp,
        format!("SAMLRequest={}", urlencode(&STANDARD.encode(&tampered))),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("signature"));
    let unsigned = authn_request("_ps3", SP, "");
    let (status, _) = post(
        &idp,
        format!("SAMLRequest={}", urlencode(&STANDARD.encode(&unsigned))),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
