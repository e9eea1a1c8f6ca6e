//! RP-initiated logout (`/oidc/logout`) and back-channel logout.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::Value;
use usher_core::ports::{KeyAlgorithm, LogoutListener};
use usher_core::{LogoutRequest, Participant};
use usher_oidc::{AuthMethod, BackchannelLogout, RetryPolicy};

use crate::fixture::*;
use crate::support::*;

fn logout_uri(pairs: &[(&str, &str)]) -> String {
    format!("/oidc/logout?{}", query(pairs))
}

/// Asserts a 303 to the logout page; returns the parked request.
async fn parked(op: &Op, reply: &Reply) -> LogoutRequest {
    assert_eq!(reply.status, 303, "{reply:?}");
    let location = reply.location.as_deref().unwrap_or_default();
    assert!(location.starts_with("/logout?t="), "{location}");
    let t = reply.param("t").expect("a ticket");
    op.interactions
        .logout(&t)
        .await
        .expect("store")
        .expect("parked")
}

#[actix_web::test]
async fn logout_with_registered_redirect_parks_it_with_state() {
    let op = Op::new().await;
    let reply = get(
        &op,
        &logout_uri(&[
            ("client_id", WEB),
            ("post_logout_redirect_uri", WEB_BYE),
            ("state", "s 1"),
        ]),
        None,
    )
    .await;
    let request = parked(&op, &reply).await;
    assert_eq!(
        request.redirect_after.as_deref(),
        Some("https://rp.example/bye?state=s%201")
    );
    assert_eq!(request.client_name.as_deref(), Some("The web app"));
    assert!(!request.confirmed, "no hint: the user must confirm");
}

#[actix_web::test]
async fn logout_without_parameters_asks_for_confirmation() {
    let op = Op::new().await;
    let request = parked(&op, &get(&op, "/oidc/logout", None).await).await;
    assert_eq!(
        request,
        LogoutRequest {
            client_name: None,
            redirect_after: None,
            confirmed: false,
            sid: None,
        }
    );
    // POST works the same.
    let reply = post_form(&op, "/oidc/logout", &query(&[("client_id", WEB)]), None).await;
    assert_eq!(
        parked(&op, &reply).await.client_name.as_deref(),
        Some("The web app")
    );
}

#[actix_web::test]
async fn logout_with_unregistered_post_logout_redirect_uri_gets_a_page() {
    let op = Op::new().await;
    for uri in [
        "https://evil.example/bye",
        "https://rp.example/bye/",
        "https://rp.example/bye?x=1",
        "https://rp.example:444/bye",
        "https://RP.example/bye",
        "https://rp.example@evil.example/bye",
        WEB_CB,      // a redirect_uri is not a post-logout URI
        TRUSTED_BYE, // another client's
    ] {
        get(
            &op,
            &logout_uri(&[("client_id", WEB), ("post_logout_redirect_uri", uri)]),
            None,
        )
        .await
        .assert_error_page();
    }
}

#[actix_web::test]
async fn logout_redirect_without_a_client_gets_a_page() {
    let op = Op::new().await;
    get(
        &op,
        &logout_uri(&[("post_logout_redirect_uri", WEB_BYE)]),
        None,
    )
    .await
    .assert_error_page();
    get(
        &op,
        &logout_uri(&[
            ("client_id", "nobody"),
            ("post_logout_redirect_uri", WEB_BYE),
        ]),
        None,
    )
    .await
    .assert_error_page();
}

#[actix_web::test]
async fn logout_hint_and_client_id_mismatch_gets_a_page() {
    let op = Op::new().await;
    let (_, session) = op.sign_in(&op.user).await;
    let hint = mint_id_token(
        &op,
        &op.user.id.to_string(),
        TRUSTED,
        &session.sid,
        600,
        KeyAlgorithm::RS256,
    )
    .await;
    get(
        &op,
        &logout_uri(&[
            ("id_token_hint", &hint),
            ("client_id", WEB),
            ("post_logout_redirect_uri", WEB_BYE),
        ]),
        None,
    )
    .await
    .assert_error_page();
}

#[actix_web::test]
async fn logout_with_forged_hint_gets_a_page() {
    let op = Op::new().await;
    let (_, session) = op.sign_in(&op.user).await;
    let elsewhere = Op::new().await;
    let foreign = mint_id_token(
        &elsewhere,
        &op.user.id.to_string(),
        TRUSTED,
        &session.sid,
        600,
        KeyAlgorithm::RS256,
    )
    .await;
    for hint in [foreign.as_str(), "garbage", "a.b.c"] {
        get(&op, &logout_uri(&[("id_token_hint", hint)]), None)
            .await
            .assert_error_page();
    }
}

