//! Online guessing limits.

use std::time::Duration;

use actix_web::http::StatusCode;
use usher_web::ThrottlePolicy;

use super::browser::Browser;
use super::env::{Env, Options, PASSWORD};
use super::login::sign_in;
use crate::app;

/// Behind a trusted proxy (10.0.0.0/8), as in production: the client address is
/// the one the proxy appended to `X-Forwarded-For`.
fn behind_proxy(ip: &str) -> Browser {
    let mut browser = Browser::from("10.0.0.5");
    browser.headers.push(("x-forwarded-for".into(), ip.into()));
    browser
}

fn proxied(throttle: ThrottlePolicy) -> Options {
    Options {
        throttle,
        trusted_proxies: vec!["10.0.0.0/8".parse().expect("net")],
        ..Options::default()
    }
}

#[actix_web::test]
async fn five_failures_from_one_address_lock_the_account_there_even_for_the_right_password() {
    let env = Env::new().await;
    env.user("alice").await;
    let app = app!(env);
    let mut browser = Browser::from("198.51.100.1");
    for i in 0..5 {
        let page = sign_in(&app, &mut browser, None, "alice", "guess").await;
        assert_eq!(page.status, StatusCode::OK, "attempt {i}");
    }
    let page = sign_in(&app, &mut browser, None, "ALICE", PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    assert!(
        page.body.contains(
            "Too many failed sign-ins for this account from your network; try again in 15 minutes"
        ),
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

/// Lockout as a denial of service: before, five failures from anywhere locked the
/// account for everyone, so whoever knew a username (a break-glass admin's
/// included) could keep its owner out. Now the attacker's address is locked out
/// of the account, and the owner elsewhere signs in.
#[actix_web::test]
async fn attacker_failing_from_another_ip_does_not_lock_out_the_owner() {
    let env = Env::with(proxied(ThrottlePolicy::default())).await;
    env.user("admin").await;
    let app = app!(env);
    let mut attacker = behind_proxy("192.0.2.66");
    for i in 0..5 {
        let page = sign_in(&app, &mut attacker, None, "admin", "guess").await;
        assert_eq!(page.status, StatusCode::OK, "attempt {i}");
    }
    // The per-(account, address) limit still stops the attacker, right password or not.
    for password in ["guess", PASSWORD] {
        let page = sign_in(&app, &mut attacker, None, "admin", password).await;
        assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
        assert!(attacker.session().is_none());
    }

    let mut owner = behind_proxy("198.51.100.20");
    let page = sign_in(&app, &mut owner, None, "admin", PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(owner.session().is_some());
}

/// A distributed attack (one or two guesses from each of many addresses) is held
/// to the account-wide ceiling; the owner's familiar address is spared, an
/// unfamiliar one is not.
#[actix_web::test]
async fn distributed_guessing_trips_the_account_wide_ceiling() {
    let env = Env::with(proxied(ThrottlePolicy {
        per_account_and_ip: 5,
        per_account: 10,
        per_ip: 30,
        window: Duration::from_secs(600),
    }))
    .await;
    env.user("alice").await;
    let app = app!(env);
    // Alice has signed in from her desk before.
    let mut desk = behind_proxy("198.51.100.20");
    let page = sign_in(&app, &mut desk, None, "alice", PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);

    for i in 0..10 {
        let mut bot = behind_proxy(&format!("203.0.113.{i}"));
        let page = sign_in(&app, &mut bot, None, "alice", "guess").await;
        assert_eq!(page.status, StatusCode::OK, "bot {i}");
    }
    // An eleventh address, even with the right password, is refused.
    let mut bot = behind_proxy("203.0.113.200");
    let page = sign_in(&app, &mut bot, None, "alice", PASSWORD).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{}", page.body);
    assert!(
        page.body
            .contains("Too many failed sign-ins for this account; try again in 10 minutes"),
        "{}",
        page.body
    );
    assert!(bot.session().is_none());

    // Alice at her desk still signs in (smart lockout's familiar location).
    let mut desk = behind_proxy("198.51.100.20");
    let page = sign_in(&app, &mut desk, None, "alice", PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);

    // The ceiling lifts after the window.
    env.advance(Duration::from_secs(601));
    let page = sign_in(&app, &mut bot, None, "alice", PASSWORD).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
}

/// Account enumeration through the lockout: were the aliases of an account to
/// share the per-address budget while unknown names each have their own, three
/// failures as `alice` and three as `alice@...` from one address would answer 429
/// only when both names are one existing account. Aliases and unknown names now
/// lock alike; the sixth attempt below is answered the same for both pairs.
#[actix_web::test]
async fn lockout_does_not_reveal_whether_two_names_are_one_account() {
    let env = Env::new().await;
    env.user("alice").await;
    let app = app!(env);
    for (ip, names) in [
        ("198.51.100.1", ["alice", "alice@example.test"]),
        ("198.51.100.2", ["ghost", "ghost@example.test"]),
    ] {
        let mut browser = Browser::from(ip);
        for (i, name) in names.iter().cycle().take(6).enumerate() {
            let page = sign_in(&app, &mut browser, None, name, "guess").await;
            assert_eq!(page.status, StatusCode::OK, "{ip} attempt {i}");
        }
        // Each name still has its own allowance there, existing or not.
        for name in names {
            let page = sign_in(&app, &mut browser, None, name, "guess").await;
            assert_eq!(page.status, StatusCode::OK, "{ip} {name}");
        }
    }
}

/// Aliases do not multiply the total guesses: the username and the email
/// addresses of one account share the account-wide ceiling.
#[actix_web::test]
async fn guessing_through_username_and_email_aliases_shares_the_account_wide_ceiling() {
    let env = Env::with(proxied(ThrottlePolicy {
        per_account_and_ip: 5,
        per_account: 6,
        per_ip: 30,
        window: Duration::from_secs(600),
    }))
    .await;
    env.user("alice").await;
    let app = app!(env);
    let mut browser = behind_proxy("203.0.113.1");
    for (i, name) in ["alice", "alice@example.test"]
        .iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        let page = sign_in(&app, &mut browser, None, name, "guess").await;
        assert_eq!(page.status, StatusCode::OK, "attempt {i}");
    }
    for name in ["alice", "Alice@Example.test"] {
        let mut bot = behind_proxy("203.0.113.99");
        let page = sign_in(&app, &mut bot, None, name, PASSWORD).await;
        assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{name}");
        assert!(bot.session().is_none());
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
            per_account_and_ip: 5,
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
            per_account_and_ip: 5,
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
            per_account_and_ip: 50,
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

/// A client puts one non-ASCII byte in `X-Forwarded-For`, and the trusted proxy
/// appends the address it saw: `\xff, 192.0.2.50`. Read as text, the whole
/// header was dropped and every such client counted as the proxy, so one
/// attacker's failures tripped the per-address limit for everyone behind it.
/// Read as bytes, the client is the address the proxy appended.
#[actix_web::test]
async fn non_ascii_byte_in_forwarded_for_does_not_make_every_client_the_proxy() {
    let env = Env::with(proxied(ThrottlePolicy {
        per_account_and_ip: 50,
        per_account: 50,
        per_ip: 2,
        window: Duration::from_secs(600),
    }))
    .await;
    let app = app!(env);
    let garbled = |ip: &str| {
        let mut browser = Browser::from("10.0.0.5");
        let value = [b"\xff, ".as_slice(), ip.as_bytes()].concat();
        browser.raw_headers.push(("x-forwarded-for".into(), value));
        browser
    };
    for name in ["u1", "u2"] {
        sign_in(&app, &mut garbled("192.0.2.50"), None, name, "guess").await;
    }
    let page = sign_in(&app, &mut garbled("192.0.2.50"), None, "u3", "guess").await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxy is not held to the attacker's count.
    let page = sign_in(&app, &mut garbled("192.0.2.51"), None, "u3", "guess").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let ips: Vec<String> = env
        .audit()
        .await
        .iter()
        .map(|e| e.details["ip"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(!ips.iter().any(|ip| ip == "10.0.0.5"), "{ips:?}");
}
