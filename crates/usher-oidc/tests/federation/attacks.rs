//! One named test per attack on the relying party (issue 5, item 9, OIDC): each
//! is refused with an error page naming the upstream, and nothing is created.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;
use usher_core::NewUser;
use usher_core::ports::Directory;

use super::{Browser, Page, Signing, Up, UpstreamOp, Usher, profile, signed_in};

/// Signs in with the OP tweaked by `tweak`; asserts the refusal.
async fn refused_with(tweak: impl FnOnce(&mut super::upstream_op::Tweaks)) -> Page {
    let op = UpstreamOp::start().await;
    op.tweak(tweak);
    let usher = Usher::start(vec![Up::new("corp", &op)]).await;
    let page = Browser::new().sign_in(&usher, "corp").await;
    assert_eq!(page.status, 400, "{page:?}");
    assert!(
        page.body.contains("corp SSO"),
        "names the upstream: {}",
        page.body
    );
    assert_eq!(usher.user_count().await, 0);
    page
}

#[actix_web::test]
async fn bad_signature_is_refused() {
    refused_with(|t| t.signing = Signing::ForeignKey).await;
}

#[actix_web::test]
async fn alg_none_is_refused() {
    refused_with(|t| t.signing = Signing::None).await;
}

#[actix_web::test]
async fn hmac_signed_with_the_public_key_is_refused() {
    refused_with(|t| t.signing = Signing::HmacWithPublicKey).await;
}

#[actix_web::test]
async fn wrong_issuer_is_refused() {
    refused_with(|t| {
        t.claims.insert("iss".into(), json!("https://evil.example"));
    })
    .await;
}

#[actix_web::test]
async fn wrong_audience_is_refused() {
    refused_with(|t| {
        t.claims.insert("aud".into(), json!("another-client"));
    })
    .await;
}

#[actix_web::test]
async fn an_extra_untrusted_audience_is_refused() {
    refused_with(|t| {
        t.claims
            .insert("aud".into(), json!([super::CLIENT_ID, "another-client"]));
        t.claims.insert("azp".into(), json!("another-client"));
    })
    .await;
}

#[actix_web::test]
async fn bad_nonce_is_refused() {
    refused_with(|t| {
        t.claims.insert("nonce".into(), json!("forged-nonce"));
    })
    .await;
}

#[actix_web::test]
async fn missing_nonce_is_refused() {
    refused_with(|t| {
        t.claims.insert("nonce".into(), serde_json::Value::Null);
    })
    .await;
}

#[actix_web::test]
async fn expired_id_token_is_refused() {
    let past = time::OffsetDateTime::now_utc().unix_timestamp() - 60;
    refused_with(|t| {
        t.claims.insert("exp".into(), json!(past));
    })
    .await;
}

#[actix_web::test]
async fn id_token_issued_in_the_future_is_refused() {
    let future = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
    refused_with(|t| {
        t.claims.insert("iat".into(), json!(future));
        t.claims.insert("exp".into(), json!(future + 300));
    })
    .await;
}

#[actix_web::test]
async fn userinfo_sub_mismatch_is_refused() {
    refused_with(|t| t.userinfo_sub = Some("someone-else".into())).await;
}

#[actix_web::test]
async fn reused_state_is_refused() {
    let op = UpstreamOp::start().await;
    let usher = Usher::start(vec![Up::new("corp", &op)]).await;
    let mut browser = Browser::new();
    let callback = browser.reach_callback(&usher, "corp").await;
    let first = browser.get(&callback).await;
    assert_eq!(first.status, 303, "{first:?}");
    let again = browser.get(&callback).await;
    assert_eq!(again.status, 400, "{again:?}");
    // The code was exchanged once only.
    assert_eq!(op.token_requests.load(Ordering::SeqCst), 1);
}

#[actix_web::test]
async fn foreign_state_is_refused() {
    let op = UpstreamOp::start().await;
    let usher = Usher::start(vec![Up::new("corp", &op)]).await;
    // The attacker's own sign-in, delivered to the victim's browser (login CSRF).
    let mut attacker = Browser::new();
    let callback = attacker.reach_callback(&usher, "corp").await;
    let mut victim = Browser::new();
    let page = victim.get(&callback).await;
    assert_eq!(page.status, 400, "{page:?}");
    // And to a browser with a binding cookie of its own.
    let mut other = Browser::new();
    let _ = other.reach_callback(&usher, "corp").await;
    let callback = attacker.reach_callback(&usher, "corp").await;
    assert_eq!(other.get(&callback).await.status, 400);
    assert_eq!(usher.user_count().await, 0);
    assert_eq!(op.token_requests.load(Ordering::SeqCst), 0);
}

