//! Online guessing limits.

use std::time::Duration;

use actix_web::http::StatusCode;
use usher_web::ThrottlePolicy;

use super::browser::Browser;
use super::env::{Env, Options, PASSWORD};
use super::login::sign_in;
use crate::app;

#[actix_web::test]
async fn five_failures_lock_the_account_even_for_the_right_password() {
    let env = Env::new().await;
    env.user("alice").await;
    let app = app!(env);
    for i in 0..5 {
        // From several addresses: the account limit does not care.
        let mut browser = Browser::from(&format!("198.51.100.{i}"));
        let page = sign_in(&app, &mut browser, None, "alice", "guess").await;
        assert_eq!(page.status, StatusCode::OK, "attempt {i}");
    }
    let mut browser = Browser::from("198.51.100.200");
    let page = sign_in(&app, &mut browser, None, "ALICE", PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    assert!(
        page.body
            .contains("Too many failed sign-ins for this account; try again in 15 minutes"),
        "{}",
        page.body
    );
    assert_eq!(page.header("retry-after"), "900");
    assert!(browser.session().is_none());
    let audit = env.audit().await;
    assert_eq!(
        audit.last().map(|e| e.details["reason"].clone()),
        Some(serde_json::json!("throttled"))
    );

    // The lockout ends after the window.
    env.advance(Duration::from_secs(14 * 60));
    let page = sign_in(&app, &mut browser, None, "alice", PASSWORD).await;
    assert!(page.body.contains("try again in 1 minute"), "{}", page.body);
    env.advance(Duration::from_secs(61));
    let page = sign_in(&app, &mut browser, None, "alice", PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
}

#[actix_web::test]
async fn guessing_through_username_and_email_aliases_shares_one_account_budget() {
    let env = Env::new().await;
    env.user("alice").await;
    let app = app!(env);
    // Alternating the username and the email address is still one account.
    for (i, name) in ["alice", "alice@example.test"]
        .iter()
        .cycle()
        .take(5)
        .enumerate()
    {
        let mut browser = Browser::from(&format!("198.51.100.{i}"));
        let page = sign_in(&app, &mut browser, None, name, "guess").await;
        assert_eq!(page.status, StatusCode::OK, "attempt {i}");
    }
    for name in ["alice", "Alice@Example.test"] {
        let mut browser = Browser::from("198.51.100.200");
        let page = sign_in(&app, &mut browser, None, name, PASSWORD).await;
        assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{name}");
        assert!(browser.session().is_none());
    }
}

#[actix_web::test]
async fn unknown_accounts_lock_the_same_way() {
    let env = Env::new().await;
    let app = app!(env);
    let mut browser = Browser::new();
    for _ in 0..5 {
        sign_in(&app, &mut browser, None, "ghost", "guess").await;
    }
    let page = sign_in(&app, &mut browser, None, "ghost", "guess").await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
}

#[actix_web::test]
async fn a_success_resets_the_account_count() {
    let env = Env::new().await;
    env.user("alice").await;
    let app = app!(env);
    let mut browser = Browser::new();
    for _ in 0..4 {
        sign_in(&app, &mut browser, None, "alice", "typo").await;
    }
    let page = sign_in(&app, &mut browser, None, "alice", PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    for _ in 0..4 {
        let mut other = Browser::new();
        let page = sign_in(&app, &mut other, None, "alice", "typo").await;
        assert_eq!(page.status, StatusCode::OK);
    }
}

#[actix_web::test]
async fn one_address_spraying_many_accounts_is_locked() {
    let env = Env::with(Options {
        throttle: ThrottlePolicy {
            per_account: 5,
            per_ip: 3,
            window: Duration::from_secs(600),
        },
        ..Options::default()
    })
    .await;
    env.user("alice").await;
    let app = app!(env);
    for name in ["u1", "u2", "u3"] {
        let mut browser = Browser::from("192.0.2.1");
        let page = sign_in(&app, &mut browser, None, name, "guess").await;
        assert_eq!(page.status, StatusCode::OK);
    }
    let mut browser = Browser::from("192.0.2.1");
    let page = sign_in(&app, &mut browser, None, "alice", PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        page.body
            .contains("Too many failed sign-ins from your network; try again in 10 minutes"),
        "{}",
        page.body
    );
    // Another address is not affected.
    let mut elsewhere = Browser::from("192.0.2.2");
    let page = sign_in(&app, &mut elsewhere, None, "alice", PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
}

#[actix_web::test]
async fn ipv6_clients_are_counted_per_64() {
    let env = Env::with(Options {
        throttle: ThrottlePolicy {
            per_account: 5,
            per_ip: 2,
            window: Duration::from_secs(600),
        },
        ..Options::default()
    })
    .await;
    let app = app!(env);
    for (i, name) in ["u1", "u2"].iter().enumerate() {
        let mut browser = Browser::from(&format!("[2001:db8:1:2::{i}]"));
        sign_in(&app, &mut browser, None, name, "guess").await;
    }
    let mut browser = Browser::from("[2001:db8:1:2:ffff::9]");
    let page = sign_in(&app, &mut browser, None, "u3", "guess").await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
}

#[actix_web::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    let env = Env::with(Options {
        throttle: ThrottlePolicy {
            per_account: 50,
            per_ip: 2,
            window: Duration::from_secs(600),
        },
        trusted_proxies: vec!["10.0.0.0/8".parse().expect("net")],
        ..Options::default()
    })
    .await;
    let app = app!(env);
    // Behind the proxy: the right-most untrusted entry is the client; whatever the
    // client put on the left is ignored, so rotating it does not help.
    for spoof in ["1.1.1.1", "2.2.2.2"] {
        let mut browser = Browser::from("10.0.0.5");
        browser.headers.push((
            "x-forwarded-for".into(),
            format!("{spoof}, 192.0.2.50, 10.0.0.9"),
        ));
        sign_in(&app, &mut browser, None, "u1", "guess").await;
    }
    let mut browser = Browser::from("10.0.0.5");
    browser
        .headers
        .push(("x-forwarded-for".into(), "9.9.9.9, 192.0.2.50".into()));
    let page = sign_in(&app, &mut browser, None, "u2", "guess").await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    let failures: Vec<String> = env
        .audit()
        .await
        .iter()
        .map(|e| e.details["ip"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(failures.iter().all(|ip| ip == "192.0.2.50"), "{failures:?}");

    // A client that is not a proxy cannot choose its address with the header.
    let mut direct = Browser::from("192.0.2.77");
    direct
        .headers
        .push(("x-forwarded-for".into(), "192.0.2.50".into()));
    let page = sign_in(&app, &mut direct, None, "u3", "guess").await;
    assert_eq!(page.status, StatusCode::OK);
}
