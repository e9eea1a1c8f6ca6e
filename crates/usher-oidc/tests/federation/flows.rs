//! JIT through the whole chain: upstream OP -> relying party -> /login/federated.

use std::collections::BTreeMap;

use usher_core::UserUpdate;
use usher_core::jit::{JitOutcome, JitPolicy, SyncMode, Template};
use usher_core::ports::Directory;

use super::{Browser, Up, UpstreamOp, Usher, profile, signed_in};

fn policy() -> JitPolicy {
    let mut p = JitPolicy::default();
    p.mapping.username = Template::parse("{preferred_username|lower}").expect("t");
    p.mapping.attributes = BTreeMap::from([(
        "department".to_owned(),
        Template::parse("{department}").expect("t"),
    )]);
    p.groups.map = BTreeMap::from([
        ("eng".to_owned(), "engineering".to_owned()),
        ("ops".to_owned(), "operations".to_owned()),
    ]);
    p.groups.default_groups = vec!["staff".into()];
    p
}

async fn groups(usher: &Usher, username: &str) -> Vec<String> {
    let user = usher.user(username).await.expect("user");
    usher
        .store
        .groups_of(user.id)
        .await
        .expect("groups")
        .into_iter()
        .map(|g| g.name)
        .collect()
}

#[actix_web::test]
async fn first_login_creates_the_user_with_mapped_attributes_and_groups_then_reuses_the_link() {
    let op = UpstreamOp::start().await;
    let mut up = Up::new("corp", &op);
    up.jit = policy();
    let usher = Usher::start(vec![up]).await;

    let mut browser = Browser::new();
    let page = browser.sign_in(&usher, "corp").await;
    assert!(signed_in(&page, &browser), "{page:?}");
    let user = usher.user("alice").await.expect("created");
    assert_eq!(
        user.primary_email().map(|e| e.address.as_str()),
        Some("alice@example.com")
    );
    assert!(user.primary_email().is_some_and(|e| e.verified));
    assert_eq!(user.display_name.as_deref(), Some("Alice Example"));
    // From userinfo, merged with the id_token's claims.
    assert_eq!(user.attributes["department"], "R&D");
    assert_eq!(groups(&usher, "alice").await, ["engineering", "staff"]);

    // Second sign-in, another browser: the link, not a new user.
    let mut other = Browser::new();
    let page = other.sign_in(&usher, "corp").await;
    assert!(signed_in(&page, &other), "{page:?}");
    assert_eq!(usher.user_count().await, 1);
    let report = usher.report().await;
    let outcomes: Vec<_> = report.iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, [JitOutcome::Created, JitOutcome::SignedIn]);
    assert!(report.iter().all(|r| r.user_id == Some(user.id)));
    assert_eq!(report[0].client_ip.as_deref(), Some("127.0.0.1"));
}

#[actix_web::test]
async fn force_sync_removes_a_group_no_longer_asserted() {
    let op = UpstreamOp::start().await;
    op.tweak(|t| t.profile = profile("s-1", "bob", "bob@example.com", true, &["eng", "ops"]));
    let mut up = Up::new("corp", &op);
    up.jit = policy();
    up.jit.sync = SyncMode::Force;
    let usher = Usher::start(vec![up]).await;
    let mut first = Browser::new();
    let page = first.sign_in(&usher, "corp").await;
    assert!(signed_in(&page, &first), "{page:?}");
    assert_eq!(
        groups(&usher, "bob").await,
        ["engineering", "operations", "staff"]
    );

    op.tweak(|t| t.profile = profile("s-1", "bob", "bob@example.com", true, &["eng"]));
    let mut browser = Browser::new();
    let page = browser.sign_in(&usher, "corp").await;
    assert!(signed_in(&page, &browser), "{page:?}");
    assert_eq!(groups(&usher, "bob").await, ["engineering", "staff"]);
    let last = usher.report().await.pop().expect("row");
    assert_eq!(last.outcome, JitOutcome::Updated);
    assert!(
        last.reason
            .as_deref()
            .is_some_and(|r| r.contains("-operations")),
        "{last:?}"
    );
}