/// Someone who learns a victim's `state` (it travels in URLs, referrers and the
/// upstream's logs) sends the callback from another browser: refused, and the
/// victim's pending sign-in is not burnt, so the victim's own callback completes.
#[actix_web::test]
async fn callback_from_another_browser_does_not_burn_the_victims_pending_sign_in() {
    let op = UpstreamOp::start().await;
    let usher = Usher::start(vec![Up::new("corp", &op)]).await;
    let mut victim = Browser::new();
    let callback = victim.reach_callback(&usher, "corp").await;
    // A browser with no cookies, then one with a binding cookie of its own.
    let mut attacker = Browser::new();
    assert_eq!(attacker.get(&callback).await.status, 400);
    let _ = attacker.reach_callback(&usher, "corp").await;
    assert_eq!(attacker.get(&callback).await.status, 400);
    assert_eq!(op.token_requests.load(Ordering::SeqCst), 0);

    let page = victim.get(&callback).await;
    assert_eq!(page.status, 303, "{page:?}");
    let next = page.location.expect("to the hand-off");
    let page = victim.get(&format!("{}{next}", usher.base)).await;
    assert!(signed_in(&page, &victim), "{page:?}");
    // Still used once only.
    assert_eq!(victim.get(&callback).await.status, 400);
    assert_eq!(op.token_requests.load(Ordering::SeqCst), 1);
}

/// Login CSRF through the hand-off (issue 10, item 1): the attacker completes
/// their own upstream sign-in, stops before following the redirect to
/// `/login/federated?t=ID`, and makes the victim open that URL. The victim must
/// not be signed in as the attacker; the hand-off is left for the browser that
/// completed the upstream flow, which can still finish.
#[actix_web::test]
async fn login_csrf_handoff_url_opened_in_another_browser_is_refused() {
    let op = UpstreamOp::start().await;
    let usher = Usher::start(vec![Up::new("corp", &op)]).await;
    let mut attacker = Browser::new();
    let callback = attacker.reach_callback(&usher, "corp").await;
    let handoff = attacker.get(&callback).await;
    assert_eq!(handoff.status, 303, "{handoff:?}");
    let url = format!("{}{}", usher.base, handoff.location.expect("to the page"));
    assert!(url.contains("/login/federated?t="), "{url}");

    // A victim with no cookies at all, then one with an RP binding cookie of its
    // own (it started a sign-in of its own earlier).
    let mut victim = Browser::new();
    let page = victim.get(&url).await;
    assert_eq!(page.status, 403, "{page:?}");
    assert!(page.body.contains("another browser"), "{}", page.body);
    assert!(!victim.cookies.contains_key(usher_core::SESSION_COOKIE));
    let mut other = Browser::new();
    let _ = other.reach_callback(&usher, "corp").await;
    let page = other.get(&url).await;
    assert_eq!(page.status, 403, "{page:?}");
    assert!(!other.cookies.contains_key(usher_core::SESSION_COOKIE));
    assert_eq!(usher.user_count().await, 0, "nobody was signed in");
    // Audited as a failed sign-in, with the reason.
    let now = time::OffsetDateTime::now_utc();
    let refusals = usher_core::ports::AuditLog::between(
        &usher.store,
        now - time::Duration::hours(1),
        now + time::Duration::hours(1),
        100,
    )
    .await
    .expect("audit log")
    .into_iter()
    .filter(|e| e.action == "login.failure" && e.details["reason"] == "handoff_other_browser")
    .count();
    assert_eq!(refusals, 2);

    // Not burnt by the refusals: the browser that signed in upstream finishes.
    let page = attacker.get(&url).await;
    assert!(signed_in(&page, &attacker), "{page:?}");
    // And used once.
    assert_eq!(attacker.get(&url).await.status, 400);
}

