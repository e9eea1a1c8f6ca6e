//! Signing out.

use std::time::Duration;

use actix_web::http::StatusCode;
use usher_core::{LogoutRequest, Participant};

use super::browser::Browser;
use super::env::{Env, PASSWORD};
use super::login::sign_in;
use crate::app;

fn request(confirmed: bool, redirect_after: Option<&str>) -> LogoutRequest {
    LogoutRequest {
        client_name: Some("Wiki".into()),
        redirect_after: redirect_after.map(str::to_owned),
        confirmed,
        sid: None,
    }
}

/// Waits for the background listener calls.
async fn listener_calls(
    env: &Env,
    expected: usize,
) -> Vec<(usher_core::SsoSession, Vec<Participant>)> {
    for _ in 0..200 {
        let calls = env.listener.calls.lock().expect("lock").clone();
        if calls.len() >= expected {
            return calls;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    env.listener.calls.lock().expect("lock").clone()
}

#[actix_web::test]
async fn the_confirmation_names_the_app_and_allows_its_origin_as_form_target() {
    let env = Env::new().await;
    env.user("alice").await;
    let app = app!(env);
    let mut browser = Browser::new();
    sign_in(&app, &mut browser, None, "alice", PASSWORD).await;
    let t = env
        .interactions
        .start_logout(&request(
            false,
            Some("https://wiki.example.test:8443/bye?state=s"),
        ))
        .await
        .expect("parked");
    let page = browser.get(&app, &format!("/logout?t={t}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Sign out of usher?"));
    assert!(page.body.contains("<strong>Wiki</strong>"));
    assert!(
        page.header("content-security-policy")
            .contains("form-action 'self' https://wiki.example.test:8443;"),
        "{}",
        page.header("content-security-policy")
    );
    assert!(browser.session().is_some(), "nothing happened yet");
    assert!(env.interactions.logout(&t).await.expect("store").is_some());
}

#[actix_web::test]
async fn post_logout_ends_the_session_tells_listeners_and_clears_the_cookie() {
    let env = Env::new().await;
    let alice = env.user("alice").await;
    let app = app!(env);
    let mut browser = Browser::new();
    sign_in(&app, &mut browser, None, "alice", PASSWORD).await;
    let secret = browser.session().expect("session").to_owned();
    let session = env
        .sessions
        .get(&secret)
        .await
        .expect("store")
        .expect("live");
    let rp = Participant::Oidc {
        client_id: "wiki".into(),
    };
    env.sessions.join(&session, &rp).await.expect("joined");

    let t = env
        .interactions
        .start_logout(&request(
            false,
            Some("https://wiki.example.test/bye?state=s"),
        ))
        .await
        .expect("parked");
    let page = browser.get(&app, &format!("/logout?t={t}")).await;
    let done = browser
        .post(&app, "/logout", &[("csrf", &page.csrf()), ("t", &t)])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "https://wiki.example.test/bye?state=s");
    let cleared = done
        .cookie(usher_core::SESSION_COOKIE)
        .expect("cookie cleared");
    assert_eq!(cleared.value(), "");
    assert_eq!(
        cleared.max_age(),
        Some(actix_web::cookie::time::Duration::ZERO)
    );
    assert!(browser.session().is_none());
    assert_eq!(env.sessions.get(&secret).await.expect("store"), None);
    assert_eq!(
        env.interactions.logout(&t).await.expect("store"),
        None,
        "used"
    );

    let calls = listener_calls(&env, 1).await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0.sid, session.sid);
    assert_eq!(calls[0].1, vec![rp]);
    assert!(
        env.audit()
            .await
            .iter()
            .any(|e| e.action == "logout" && e.actor == format!("user:{}", alice.id))
    );
}