#[actix_web::test]
async fn logout_duplicated_parameters_get_a_page() {
    let op = Op::new().await;
    let uri = format!(
        "{}&post_logout_redirect_uri={}",
        logout_uri(&[("client_id", WEB), ("post_logout_redirect_uri", WEB_BYE)]),
        enc("https://evil.example/")
    );
    get(&op, &uri, None).await.assert_error_page();
}

#[actix_web::test]
async fn logout_with_hint_for_the_current_session_is_confirmed() {
    let op = Op::new().await;
    let (cookie, session) = op.sign_in(&op.user).await;
    // A real id_token from the token endpoint; its aud names the client, so the
    // redirect is allowed without client_id.
    let hint = id_token_from_token_endpoint(&op, &cookie).await;
    let reply = get(
        &op,
        &logout_uri(&[
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", TRUSTED_BYE),
            ("state", "xyz"),
        ]),
        Some(&cookie),
    )
    .await;
    let request = parked(&op, &reply).await;
    assert!(request.confirmed);
    // Bound to the session it proved, so the ticket cannot sign out another browser.
    assert_eq!(request.sid.as_deref(), Some(session.sid.as_str()));
    assert_eq!(
        request.redirect_after.as_deref(),
        Some("https://trusted.example/bye?state=xyz")
    );
    // The same hint from a browser with another session proves nothing.
    let (other, _) = op.sign_in(&op.user).await;
    let reply = get(&op, &logout_uri(&[("id_token_hint", &hint)]), Some(&other)).await;
    assert!(!parked(&op, &reply).await.confirmed);
    // Nor without a session.
    let reply = get(&op, &logout_uri(&[("id_token_hint", &hint)]), None).await;
    assert!(!parked(&op, &reply).await.confirmed);
}

#[actix_web::test]
async fn logout_accepts_an_expired_hint() {
    let op = Op::new().await;
    let (cookie, session) = op.sign_in(&op.user).await;
    let hint = mint_id_token(
        &op,
        &op.user.id.to_string(),
        WEB,
        &session.sid,
        -3600,
        KeyAlgorithm::RS256,
    )
    .await;
    let reply = get(
        &op,
        &logout_uri(&[
            ("id_token_hint", &hint),
            ("client_id", WEB),
            ("post_logout_redirect_uri", WEB_BYE),
        ]),
        Some(&cookie),
    )
    .await;
    assert!(parked(&op, &reply).await.confirmed);
}

// --- Back-channel logout --------------------------------------------------------

/// What the tiny relying party received.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(String, String)>>>);