#[actix_web::test]
async fn an_email_domain_outside_the_allow_list_is_denied_with_a_reason() {
    let op = UpstreamOp::start().await;
    let mut up = Up::new("corp", &op);
    up.jit.allowed_email_domains = vec!["corp.example".into()];
    let usher = Usher::start(vec![up]).await;
    let mut browser = Browser::new();
    let page = browser.sign_in(&usher, "corp").await;
    assert_eq!(page.status, 403, "{page:?}");
    assert!(
        page.body.contains("addresses at corp.example"),
        "{}",
        page.body
    );
    assert_eq!(usher.user_count().await, 0);
    let report = usher.report().await;
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].outcome, JitOutcome::Denied);
    assert!(
        report[0]
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with("email_domain"))
    );
}

#[actix_web::test]
async fn a_client_outside_the_allowed_networks_is_denied() {
    let op = UpstreamOp::start().await;
    let mut up = Up::new("corp", &op);
    up.jit.allowed_networks = vec!["10.0.0.0/8".parse().expect("net")];
    let usher = Usher::start(vec![up]).await;
    let page = Browser::new().sign_in(&usher, "corp").await;
    assert_eq!(page.status, 403, "{page:?}");
    assert!(page.body.contains("127.0.0.1"), "{}", page.body);
    assert_eq!(usher.user_count().await, 0);
}

#[actix_web::test]
async fn a_deactivated_user_cannot_sign_in_through_the_upstream() {
    let op = UpstreamOp::start().await;
    let usher = Usher::start(vec![Up::new("corp", &op)]).await;
    let mut browser = Browser::new();
    assert!(signed_in(&browser.sign_in(&usher, "corp").await, &browser));
    let user = usher.user("Alice").await.expect("created");
    usher
        .store
        .update_user(
            user.id,
            UserUpdate {
                active: Some(false),
                ..UserUpdate::default()
            },
        )
        .await
        .expect("deactivated");
    let page = Browser::new().sign_in(&usher, "corp").await;
    assert_eq!(page.status, 403, "{page:?}");
    assert!(page.body.contains("deactivated"), "{}", page.body);
}

#[actix_web::test]
async fn a_disabled_upstream_accepts_no_sign_in() {
    let op = UpstreamOp::start().await;
    let mut up = Up::new("corp", &op);
    up.enabled = false;
    let usher = Usher::start(vec![up]).await;
    let mut browser = Browser::new();
    let page = browser
        .get(&format!("{}/federation/corp/oidc/start", usher.base))
        .await;
    assert_eq!(page.status, 403, "{page:?}");
    assert!(page.body.contains("turned off"), "{}", page.body);
    // Its button is not offered either.
    let login = browser.get(&format!("{}/login", usher.base)).await;
    assert!(!login.body.contains("/federation/corp"), "{}", login.body);
}

#[actix_web::test]
async fn the_login_page_offers_upstreams_and_home_realm_discovery() {
    let op = UpstreamOp::start().await;
    let usher = Usher::start(vec![Up::new("corp", &op)]).await;
    let mut browser = Browser::new();
    let login = browser.get(&format!("{}/login", usher.base)).await;
    assert!(
        login.body.contains("href=\"/federation/corp/oidc/start\""),
        "{}",
        login.body
    );
    assert!(
        login.body.contains("Sign in with corp SSO"),
        "{}",
        login.body
    );
    assert!(
        login.body.contains("action=\"/login/discover\""),
        "{}",
        login.body
    );
}