#[actix_web::test]
async fn mix_up_between_two_upstreams_is_refused() {
    let op_a = UpstreamOp::start().await;
    let op_b = UpstreamOp::start().await;
    let mut b = Up::new("b", &op_b);
    b.domains = vec!["b.example".into()];
    let usher = Usher::start(vec![Up::new("a", &op_a), b]).await;

    // A's response delivered at B's callback.
    let mut browser = Browser::new();
    let callback = browser.reach_callback(&usher, "a").await;
    let moved = callback.replace("/federation/a/", "/federation/b/");
    let page = browser.get(&moved).await;
    assert_eq!(page.status, 400, "{page:?}");

    // A's callback receiving a response whose RFC 9207 `iss` is B's.
    op_a.tweak(|t| t.callback_iss = Some(op_b.issuer.clone()));
    let mut browser = Browser::new();
    let callback = browser.reach_callback(&usher, "a").await;
    let page = browser.get(&callback).await;
    assert_eq!(page.status, 400, "{page:?}");
    // A response without `iss` from an OP that announces it.
    let mut browser = Browser::new();
    let callback = browser.reach_callback(&usher, "a").await;
    let stripped: String = callback
        .split('&')
        .filter(|p| !p.starts_with("iss="))
        .collect::<Vec<_>>()
        .join("&");
    assert_eq!(browser.get(&stripped).await.status, 400);
    assert_eq!(usher.user_count().await, 0);
    assert_eq!(op_a.token_requests.load(Ordering::SeqCst), 0);
}

#[actix_web::test]
async fn unverified_email_attempting_to_link_is_refused() {
    let op = UpstreamOp::start().await;
    let mut up = Up::new("corp", &op);
    up.jit.link_by_verified_email = true;
    up.jit.trusted_domains = vec!["example.com".into()];
    let usher = Usher::start(vec![up]).await;
    let existing = usher
        .store
        .create_user(NewUser::named("alice-local").with_email("alice@example.com", true))
        .await
        .expect("user");

    op.tweak(|t| t.profile = profile("attacker", "mallory", "alice@example.com", false, &[]));
    let page = Browser::new().sign_in(&usher, "corp").await;
    assert_eq!(page.status, 403, "{page:?}");
    assert!(page.body.contains("verified"), "{}", page.body);
    assert!(
        usher
            .store
            .links_of(existing.id)
            .await
            .expect("links")
            .is_empty()
    );
    assert_eq!(usher.user_count().await, 1);

    // The same address, verified: linked (and no second user).
    op.tweak(|t| t.profile = profile("alice-upstream", "alice", "alice@example.com", true, &[]));
    let mut browser = Browser::new();
    let page = browser.sign_in(&usher, "corp").await;
    assert!(signed_in(&page, &browser), "{page:?}");
    assert_eq!(
        usher
            .store
            .links_of(existing.id)
            .await
            .expect("links")
            .len(),
        1
    );
    assert_eq!(usher.user_count().await, 1);
}

#[actix_web::test]
async fn an_unknown_kid_refetches_the_jwks_at_most_once_per_interval() {
    let op = UpstreamOp::start().await;
    let usher = Usher::start(vec![Up::new("corp", &op)]).await;
    let mut browser = Browser::new();
    assert!(signed_in(&browser.sign_in(&usher, "corp").await, &browser));
    assert_eq!(op.jwks_fetches.load(Ordering::SeqCst), 1);

    // The OP rotates: a new kid, refetched once, accepted.
    op.publish_rotated_key();
    op.tweak(|t| t.signing = Signing::RotatedKey);
    let mut browser = Browser::new();
    assert!(signed_in(&browser.sign_in(&usher, "corp").await, &browser));
    assert_eq!(op.jwks_fetches.load(Ordering::SeqCst), 2);

    // Tokens naming kids nobody published: refused, without another fetch.
    op.tweak(|t| t.signing = Signing::UnknownKid);
    for _ in 0..3 {
        assert_eq!(Browser::new().sign_in(&usher, "corp").await.status, 400);
    }
    assert_eq!(op.jwks_fetches.load(Ordering::SeqCst), 2);
}

#[actix_web::test]
async fn malformed_and_oversized_callbacks_are_refused() {
    let op = UpstreamOp::start().await;
    let usher = Usher::start(vec![Up::new("corp", &op)]).await;
    let mut browser = Browser::new();
    let base = format!("{}/federation/corp/oidc/callback", usher.base);
    for query in [
        String::new(),
        "state=a&state=b&code=c".to_owned(),
        format!("state={}&code=c", "x".repeat(5000)),
        "code=c".to_owned(),
        "state=%ZZ".to_owned(),
    ] {
        let page = browser.get(&format!("{base}?{query}")).await;
        assert_eq!(page.status, 400, "{query}: {page:?}");
    }
    let page = browser
        .get(&format!(
            "{}/federation/nope/oidc/callback?state=x&code=y",
            usher.base
        ))
        .await;
    assert_eq!(page.status, 404, "{page:?}");
    // An upstream error is shown in words, not a 500.
    let callback = browser.reach_callback(&usher, "corp").await;
    let state = callback
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("state="))
        .expect("state")
        .to_owned();
    let page = browser
        .get(&format!(
            "{base}?state={state}&error=access_denied&iss={}",
            op.issuer
        ))
        .await;
    assert_eq!(page.status, 400, "{page:?}");
    assert!(page.body.contains("cancelled or refused"), "{}", page.body);
}

