//! SP-initiated Single Logout.

use actix_web::http::StatusCode;
use actix_web::{App, test};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use usher_core::SESSION_COOKIE;
use usher_saml::{ServiceProvider, configure};

use crate::fixture::*;
use crate::sso::*;

const SLO: &str = "https://sp.example/slo";

fn slo_sp() -> ServiceProvider {
    let mut sp = sp();
    sp.slo_url = Some(SLO.into());
    sp
}

pub(crate) fn logout_request(id: &str, name_id: &str, session_index: &str) -> String {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats");
    format!(
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{now}\">\
<saml:Issuer>{SP}</saml:Issuer><saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified\">{name_id}</saml:NameID>\
<samlp:SessionIndex>{session_index}</samlp:SessionIndex></samlp:LogoutRequest>"
    )
}

async fn location(idp: &Idp, uri: &str, cookie: &str) -> (StatusCode, String) {
    let app = test::init_service(App::new().app_data(idp.data.clone()).configure(configure)).await;
    let req = test::TestRequest::get()
        .uri(uri)
        .cookie(actix_web::cookie::Cookie::new(
            SESSION_COOKIE,
            cookie.to_owned(),
        ))
        .to_request();
    let resp = test::call_service(&app, req).await;
    let loc = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    (resp.status(), loc)
}

/// Signs in and gets a response for the SP, so the session has it as participant.
async fn signed_in(idp: &Idp) -> (String, usher_core::SsoSession) {
    let (cookie, session) = idp
        .sessions
        .create(idp.user.id, vec!["pwd".into()], None)
        .await
        .expect("session");
    let (status, _) = get(
        idp,
        &redirect_uri(&authn_request("_sso", SP, "")),
        Some(&cookie),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    (cookie, session)
}

#[actix_web::test]
async fn redirect_logout_ends_the_session_and_answers_signed() {
    let idp = Idp::new(vec![slo_sp()]).await;
    let (cookie, session) = signed_in(&idp).await;
    let uri = format!(
        "/saml/slo?SAMLRequest={}&RelayState=bye",
        urlencode(&deflate_b64(
            logout_request("_lo1", "alice", &session.sid).as_bytes()
        ))
    );
    let (status, loc) = location(&idp, &uri, &cookie).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(loc.starts_with(&format!("{SLO}?SAMLResponse=")));
    assert!(
        idp.sessions.get(&cookie).await.expect("store").is_none(),
        "session ended"
    );
    // The query signature verifies with our certificate over the exact bytes.
    let query = loc.split_once('?').expect("query").1;
    let (signed, sig) = query.split_once("&Signature=").expect("signed");
    assert!(signed.contains("&RelayState=bye&SigAlg="));
    let sig = STANDARD.decode(usher_saml_decode(sig)).expect("base64");
    let cert = openssl::x509::X509::from_der(&idp_cert(&idp).await).expect("cert");
    let key = cert.public_key().expect("key");
    let mut v = Verifier::new(MessageDigest::sha256(), &key).expect("verifier");
    v.update(signed.as_bytes()).expect("update");
    assert!(v.verify(&sig).expect("verify"));
}

fn usher_saml_decode(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).expect("hex"), 16)
                    .expect("hex"),
            );
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

#[actix_web::test]
async fn logout_naming_another_user_leaves_the_session() {
    let idp = Idp::new(vec![slo_sp()]).await;
    let (cookie, session) = signed_in(&idp).await;
    let uri = format!(
        "/saml/slo?SAMLRequest={}",
        urlencode(&deflate_b64(
            logout_request("_lo2", "mallory", &session.sid).as_bytes()
        ))
    );
    let (status, _) = location(&idp, &uri, &cookie).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        idp.sessions.get(&cookie).await.expect("store").is_some(),
        "session kept"
    );
}

#[actix_web::test]
async fn unsigned_logout_is_refused_when_the_sp_has_a_certificate() {
    let (mut sp, _) = signed_sp();
    sp.slo_url = Some(SLO.into());
    let idp = Idp::new(vec![sp]).await;
    let (cookie, session) = idp
        .sessions
        .create(idp.user.id, vec!["pwd".into()], None)
        .await
        .expect("session");
    let uri = format!(
        "/saml/slo?SAMLRequest={}",
        urlencode(&deflate_b64(
            logout_request("_lo3", "alice", &session.sid).as_bytes()
        ))
    );
    let (status, loc) = location(&idp, &uri, &cookie).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(loc.is_empty());
    assert!(idp.sessions.get(&cookie).await.expect("store").is_some());
}

#[actix_web::test]
async fn post_logout_answers_with_a_signed_form() {
    let idp = Idp::new(vec![slo_sp()]).await;
    let (cookie, session) = signed_in(&idp).await;
    let body = format!(
        "SAMLRequest={}",
        urlencode(&STANDARD.encode(logout_request("_lo4", "alice", &session.sid)))
    );
    let (status, page) = post(&idp, body, Some(&cookie)).await;
    // post() targets /saml/sso; the SLO endpoint is tested through its own path below.
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a LogoutRequest is not an AuthnRequest: {page}"
    );
    let app = test::init_service(App::new().app_data(idp.data.clone()).configure(configure)).await;
    let req = test::TestRequest::post()
        .uri("/saml/slo")
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .cookie(actix_web::cookie::Cookie::new(
            SESSION_COOKIE,
            cookie.clone(),
        ))
        .set_payload(format!(
            "SAMLRequest={}",
            urlencode(&STANDARD.encode(logout_request("_lo5", "alice", &session.sid)))
        ))
        .to_request();
    let resp = test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let page = String::from_utf8_lossy(&test::read_body(resp).await).into_owned();
    assert!(page.contains(&format!("action=\"{SLO}\"")));
    let xml = posted_response(&page);
    assert!(xml.contains("LogoutResponse") && xml.contains("InResponseTo=\"_lo5\""));
    xmlsec_verify(&idp_cert(&idp).await, &xml);
    assert!(idp.sessions.get(&cookie).await.expect("store").is_none());
}
