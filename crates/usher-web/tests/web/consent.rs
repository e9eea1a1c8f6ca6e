//! The consent page.

use actix_web::http::StatusCode;
use usher_core::{ConsentDecision, ConsentRequest, UserId};

use super::browser::{Browser, decode};
use super::env::{Env, PASSWORD};
use super::login::sign_in;
use crate::app;

fn request(user: UserId) -> ConsentRequest {
    ConsentRequest {
        resume_url: "/oidc/authorize/resume?r=c1".into(),
        client_id: "wiki".into(),
        client_name: "Wiki <Team>".into(),
        scopes: vec![
            "openid".into(),
            "profile".into(),
            "email".into(),
            "groups".into(),
            "offline_access".into(),
        ],
        user_id: user,
    }
}

async fn decide(env: &Env, decision: &str) -> (super::browser::Page, String, UserId) {
    let alice = env.user("alice").await;
    let app = app!(env);
    let mut browser = Browser::new();
    sign_in(&app, &mut browser, None, "alice", PASSWORD).await;
    let t = env
        .interactions
        .start_consent(&request(alice.id))
        .await
        .expect("parked");
    let page = browser.get(&app, &format!("/consent?t={t}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let done = browser
        .post(
            &app,
            "/consent",
            &[("csrf", &page.csrf()), ("t", &t), ("decision", decision)],
        )
        .await;
    (done, t, alice.id)
}

#[actix_web::test]
async fn the_consent_page_describes_each_scope_and_escapes_the_client() {
    let env = Env::new().await;
    let alice = env.user("alice").await;
    let app = app!(env);
    let mut browser = Browser::new();
    sign_in(&app, &mut browser, None, "alice", PASSWORD).await;
    let t = env
        .interactions
        .start_consent(&request(alice.id))
        .await
        .expect("parked");
    let page = browser.get(&app, &format!("/consent?t={t}")).await;
    for text in [
        "Wiki &#60;Team&#62;",
        "Sign you in",
        "Your name and username",
        "Your email address",
        "The groups you belong to",
        "Stay signed in to the app when you are away",
        "value=\"allow\"",
        "value=\"deny\"",
    ] {
        assert!(page.body.contains(text), "{text}: {}", page.body);
    }
    assert!(!page.body.contains("<Team>"));
}

#[actix_web::test]
async fn allowing_records_the_decision_and_remembers_the_grant() {
    let env = Env::new().await;
    let (done, t, alice) = decide(&env, "allow").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let to = done
        .location()
        .strip_prefix("/continue?to=")
        .expect("continue");
    assert_eq!(decode(to), "/oidc/authorize/resume?r=c1");
    assert_eq!(
        env.interactions.take_decision(&t).await.expect("store"),
        Some(ConsentDecision::Approved)
    );
    let granted = env
        .interactions
        .granted(alice, "wiki")
        .await
        .expect("store");
    assert!(granted.contains(&"offline_access".to_owned()) && granted.len() == 5);
    assert!(
        env.audit()
            .await
            .iter()
            .any(|e| e.action == "consent.approve"
                && e.actor == format!("user:{alice}")
                && e.target.as_deref() == Some("wiki"))
    );
}

#[actix_web::test]
async fn denying_records_the_denial_and_grants_nothing() {
    let env = Env::new().await;
    let (done, t, alice) = decide(&env, "deny").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(
        env.interactions.take_decision(&t).await.expect("store"),
        Some(ConsentDecision::Denied)
    );
    assert!(
        env.interactions
            .granted(alice, "wiki")
            .await
            .expect("store")
            .is_empty()
    );
}

#[actix_web::test]
async fn an_unknown_decision_is_a_bad_request() {
    let env = Env::new().await;
    let (done, t, _) = decide(&env, "maybe").await;
    assert_eq!(done.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        env.interactions.take_decision(&t).await.expect("store"),
        None
    );
}

#[actix_web::test]
async fn another_users_session_cannot_see_or_decide_the_consent() {
    let env = Env::new().await;
    let alice = env.user("alice").await;
    env.user("mallory").await;
    let app = app!(env);
    let t = env
        .interactions
        .start_consent(&request(alice.id))
        .await
        .expect("parked");

    let mut mallory = Browser::new();
    sign_in(&app, &mut mallory, None, "mallory", PASSWORD).await;
    let page = mallory.get(&app, &format!("/consent?t={t}")).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let home = mallory.get(&app, "/").await;
    let done = mallory
        .post(
            &app,
            "/consent",
            &[("csrf", &home.csrf()), ("t", &t), ("decision", "allow")],
        )
        .await;
    assert_eq!(done.status, StatusCode::FORBIDDEN);
    assert!(
        env.interactions
            .granted(alice.id, "wiki")
            .await
            .expect("store")
            .is_empty()
    );
    assert!(
        env.interactions.consent(&t).await.expect("store").is_some(),
        "still pending"
    );

    // No session at all.
    let page = Browser::new().get(&app, &format!("/consent?t={t}")).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn an_expired_consent_link_says_so() {
    let env = Env::new().await;
    let app = app!(env);
    let page = Browser::new().get(&app, "/consent?t=gone").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("This consent link has expired"));
    let page = Browser::new().get(&app, "/consent").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "missing t");
}