/// A server that answers everything with `body` after `delay`.
async fn fake_upstream(delay: Duration, body: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let server = HttpServer::new(move || {
        App::new().default_service(web::to(move || async move {
            tokio::time::sleep(delay).await;
            HttpResponse::Ok().content_type("text/html").body(body)
        }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("listens")
    .run();
    tokio::spawn(server);
    base
}

#[actix_web::test]
async fn an_upstream_that_is_down_slow_or_garbage_gets_an_error_page_not_a_500() {
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let garbage = fake_upstream(Duration::ZERO, "<html>not json</html>").await;
    let slow = fake_upstream(Duration::from_secs(10), "{}").await;
    let ups = [("down", down), ("garbage", garbage), ("slow", slow)];
    let usher = Usher::start(
        ups.iter()
            .map(|(id, issuer)| Up {
                id,
                private_key_pem: None,
                issuer: issuer.clone(),
                enabled: true,
                domains: vec![],
                jit: Default::default(),
            })
            .collect(),
    )
    .await;
    for (id, _) in ups {
        let started = Instant::now();
        let page = Browser::new()
            .get(&format!("{}/federation/{id}/oidc/start", usher.base))
            .await;
        assert_eq!(page.status, 502, "{id}: {page:?}");
        assert!(
            page.body.contains(&format!("{id} SSO")),
            "{id}: {}",
            page.body
        );
        // Bounded by the upstream's timeout (2 s here), not the upstream's delay.
        assert!(started.elapsed() < Duration::from_secs(6), "{id}");
    }
    assert_eq!(usher.user_count().await, 0);
}

/// Account takeover through `link_by_external_id` (issue 10, item 3): Entra ID
/// pushed alice by SCIM with her object id as `externalId`; a partner's IdP, also
/// set to link by external id, asserts that object id (not a secret) for its own
/// user. The partner is scoped to its own SCIM client, so it must not get alice;
/// the corporate upstream, scoped to `entra`, links to her.
#[actix_web::test]
async fn partner_upstream_asserting_the_object_id_of_a_user_another_scim_client_pushed_does_not_link()
 {
    use usher_core::jit::{ExternalIdLink, Template};
    let corp_op = UpstreamOp::start().await;
    let partner_op = UpstreamOp::start().await;
    let link = |client: &str| {
        Some(ExternalIdLink::new(Template::parse("{oid}").expect("t"), client).expect("rule"))
    };
    let mut corp = Up::new("corp", &corp_op);
    corp.jit.link_by_external_id = link("entra");
    corp.jit.create = false;
    let mut partner = Up::new("partner", &partner_op);
    partner.domains = vec!["partner.example".into()];
    partner.jit.link_by_external_id = link("partner-scim");
    let usher = Usher::start(vec![corp, partner]).await;
    let alice = usher
        .store
        .create_user(NewUser {
            external_id: Some("6f1c0e2a-oid-alice".into()),
            provisioned_by: Some("entra".into()),
            ..NewUser::named("alice").with_email("alice@example.com", true)
        })
        .await
        .expect("pushed by SCIM");

    partner_op.tweak(|t| {
        t.profile = profile("partner-7", "mallory", "mallory@partner.example", true, &[]);
        t.profile.insert("oid".into(), json!("6f1c0e2a-oid-alice"));
    });
    let mut mallory = Browser::new();
    let page = mallory.sign_in(&usher, "partner").await;
    assert!(signed_in(&page, &mallory), "{page:?}");
    assert!(
        usher
            .store
            .links_of(alice.id)
            .await
            .expect("links")
            .is_empty(),
        "the partner's identity is not linked to alice"
    );
    let made = usher.user("mallory").await.expect("a user of its own");
    assert_ne!(made.id, alice.id);

    corp_op.tweak(|t| {
        t.profile = profile("corp-alice", "alice", "alice@example.com", true, &[]);
        t.profile.insert("oid".into(), json!("6f1c0e2a-oid-alice"));
    });
    let mut browser = Browser::new();
    let page = browser.sign_in(&usher, "corp").await;
    assert!(signed_in(&page, &browser), "{page:?}");
    let links = usher.store.links_of(alice.id).await.expect("links");
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0].upstream.as_str(), "corp");
}