#[actix_web::test]
async fn logout_without_an_app_shows_the_signed_out_page() {
    let env = Env::new().await;
    env.user("alice").await;
    let app = app!(env);
    let mut browser = Browser::new();
    sign_in(&app, &mut browser, None, "alice", PASSWORD).await;
    let home = browser.get(&app, "/").await;
    assert!(home.body.contains("Signed in as alice"));
    let done = browser
        .post(&app, "/logout", &[("csrf", &home.csrf())])
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location(), "/logout/done");
    let page = browser.get(&app, "/logout/done").await;
    assert!(page.body.contains("You are signed out"));
    let home = browser.get(&app, "/").await;
    assert!(home.body.contains("You are not signed in"));
    assert_eq!(listener_calls(&env, 1).await.len(), 1);
}

#[actix_web::test]
async fn a_confirmed_request_signs_out_at_once() {
    let env = Env::new().await;
    env.user("alice").await;
    let app = app!(env);
    let mut browser = Browser::new();
    sign_in(&app, &mut browser, None, "alice", PASSWORD).await;
    let secret = browser.session().expect("session").to_owned();
    let session = env
        .sessions
        .get(&secret)
        .await
        .expect("store")
        .expect("live");
    let t = env
        .interactions
        .start_logout(&LogoutRequest {
            sid: Some(session.sid),
            ..request(true, Some("https://wiki.example.test/bye"))
        })
        .await
        .expect("parked");
    let page = browser.get(&app, &format!("/logout?t={t}")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), "https://wiki.example.test/bye");
    assert_eq!(env.sessions.get(&secret).await.expect("store"), None);
    assert_eq!(listener_calls(&env, 1).await.len(), 1);
}

#[actix_web::test]
async fn logout_csrf_is_required() {
    let env = Env::new().await;
    env.user("alice").await;
    let app = app!(env);
    let mut browser = Browser::new();
    sign_in(&app, &mut browser, None, "alice", PASSWORD).await;
    let done = browser.post(&app, "/logout", &[("csrf", "nope")]).await;
    assert_eq!(done.status, StatusCode::FORBIDDEN);
    assert!(browser.session().is_some());
    let secret = browser.session().expect("session").to_owned();
    assert!(env.sessions.get(&secret).await.expect("store").is_some());
}

#[actix_web::test]
async fn an_app_origin_that_csp_cannot_name_gets_a_link_instead() {
    let env = Env::new().await;
    env.user("alice").await;
    let app = app!(env);
    let mut browser = Browser::new();
    sign_in(&app, &mut browser, None, "alice", PASSWORD).await;
    let t = env
        .interactions
        .start_logout(&request(false, Some("http://[::1]:3000/bye")))
        .await
        .expect("parked");
    let page = browser.get(&app, &format!("/logout?t={t}")).await;
    assert!(
        page.header("content-security-policy")
            .contains("form-action 'self';")
    );
    let done = browser
        .post(&app, "/logout", &[("csrf", &page.csrf()), ("t", &t)])
        .await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(
        done.body.contains("href=\"http://[::1]:3000/bye\""),
        "{}",
        done.body
    );
    assert!(done.body.contains("Continue to Wiki"));
    assert!(browser.session().is_none());
}

#[actix_web::test]
async fn an_expired_logout_link_still_offers_to_sign_out() {
    let env = Env::new().await;
    let app = app!(env);
    let page = Browser::new().get(&app, "/logout?t=expired").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("sign-out request has expired"));
    assert!(!page.body.contains("name=\"t\""));
}

#[actix_web::test]
async fn logout_csrf_with_a_confirmed_ticket_of_another_session_asks_first() {
    let env = Env::new().await;
    env.user("alice").await;
    env.user("mallory").await;
    let app = app!(env);
    // Mallory gets a confirmed ticket for her own session...
    let mut mallory = Browser::new();
    sign_in(&app, &mut mallory, None, "mallory", PASSWORD).await;
    let mallory_secret = mallory.session().expect("session").to_owned();
    let mallory_session = env
        .sessions
        .get(&mallory_secret)
        .await
        .expect("store")
        .expect("live");
    let t = env
        .interactions
        .start_logout(&LogoutRequest {
            sid: Some(mallory_session.sid),
            ..request(true, Some("https://wiki.example.test/bye"))
        })
        .await
        .expect("parked");
    // ...and sends the link to Alice, who must not be signed out without asking.
    let mut alice = Browser::new();
    sign_in(&app, &mut alice, None, "alice", PASSWORD).await;
    let secret = alice.session().expect("session").to_owned();
    let page = alice.get(&app, &format!("/logout?t={t}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Sign out of usher?"));
    assert!(env.sessions.get(&secret).await.expect("store").is_some());
}