/// IdP-initiated sign-ins (SAML) reach `/login/federated` without passing the
/// protocol crate's start: the page itself refuses a disabled upstream, an unknown
/// one, a browser other than the one the hand-off is bound to, and a replayed
/// hand-off.
#[actix_web::test]
async fn login_federated_refuses_disabled_unknown_foreign_and_replayed_handoffs() {
    use usher_core::{BrowserBinding, ExternalIdentity, FederatedLogin, UpstreamId, UpstreamKind};
    // The binding cookie of the browser that posted the assertion.
    const COOKIE: &str = "usher_saml_sp";
    const VALUE: &str = "the-browser-that-completed-the-upstream-flow";
    let op = UpstreamOp::start().await;
    let mut off = Up::new("off", &op);
    off.enabled = false;
    off.domains = vec![];
    let usher = Usher::start(vec![Up::new("corp", &op), off]).await;
    let handoff = |upstream: &str| FederatedLogin {
        identity: ExternalIdentity {
            upstream: UpstreamId::parse(upstream).expect("id"),
            kind: UpstreamKind::Saml,
            subject: "idp-initiated".into(),
            email: Some("carol@example.com".into()),
            email_verified: true,
            attributes:
                serde_json::json!({"preferred_username": "carol", "email": "carol@example.com"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            authn_methods: vec![],
            upstream_session: None,
        },
        login: None,
        browser: BrowserBinding::new(COOKIE, VALUE).expect("binding"),
    };
    let mut browser = Browser::new();
    browser.cookies.insert(COOKIE.into(), VALUE.into());
    let t = usher
        .interactions
        .start_federated(&handoff("off"))
        .await
        .expect("parked");
    let page = browser
        .get(&format!("{}/login/federated?t={t}", usher.base))
        .await;
    assert_eq!(page.status, 403, "{page:?}");
    assert!(page.body.contains("turned off"), "{}", page.body);

    let t = usher
        .interactions
        .start_federated(&handoff("gone"))
        .await
        .expect("parked");
    let page = browser
        .get(&format!("{}/login/federated?t={t}", usher.base))
        .await;
    assert_eq!(page.status, 400, "{page:?}");

    let t = usher
        .interactions
        .start_federated(&handoff("corp"))
        .await
        .expect("parked");
    let url = format!("{}/login/federated?t={t}", usher.base);
    // A browser that never saw the upstream: refused, and the hand-off kept.
    let mut stranger = Browser::new();
    let page = stranger.get(&url).await;
    assert_eq!(page.status, 403, "{page:?}");
    assert!(page.body.contains("another browser"), "{}", page.body);
    assert!(!stranger.cookies.contains_key(usher_core::SESSION_COOKIE));
    assert_eq!(usher.user_count().await, 0);
    let page = browser.get(&url).await;
    assert!(signed_in(&page, &browser), "{page:?}");
    let replay = browser.get(&url).await;
    assert_eq!(replay.status, 400, "{replay:?}");
    assert_eq!(usher.user_count().await, 1);
    for bad in ["", "x%00", &"a".repeat(500)] {
        let page = browser
            .get(&format!("{}/login/federated?t={bad}", usher.base))
            .await;
        assert_eq!(page.status, 400, "{bad}: {page:?}");
    }
}

#[actix_web::test]
async fn private_key_jwt_authenticates_usher_at_the_token_endpoint() {
    use openssl::pkey::PKey;
    let op = UpstreamOp::start().await;
    let key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).expect("rsa")).expect("key");
    let public = PKey::public_key_from_pem(&key.public_key_to_pem().expect("pem")).expect("pub");
    op.expect_private_key_jwt(public);
    let mut up = Up::new("corp", &op);
    up.private_key_pem = Some(key.private_key_to_pem_pkcs8().expect("pem"));
    let usher = Usher::start(vec![up]).await;
    let mut browser = Browser::new();
    let page = browser.sign_in(&usher, "corp").await;
    assert!(signed_in(&page, &browser), "{page:?}");

    // The same OP refuses usher's secret: without the assertion nothing works.
    let secret_only = Usher::start(vec![Up::new("corp", &op)]).await;
    let page = Browser::new().sign_in(&secret_only, "corp").await;
    assert_eq!(page.status, 400, "{page:?}");
    assert_eq!(secret_only.user_count().await, 0);
}

