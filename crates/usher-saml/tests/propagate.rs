//! Front-channel logout propagation to the other SAML SPs of a session.

use actix_web::http::StatusCode;
use actix_web::{App, test};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::sign::{Signer, Verifier};
use usher_core::{ChainEnd, LogoutChain, Participant, SESSION_COOKIE};
use usher_saml::{ServiceProvider, configure};

use crate::fixture::*;
use crate::sso::*;

const SLO_A: &str = "https://sp.example/slo";
const SP_B: &str = "https://b.example/metadata";
const SLO_B: &str = "https://b.example/slo";
const SP_C: &str = "https://c.example/metadata";
const SLO_C: &str = "https://c.example/slo";
const UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

fn sp_a() -> ServiceProvider {
    let mut sp = sp();
    sp.slo_url = Some(SLO_A.into());
    sp
}

fn other_sp(entity_id: &str, slo: Option<&str>) -> ServiceProvider {
    let mut sp = ServiceProvider::new(entity_id, format!("{entity_id}/acs"));
    sp.slo_url = slo.map(str::to_owned);
    sp
}

fn saml(entity_id: &str, name_id: &str, format: &str) -> Participant {
    Participant::Saml {
        entity_id: entity_id.into(),
        name_id: name_id.into(),
        name_id_format: format.into(),
    }
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

fn logout_request(id: &str, session_index: &str) -> String {
    format!(
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{}\">\
<saml:Issuer>{SP}</saml:Issuer><saml:NameID Format=\"{UNSPECIFIED}\">alice</saml:NameID>\
<samlp:SessionIndex>{session_index}</samlp:SessionIndex></samlp:LogoutRequest>",
        now()
    )
}

fn logout_response(issuer: &str, in_response_to: &str, status: &str) -> String {
    format!(
        "<samlp:LogoutResponse xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_r{in_response_to}\" Version=\"2.0\" \
IssueInstant=\"{}\" Destination=\"{URL}/saml/slo\" InResponseTo=\"{in_response_to}\">\
<saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"{status}\"/>\
</samlp:Status></samlp:LogoutResponse>",
        now()
    )
}

/// `GET uri` with the session cookie, if any: (status, Location).
async fn go(idp: &Idp, uri: &str, cookie: Option<&str>) -> (StatusCode, String) {
    let app = test::init_service(App::new().app_data(idp.data.clone()).configure(configure)).await;
    let mut req = test::TestRequest::get().uri(uri);
    if let Some(c) = cookie {
        req = req.cookie(actix_web::cookie::Cookie::new(SESSION_COOKIE, c.to_owned()));
    }
    let resp = test::call_service(&app, req.to_request()).await;
    let loc = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    (resp.status(), loc)
}

async fn post_slo(idp: &Idp, body: String) -> (StatusCode, String) {
    let app = test::init_service(App::new().app_data(idp.data.clone()).configure(configure)).await;
    let req = test::TestRequest::post()
        .uri("/saml/slo")
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(body)
        .to_request();
    let resp = test::call_service(&app, req).await;
    let loc = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    (resp.status(), loc)
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("hex");
            out.push(u8::from_str_radix(hex, 16).expect("hex"));
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

fn inflate(b64: &str) -> String {
    use std::io::Read;
    let bytes = STANDARD.decode(pct_decode(b64)).expect("base64");
    let mut out = String::new();
    flate2::read::DeflateDecoder::new(&bytes[..])
        .read_to_string(&mut out)
        .expect("inflates");
    out
}

fn attr(xml: &str, name: &str) -> String {
    let start = xml.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
    xml[start..start + xml[start..].find('"').expect("end")].to_owned()
}

/// The LogoutRequest a redirect to `slo` carries, its signature checked with our
/// certificate: (xml, RelayState).
async fn sent_request(idp: &Idp, location: &str, slo: &str) -> (String, String) {
    let query = location
        .strip_prefix(&format!("{slo}?"))
        .unwrap_or_else(|| panic!("a redirect to {slo}: {location}"));
    let (signed, sig) = query.split_once("&Signature=").expect("signed");
    assert!(signed.starts_with("SAMLRequest=") && signed.contains("&SigAlg="));
    let cert = openssl::x509::X509::from_der(&idp_cert(idp).await).expect("cert");
    let key = cert.public_key().expect("key");
    let mut v = Verifier::new(MessageDigest::sha256(), &key).expect("verifier");
    v.update(signed.as_bytes()).expect("update");
    let sig = STANDARD.decode(pct_decode(sig)).expect("base64");
    assert!(v.verify(&sig).expect("verify"), "our signature verifies");
    let xml = inflate(param(query, "SAMLRequest").expect("request"));
    let relay = pct_decode(param(query, "RelayState").expect("relay state"));
    (xml, relay)
}

/// A LogoutResponse over Redirect, signed with `key` when given.
fn response_uri(xml: &str, relay: &str, key: Option<&PKey<Private>>) -> String {
    let mut q = format!(
        "SAMLResponse={}&RelayState={}",
        urlencode(&deflate_b64(xml.as_bytes())),
        urlencode(relay)
    );
    if let Some(key) = key {
        q.push_str("&SigAlg=");
        q.push_str(&urlencode(
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        ));
        let mut s = Signer::new(MessageDigest::sha256(), key).expect("signer");
        s.update(q.as_bytes()).expect("update");
        let sig = s.sign_to_vec().expect("sign");
        q.push_str("&Signature=");
        q.push_str(&urlencode(&STANDARD.encode(sig)));
    }
    format!("/saml/slo?{q}")
}

async fn session_with(idp: &Idp, participants: &[Participant]) -> (String, usher_core::SsoSession) {
    let (cookie, session) = idp
        .sessions
        .create(idp.user.id, vec!["pwd".into()], None)
        .await
        .expect("session");
    for p in participants {
        idp.sessions.join(&session, p).await.expect("joined");
    }
    (cookie, session)
}

async fn chain_to(idp: &Idp, remaining: Vec<Participant>, sid: &str, then: &str) -> String {
    idp.state
        .deps
        .interactions
        .start_logout_chain(&LogoutChain {
            remaining,
            sid: sid.into(),
            pending: None,
            then: ChainEnd::Redirect(then.into()),
        })
        .await
        .expect("parked")
}

#[actix_web::test]
async fn sp_initiated_logout_tells_the_other_sp_then_answers_the_initiator() {
    let (mut b, b_key) = signed_sp();
    b.entity_id = SP_B.into();
    b.slo_url = Some(SLO_B.into());
    let idp = Idp::new(vec![sp_a(), b]).await;
    let (cookie, session) = session_with(
        &idp,
        &[
            saml(SP, "alice", UNSPECIFIED),
            saml(SP_B, "opaque-b", PERSISTENT),
            Participant::Oidc {
                client_id: "rp".into(),
            },
        ],
    )
    .await;
    let uri = format!(
        "/saml/slo?SAMLRequest={}&RelayState=bye",
        urlencode(&deflate_b64(
            logout_request("_lo1", &session.sid).as_bytes()
        ))
    );
    let (status, loc) = go(&idp, &uri, Some(&cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(idp.sessions.get(&cookie).await.expect("store").is_none());

    let (xml, chain) = sent_request(&idp, &loc, SLO_B).await;
    assert!(xml.starts_with("<samlp:LogoutRequest "), "{xml}");
    assert_eq!(attr(&xml, "Destination"), SLO_B);
    assert!(xml.contains(&format!("<saml:Issuer>{URL}/saml/metadata</saml:Issuer>")));
    assert!(xml.contains(&format!(
        "<saml:NameID Format=\"{PERSISTENT}\">opaque-b</saml:NameID>"
    )));
    assert!(xml.contains(&format!(
        "<samlp:SessionIndex>{}</samlp:SessionIndex>",
        session.sid
    )));
    let request_id = attr(&xml, "ID");

    // B answers (signed, as it has a certificate): A gets its LogoutResponse.
    let answer = response_uri(
        &logout_response(SP_B, &request_id, SUCCESS),
        &chain,
        Some(&b_key),
    );
    let (status, loc) = go(&idp, &answer, None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let query = loc
        .strip_prefix(&format!("{SLO_A}?"))
        .unwrap_or_else(|| panic!("the initiator's LogoutResponse: {loc}"));
    assert_eq!(param(query, "RelayState"), Some("bye"));
    let xml = inflate(param(query, "SAMLResponse").expect("response"));
    assert_eq!(attr(&xml, "InResponseTo"), "_lo1");
    assert!(xml.contains(SUCCESS));

    // The same response again answers nothing.
    let (status, loc) = go(&idp, &answer, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(loc.is_empty());
}

#[actix_web::test]
async fn the_sign_out_page_chain_ends_at_its_destination_over_post_too() {
    let idp = Idp::new(vec![sp_a()]).await;
    let (cookie, session) = session_with(&idp, &[saml(SP, "alice", UNSPECIFIED)]).await;
    // What usher-web's POST /logout does: end the session, park the chain.
    idp.sessions.end(&cookie).await.expect("ended");
    let t = chain_to(
        &idp,
        vec![saml(SP, "alice", UNSPECIFIED)],
        &session.sid,
        "https://wiki.example.test/bye",
    )
    .await;
    let (status, loc) = go(&idp, &format!("/saml/slo/propagate?t={t}"), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (xml, relay) = sent_request(&idp, &loc, SLO_A).await;
    assert_eq!(relay, t);
    assert!(xml.contains(&format!(
        "<samlp:SessionIndex>{}</samlp:SessionIndex>",
        session.sid
    )));
    let body = format!(
        "SAMLResponse={}&RelayState={}",
        urlencode(&STANDARD.encode(logout_response(SP, &attr(&xml, "ID"), SUCCESS))),
        urlencode(&relay)
    );
    let (status, loc) = post_slo(&idp, body).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(loc, "https://wiki.example.test/bye");
    // Finished: the chain is gone.
    let (status, _) = go(&idp, &format!("/saml/slo/propagate?t={t}"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn forged_or_unmatched_logout_responses_are_refused() {
    let idp = Idp::new(vec![sp_a(), other_sp(SP_B, Some(SLO_B))]).await;
    let t = chain_to(
        &idp,
        vec![saml(SP, "alice", UNSPECIFIED)],
        "sid-1",
        "/logout/done",
    )
    .await;
    let (_, loc) = go(&idp, &format!("/saml/slo/propagate?t={t}"), None).await;
    let (xml, _) = sent_request(&idp, &loc, SLO_A).await;
    let id = attr(&xml, "ID");
    for (xml, relay) in [
        // Wrong InResponseTo.
        (logout_response(SP, "_other", SUCCESS), t.clone()),
        // Another SP answering.
        (logout_response(SP_B, &id, SUCCESS), t.clone()),
        // No such chain.
        (logout_response(SP, &id, SUCCESS), "nochain".into()),
    ] {
        let (status, loc) = go(&idp, &response_uri(&xml, &relay, None), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{xml}");
        assert!(loc.is_empty(), "no redirect anywhere");
    }
    // Without RelayState.
    let bare = format!(
        "/saml/slo?SAMLResponse={}",
        urlencode(&deflate_b64(logout_response(SP, &id, SUCCESS).as_bytes()))
    );
    assert_eq!(go(&idp, &bare, None).await.0, StatusCode::BAD_REQUEST);
    // The genuine answer still moves the chain on.
    let (status, loc) = go(
        &idp,
        &response_uri(&logout_response(SP, &id, SUCCESS), &t, None),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(loc, "/logout/done");
}

#[actix_web::test]
async fn a_failing_or_silent_sp_does_not_block_the_logout() {
    let (mut b, _) = signed_sp();
    b.entity_id = SP_B.into();
    b.slo_url = Some(SLO_B.into());
    let (_, wrong_key) = signed_sp();
    let idp = Idp::new(vec![
        sp_a(),
        b,
        other_sp(SP_C, Some(SLO_C)),
        other_sp("https://noslo.example", None),
    ])
    .await;
    let t = chain_to(
        &idp,
        vec![
            saml("https://noslo.example", "x", UNSPECIFIED),
            saml(SP_B, "alice", UNSPECIFIED),
            saml(SP_C, "alice", UNSPECIFIED),
            saml("https://unknown.example", "x", UNSPECIFIED),
        ],
        "sid-2",
        "/logout/done",
    )
    .await;
    // The SP without a logout URL is skipped.
    let (_, loc) = go(&idp, &format!("/saml/slo/propagate?t={t}"), None).await;
    let (xml, _) = sent_request(&idp, &loc, SLO_B).await;
    // B refuses, with a signature by the wrong key: logged, and on to C.
    let refused = logout_response(
        SP_B,
        &attr(&xml, "ID"),
        "urn:oasis:names:tc:SAML:2.0:status:Responder",
    );
    let (status, loc) = go(&idp, &response_uri(&refused, &t, Some(&wrong_key)), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    sent_request(&idp, &loc, SLO_C).await;
    // C never answers; the browser comes back (the user pressed Back): on to the
    // end, the unknown SP skipped.
    let (status, loc) = go(&idp, &format!("/saml/slo/propagate?t={t}"), None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(loc, "/logout/done");
}
