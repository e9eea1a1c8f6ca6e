//! Signing in with a local password.

use actix_web::cookie::SameSite;
use actix_web::http::StatusCode;
use usher_core::LoginRequest;
use usher_core::ports::Directory;

use super::browser::{Browser, decode};
use super::env::{Env, Options, PASSWORD};
use crate::app;

const RESUME: &str = "/oidc/authorize/resume?r=abc&x=1";
const WRONG: &str = "Wrong username or password.";

pub fn request(client_name: &str) -> LoginRequest {
    LoginRequest {
        resume_url: RESUME.into(),
        client_name: Some(client_name.into()),
        force_login: false,
        login_hint: None,
        ..LoginRequest::default()
    }
}

/// Posts the login form of `/login[?t=]` with `username` and `password`.
pub async fn sign_in(
    app: &super::env::TestApp,
    browser: &mut Browser,
    t: Option<&str>,
    username: &str,
    password: &str,
) -> super::browser::Page {
    let path = t.map_or_else(|| "/login".to_owned(), |t| format!("/login?t={t}"));
    let form = browser.get(app, &path).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let csrf = form.csrf();
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("username", username),
        ("password", password),
    ];
    if let Some(t) = t {
        fields.push(("t", t));
    }
    browser.post(app, "/login", &fields).await
}

#[actix_web::test]
async fn login_success_sets_the_session_cookie_and_returns_to_resume_url() {
    let env = Env::new().await;
    let alice = env.user("alice").await;
    let app = app!(env);
    let t = env
        .interactions
        .start_login(&request("Wiki"))
        .await
        .expect("parked");
    let mut browser = Browser::new();

    let form = browser.get(&app, &format!("/login?t={t}")).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("<strong>Wiki</strong>"), "{}", form.body);
    let done = sign_in(&app, &mut browser, Some(&t), "alice", PASSWORD).await;

    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let location = done.location().to_owned();
    let to = location
        .strip_prefix("/continue?to=")
        .expect("via /continue");
    assert_eq!(decode(to), RESUME);
    let cookie = done
        .cookie(usher_core::SESSION_COOKIE)
        .expect("session cookie");
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.same_site(), Some(SameSite::Lax));
    assert_eq!(cookie.path(), Some("/"));
    assert_eq!(cookie.max_age(), None, "a browser-session cookie");
    assert_eq!(cookie.expires(), None);
    assert_ne!(cookie.secure(), Some(true), "plain http in this test");
    let session = env
        .sessions
        .get(cookie.value())
        .await
        .expect("store")
        .expect("live session");
    assert_eq!(session.user_id, alice.id);
    assert_eq!(session.amr, vec!["pwd".to_owned()]);
    assert_eq!(
        env.interactions.login(&t).await.expect("store"),
        None,
        "finished"
    );

    // The continue page moves on to resume_url without a form submission.
    let next = browser.get(&app, &location).await;
    assert_eq!(next.status, StatusCode::OK);
    assert!(
        next.body
            .contains("content=\"0;url=/oidc/authorize/resume?r=abc&#38;x=1\""),
        "{}",
        next.body
    );

    let audit = env.audit().await;
    let entry = audit
        .iter()
        .find(|e| e.action == "login.success")
        .expect("audited");
    assert_eq!(entry.actor, format!("user:{}", alice.id));
    assert!(!entry.details.to_string().contains(PASSWORD));
}

#[actix_web::test]
async fn secure_cookies_use_the_host_prefix_and_the_secure_flag() {
    let env = Env::with(Options {
        secure_cookies: true,
        ..Options::default()
    })
    .await;
    env.user("alice").await;
    let app = app!(env);
    let mut browser = Browser::new();
    let form = browser.get(&app, "/login").await;
    let csrf = form.cookie("__Host-usher_csrf").expect("__Host- cookie");
    assert_eq!(csrf.secure(), Some(true));
    assert_eq!(csrf.http_only(), Some(true));
    assert_eq!(csrf.same_site(), Some(SameSite::Strict));
    assert_eq!(csrf.path(), Some("/"));
    assert_eq!(csrf.domain(), None);
    let done = sign_in(&app, &mut browser, None, "alice", PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.location(), "/");
    // Cookie tossing: under https the session cookie is __Host- too, so a sibling
    // subdomain cannot plant one; the plain name is not read at all.
    assert!(done.cookie(usher_core::SESSION_COOKIE).is_none());
    let session = done
        .cookie("__Host-usher_session")
        .expect("__Host- session cookie");
    assert_eq!(session.secure(), Some(true));
    assert_eq!(session.path(), Some("/"));
    assert_eq!(session.domain(), None);
    let home = browser.get(&app, "/").await;
    assert!(home.body.contains("Signed in as alice"), "{}", home.body);
}