/// The app's list of allowed upstreams (`allowed_upstreams`): only those buttons,
/// and the others refused at `/start` and at `/login/federated`.
#[actix_web::test]
async fn an_app_only_offers_and_accepts_its_allowed_upstreams() {
    use usher_core::LoginRequest;
    let op = UpstreamOp::start().await;
    let mut other = Up::new("other", &op);
    other.domains = vec!["other.example".into()];
    let usher = Usher::start(vec![Up::new("corp", &op), other]).await;
    let login = LoginRequest {
        resume_url: "/oidc/authorize/resume?id=x".into(),
        client_name: Some("Wiki".into()),
        allowed_upstreams: Some(vec!["corp".into()]),
        ..LoginRequest::default()
    };
    let t = usher
        .interactions
        .start_login(&login)
        .await
        .expect("parked");
    let mut browser = Browser::new();
    let page = browser.get(&format!("{}/login?t={t}", usher.base)).await;
    assert!(
        page.body.contains("/federation/corp/oidc/start?t="),
        "{}",
        page.body
    );
    assert!(!page.body.contains("/federation/other/"), "{}", page.body);
    let page = browser
        .get(&format!("{}/federation/other/oidc/start?t={t}", usher.base))
        .await;
    assert_eq!(page.status, 403, "{page:?}");
    // A kc_idp_hint naming a disallowed upstream is ignored: the login page shows.
    let hinted = LoginRequest {
        upstream_hint: Some("other".into()),
        ..login.clone()
    };
    let t2 = usher
        .interactions
        .start_login(&hinted)
        .await
        .expect("parked");
    let page = browser.get(&format!("{}/login?t={t2}", usher.base)).await;
    assert_eq!(page.status, 200, "{page:?}");
    // The allowed one, hinted by domain, goes straight there.
    let by_domain = LoginRequest {
        upstream_hint: Some("example.com".into()),
        ..login
    };
    let t3 = usher
        .interactions
        .start_login(&by_domain)
        .await
        .expect("parked");
    let page = browser.get(&format!("{}/login?t={t3}", usher.base)).await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(
        page.location.as_deref(),
        Some(format!("/federation/corp/oidc/start?t={t3}").as_str())
    );
}

/// Home-realm discovery: `POST /login/discover` with an email address.
#[actix_web::test]
async fn home_realm_discovery_by_email_domain() {
    let op = UpstreamOp::start().await;
    let usher = Usher::start(vec![Up::new("corp", &op)]).await;
    let mut browser = Browser::new();
    let login = browser.get(&format!("{}/login", usher.base)).await;
    let csrf = login
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a CSRF field")
        .to_owned();
    let url = format!("{}/login/discover", usher.base);

    let page = browser
        .post_form(&url, &format!("csrf={csrf}&email=Alice%40EXAMPLE.com"))
        .await;
    assert_eq!(page.status, 303, "{page:?}");
    assert_eq!(
        page.location.as_deref(),
        Some("/continue?to=%2Ffederation%2Fcorp%2Foidc%2Fstart")
    );
    // Unknown domains see the other options, and why.
    let page = browser
        .post_form(&url, &format!("csrf={csrf}&email=bob%40nowhere.example"))
        .await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(
        page.body
            .contains("No organisation sign-in is set up for nowhere.example")
    );
    assert!(page.body.contains("/federation/corp/oidc/start"));
    // Hostile input: no CSRF token, oversized, duplicated, malformed.
    assert_eq!(
        browser
            .post_form(&url, "email=a%40example.com")
            .await
            .status,
        400
    );
    assert_eq!(
        browser
            .post_form(&url, "csrf=wrong&email=a%40example.com")
            .await
            .status,
        403
    );
    let huge = format!("csrf={csrf}&email={}%40example.com", "a".repeat(5000));
    let page = browser.post_form(&url, &huge).await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(!page.body.contains(&"a".repeat(400)), "not echoed");
    let flood = format!("csrf={csrf}&email={}", "a".repeat(20_000));
    assert_eq!(browser.post_form(&url, &flood).await.status, 413);
    let twice = format!("csrf={csrf}&email=a%40example.com&email=b%40example.com");
    assert_eq!(browser.post_form(&url, &twice).await.status, 400);
}