impl Received {
    fn all(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A relying party's back-channel endpoint on 127.0.0.1: records each POST
/// (content type, body) and answers the statuses in `script`, then 200.
async fn receiver(script: Vec<u16>) -> (String, Received, actix_web::dev::ServerHandle) {
    let received = Received::default();
    let script = Arc::new(Mutex::new(script));
    let r = received.clone();
    let server = HttpServer::new(move || {
        let r = r.clone();
        let script = script.clone();
        App::new().route(
            "/backchannel",
            web::post().to(move |req: actix_web::HttpRequest, body: web::Bytes| {
                let r = r.clone();
                let script = script.clone();
                async move {
                    let ct = req
                        .headers()
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    r.0.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((ct, String::from_utf8_lossy(&body).into_owned()));
                    let mut s = script.lock().unwrap_or_else(|p| p.into_inner());
                    let status = if s.is_empty() { 200 } else { s.remove(0) };
                    HttpResponse::build(
                        actix_web::http::StatusCode::from_u16(status).unwrap_or_default(),
                    )
                    .finish()
                }
            }),
        )
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .expect("binds");
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://{addr}/backchannel"), received, handle)
}

async fn wait_for(received: &Received, n: usize) -> Vec<(String, String)> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        let all = received.all();
        if all.len() >= n {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    received.all()
}

async fn op_with_backchannel(uri: &str, alg: KeyAlgorithm) -> Op {
    let mut clients = default_clients();
    let mut rp = client(
        "rp",
        &["https://rp.example/cb"],
        AuthMethod::ClientSecretBasic,
        true,
    );
    rp.backchannel_logout_uri = Some(uri.to_owned());
    rp.signing_alg = alg;
    clients.push(rp);
    Op::with(ISSUER, clients).await
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        first_delay: Duration::from_millis(50),
        timeout: Duration::from_secs(2),
    }
}

#[actix_web::test]
async fn backchannel_logout_token_reaches_the_client() {
    let (uri, received, handle) = receiver(vec![]).await;
    let op = op_with_backchannel(&uri, KeyAlgorithm::ES256).await;
    let (_, session) = op.sign_in(&op.user).await;
    let participants = vec![
        Participant::Oidc {
            client_id: "rp".into(),
        },
        Participant::Oidc {
            client_id: "rp".into(),
        },
        // No back-channel URI: not told.
        Participant::Oidc {
            client_id: WEB.into(),
        },
        Participant::Saml {
            entity_id: "https://sp.example".into(),
            name_id: "alice".into(),
            name_id_format: "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified".into(),
        },
    ];
    let listener = BackchannelLogout::with_retry(op.state.clone(), fast_retry());
    listener.session_ended(&session, &participants).await;
    let got = wait_for(&received, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(received.all().len(), 1, "one delivery per client");
    let (content_type, body) = &got[0];
    assert_eq!(content_type, "application/x-www-form-urlencoded");
    let form = actix_web::web::Query::<Vec<(String, String)>>::from_query(body)
        .expect("a form")
        .into_inner();
    assert_eq!(form.len(), 1);
    assert_eq!(form[0].0, "logout_token");
    let token = &form[0].1;
    // Verified independently of usher's JOSE code, against the published JWKS.
    let jwks: Value = serde_json::from_str(&get(&op, "/oidc/jwks", None).await.body).expect("JSON");
    assert!(
        crate::token_env::verify_with_jwks(token, &jwks),
        "signature verifies"
    );
    let header = crate::token_env::header(token);
    assert_eq!(header["typ"], "logout+jwt");
    assert_eq!(header["alg"], "ES256");
    let claims = crate::token_env::claims(token);
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], "rp");
    assert_eq!(claims["sub"], op.user.id.to_string());
    assert_eq!(claims["sid"], session.sid);
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    let iat = claims["iat"].as_i64().expect("iat");
    let exp = claims["exp"].as_i64().expect("exp");
    assert!(exp > iat && exp - iat <= 300, "short-lived");
    assert_eq!(
        claims["events"],
        serde_json::json!({"http://schemas.openid.net/event/backchannel-logout": {}})
    );
    // §2.4: a logout token MUST NOT contain a nonce.
    assert!(claims.get("nonce").is_none());
    handle.stop(false).await;
}

#[actix_web::test]
async fn backchannel_logout_retries_server_errors() {
    let (uri, received, handle) = receiver(vec![503, 500]).await;
    let op = op_with_backchannel(&uri, KeyAlgorithm::RS256).await;
    let (_, session) = op.sign_in(&op.user).await;
    let listener = BackchannelLogout::with_retry(op.state.clone(), fast_retry());
    listener
        .session_ended(
            &session,
            &[Participant::Oidc {
                client_id: "rp".into(),
            }],
        )
        .await;
    let got = wait_for(&received, 3).await;
    assert_eq!(got.len(), 3, "two failures, then delivered");
    handle.stop(false).await;
}

#[actix_web::test]
async fn backchannel_logout_does_not_retry_a_refusal() {
    let (uri, received, handle) = receiver(vec![400]).await;
    let op = op_with_backchannel(&uri, KeyAlgorithm::RS256).await;
    let (_, session) = op.sign_in(&op.user).await;
    let listener = BackchannelLogout::with_retry(op.state.clone(), fast_retry());
    listener
        .session_ended(
            &session,
            &[Participant::Oidc {
                client_id: "rp".into(),
            }],
        )
        .await;
    wait_for(&received, 1).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(received.all().len(), 1);
    handle.stop(false).await;
}

#[actix_web::test]
async fn backchannel_logout_never_blocks_the_user() {
    // Nothing listens on this port (bound, then closed): every attempt fails.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let uri = format!("http://{}/backchannel", dead.local_addr().expect("addr"));
    drop(dead);
    let op = op_with_backchannel(&uri, KeyAlgorithm::RS256).await;
    let (_, session) = op.sign_in(&op.user).await;
    let listener = BackchannelLogout::new(op.state.clone());
    let start = Instant::now();
    listener
        .session_ended(
            &session,
            &[Participant::Oidc {
                client_id: "rp".into(),
            }],
        )
        .await;
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "returns before delivery"
    );
}