#[actix_web::test]
async fn login_by_email_ignores_case() {
    let env = Env::new().await;
    env.user("alice").await;
    let app = app!(env);
    let mut browser = Browser::new();
    let done = sign_in(&app, &mut browser, None, " Alice@Example.TEST ", PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let home = browser.get(&app, "/").await;
    assert!(home.body.contains("Signed in as alice"), "{}", home.body);
}

#[actix_web::test]
async fn wrong_password_unknown_user_and_inactive_user_look_the_same() {
    let env = Env::new().await;
    env.user("alice").await;
    let bob = env.user("bob").await;
    env.deactivate(&bob).await;
    let carol = env
        .store
        .create_user(usher_core::NewUser::named("carol"))
        .await
        .expect("user without password");
    let app = app!(env);

    let mut pages = Vec::new();
    for (who, password) in [
        ("alice", "wrong"),
        ("nobody", PASSWORD),
        ("bob", PASSWORD),
        ("carol", PASSWORD),
    ] {
        let mut browser = Browser::new();
        let page = sign_in(&app, &mut browser, None, who, password).await;
        assert_eq!(page.status, StatusCode::OK, "{who}");
        assert!(page.body.contains(WRONG), "{who}: {}", page.body);
        assert!(page.cookie(usher_core::SESSION_COOKIE).is_none(), "{who}");
        assert!(browser.session().is_none());
        pages.push(page.body.replace(who, "WHO"));
    }
    // Byte for byte the same page, apart from the name typed and the CSRF token.
    let strip = |body: &str| {
        let start = body.find("name=\"csrf\"").expect("csrf");
        format!("{}{}", &body[..start], &body[start + 70..])
    };
    let first = strip(&pages[0]);
    assert!(pages.iter().all(|p| strip(p) == first));

    let reasons: Vec<String> = env
        .audit()
        .await
        .iter()
        .filter(|e| e.action == "login.failure")
        .map(|e| e.details["reason"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        reasons,
        ["wrong_password", "unknown_user", "inactive", "no_password"]
    );
    assert!(
        env.audit()
            .await
            .iter()
            .filter(|e| e.action == "login.failure")
            .all(|e| e.actor == "anonymous" && e.details["ip"] == "203.0.113.7")
    );
    assert!(carol.active, "carol is active, just has no password");
}

#[actix_web::test]
async fn login_csrf_missing_or_mismatched_is_refused_without_a_session() {
    let env = Env::new().await;
    env.user("alice").await;
    let app = app!(env);
    let mut browser = Browser::new();
    let form = browser.get(&app, "/login").await;
    let good = form.csrf();

    let forged = "A".repeat(43);
    for token in ["", forged.as_str()] {
        let page = browser
            .post(
                &app,
                "/login",
                &[
                    ("csrf", token),
                    ("username", "alice"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{token:?}");
        assert!(browser.session().is_none());
    }
    // The right token without the cookie (a cross-site form cannot send it).
    let mut stranger = Browser::new();
    let page = stranger
        .post(
            &app,
            "/login",
            &[
                ("csrf", &good),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(
        page.body
            .contains("only accepts forms sent from its own pages")
    );
    // A browser marking the POST cross-site.
    browser
        .headers
        .push(("sec-fetch-site".into(), "cross-site".into()));
    let page = browser
        .post(
            &app,
            "/login",
            &[
                ("csrf", &good),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(stranger.session().is_none() && browser.session().is_none());
    assert!(env.audit().await.is_empty(), "nothing recorded");
}

#[actix_web::test]
async fn open_redirect_in_resume_url_is_refused() {
    let env = Env::new().await;
    env.user("alice").await;
    let app = app!(env);
    for evil in [
        "https://evil.test/",
        "//evil.test/x",
        "/\\evil.test",
        "/\t/evil.test",
    ] {
        let mut parked = request("Evil");
        parked.resume_url = evil.into();
        let t = env.interactions.start_login(&parked).await.expect("parked");
        let mut browser = Browser::new();
        let page = browser.get(&app, &format!("/login?t={t}")).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{evil:?}");
        // Even a form posted directly does not sign in nor redirect.
        let home = browser.get(&app, "/login").await;
        let page = browser
            .post(
                &app,
                "/login",
                &[
                    ("csrf", &home.csrf()),
                    ("t", &t),
                    ("username", "alice"),
                    ("password", PASSWORD),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{evil:?}");
        assert_eq!(page.location(), "");
        assert!(browser.session().is_none());
    }
}

#[actix_web::test]
async fn an_expired_or_unknown_sign_in_link_says_so() {
    let env = Env::new().await;
    let app = app!(env);
    let t = env
        .interactions
        .start_login(&request("Wiki"))
        .await
        .expect("parked");
    env.advance(usher_core::INTERACTION_TTL + std::time::Duration::from_secs(1));
    let mut browser = Browser::new();
    for path in [
        format!("/login?t={t}"),
        "/login?t=unknown".to_owned(),
        "/login?t=%00%0a..%2f".to_owned(),
        format!("/login?t={}", "x".repeat(5000)),
    ] {
        let page = browser.get(&app, &path).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(
            page.body.contains("This sign-in link has expired"),
            "{}",
            page.body
        );
        assert!(page.body.contains("Go back to the app and start again"));
    }
}

#[actix_web::test]
async fn a_live_session_skips_the_form_unless_force_login() {
    let env = Env::new().await;
    env.user("alice").await;
    let app = app!(env);
    let mut browser = Browser::new();
    sign_in(&app, &mut browser, None, "alice", PASSWORD).await;
    assert!(browser.session().is_some());

    let t = env
        .interactions
        .start_login(&request("Wiki"))
        .await
        .expect("parked");
    let page = browser.get(&app, &format!("/login?t={t}")).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), RESUME);

    let mut forced = request("Wiki");
    forced.force_login = true;
    let t = env.interactions.start_login(&forced).await.expect("parked");
    let page = browser.get(&app, &format!("/login?t={t}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("name=\"password\""));

    // Signing in again replaces the session (a new id: session fixation).
    let old = browser.session().expect("session").to_owned();
    let done = sign_in(&app, &mut browser, Some(&t), "alice", PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_ne!(browser.session(), Some(old.as_str()));
    assert_eq!(env.sessions.get(&old).await.expect("store"), None);
}

#[actix_web::test]
async fn a_deactivated_users_session_no_longer_counts() {
    let env = Env::new().await;
    let alice = env.user("alice").await;
    let app = app!(env);
    let mut browser = Browser::new();
    sign_in(&app, &mut browser, None, "alice", PASSWORD).await;
    env.deactivate(&alice).await;
    let page = browser.get(&app, "/login").await;
    assert_eq!(page.status, StatusCode::OK, "the form, not a redirect");
    let home = browser.get(&app, "/").await;
    assert!(home.body.contains("You are not signed in"));
}

#[actix_web::test]
async fn client_name_and_login_hint_are_html_escaped() {
    let env = Env::new().await;
    let app = app!(env);
    let mut parked = request("<script>alert(1)</script>");
    parked.login_hint = Some("\"><script>alert(2)</script>".into());
    let t = env.interactions.start_login(&parked).await.expect("parked");
    let page = Browser::new().get(&app, &format!("/login?t={t}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("<script>"), "{}", page.body);
    assert!(
        page.body
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
    );
    assert!(
        page.body
            .contains("value=\"&#34;&#62;&#60;script&#62;alert(2)&#60;/script&#62;\""),
        "{}",
        page.body
    );
}

#[actix_web::test]
async fn a_failed_login_keeps_the_name_and_escapes_it() {
    let env = Env::new().await;
    let app = app!(env);
    let mut browser = Browser::new();
    let page = sign_in(&app, &mut browser, None, "<b>mallory</b>", "x").await;
    assert!(
        page.body
            .contains("value=\"&#60;b&#62;mallory&#60;/b&#62;\""),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<b>mallory"));
}