#[actix_web::test]
async fn logout_with_a_saml_participant_goes_through_the_saml_logout_chain() {
    let env = Env::new().await;
    env.user("alice").await;
    let app = app!(env);
    let mut browser = Browser::new();
    sign_in(&app, &mut browser, None, "alice", PASSWORD).await;
    let secret = browser.session().expect("session").to_owned();
    let session = env
        .sessions
        .get(&secret)
        .await
        .expect("store")
        .expect("live");
    let sp = Participant::Saml {
        entity_id: "https://sp.example/metadata".into(),
        name_id: "alice".into(),
        name_id_format: "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified".into(),
    };
    let rp = Participant::Oidc {
        client_id: "wiki".into(),
    };
    env.sessions.join(&session, &sp).await.expect("joined");
    env.sessions.join(&session, &rp).await.expect("joined");
    let t = env
        .interactions
        .start_logout(&request(false, Some("https://wiki.example.test/bye")))
        .await
        .expect("parked");
    let page = browser.get(&app, &format!("/logout?t={t}")).await;
    let done = browser
        .post(&app, "/logout", &[("csrf", &page.csrf()), ("t", &t)])
        .await;
    // After the form, through /continue (outside the form's form-action).
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let prefix = "/continue?to=%2Fsaml%2Fslo%2Fpropagate%3Ft%3D";
    let location = done.location();
    assert!(location.starts_with(prefix), "{location}");
    let chain_id = &location[prefix.len()..];
    assert_eq!(env.sessions.get(&secret).await.expect("store"), None);
    // The OIDC app heard by back-channel; the SP waits in the chain.
    let calls = listener_calls(&env, 1).await;
    assert_eq!(calls.len(), 1);
    let chain = env
        .interactions
        .take_logout_chain(chain_id)
        .await
        .expect("store")
        .expect("parked");
    assert_eq!(chain.remaining, vec![sp]);
    assert_eq!(chain.sid, session.sid);
    assert_eq!(chain.pending, None);
    assert_eq!(
        chain.then,
        usher_core::ChainEnd::Redirect("https://wiki.example.test/bye".into())
    );
    // And /continue takes the browser there.
    let next = browser
        .get(
            &app,
            &format!("/continue?to=%2Fsaml%2Fslo%2Fpropagate%3Ft%3D{chain_id}"),
        )
        .await;
    assert_eq!(next.status, StatusCode::OK);
    assert!(
        next.body
            .contains(&format!("/saml/slo/propagate?t={chain_id}"))
    );
}

#[actix_web::test]
async fn logout_without_an_app_and_with_a_saml_participant_ends_at_the_signed_out_page() {
    let env = Env::new().await;
    env.user("alice").await;
    let app = app!(env);
    let mut browser = Browser::new();
    sign_in(&app, &mut browser, None, "alice", PASSWORD).await;
    let secret = browser.session().expect("session").to_owned();
    let session = env
        .sessions
        .get(&secret)
        .await
        .expect("store")
        .expect("live");
    let sp = Participant::Saml {
        entity_id: "https://sp.example/metadata".into(),
        name_id: "alice".into(),
        name_id_format: "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified".into(),
    };
    env.sessions.join(&session, &sp).await.expect("joined");
    let page = browser.get(&app, "/logout").await;
    let done = browser
        .post(&app, "/logout", &[("csrf", &page.csrf())])
        .await;
    let prefix = "/continue?to=%2Fsaml%2Fslo%2Fpropagate%3Ft%3D";
    let location = done.location();
    assert!(location.starts_with(prefix), "{location}");
    let chain = env
        .interactions
        .take_logout_chain(&location[prefix.len()..])
        .await
        .expect("store")
        .expect("parked");
    assert_eq!(
        chain.then,
        usher_core::ChainEnd::Redirect("/logout/done".into())
    );
}
