//! Headers, bad input and start-up.

use std::sync::{Arc, OnceLock};

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use usher_web::WebState;

use super::browser::Browser;
use super::env::{Env, PASSWORD};
use super::login::{request, sign_in};
use crate::{app, app_with};

fn assert_secure_headers(page: &super::browser::Page, what: &str) {
    let csp = page.header("content-security-policy");
    for directive in [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(
            csp.contains(directive),
            "{what}: CSP {csp:?} lacks {directive}"
        );
    }
    assert_eq!(page.header("x-frame-options"), "DENY", "{what}");
    assert_eq!(page.header("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(page.header("cache-control"), "no-store", "{what}");
    assert_eq!(page.header("x-content-type-options"), "nosniff", "{what}");
}

#[actix_web::test]
async fn security_headers_are_on_every_page() {
    let env = Env::new().await;
    env.user("alice").await;
    let app = app!(env);
    let t = env
        .interactions
        .start_login(&request("Wiki"))
        .await
        .expect("parked");
    let mut browser = Browser::new();
    let mut pages = vec![
        ("home", browser.get(&app, "/").await),
        ("login", browser.get(&app, &format!("/login?t={t}")).await),
        ("expired", browser.get(&app, "/login?t=nope").await),
        ("logout", browser.get(&app, "/logout").await),
        ("done", browser.get(&app, "/logout/done").await),
        ("continue", browser.get(&app, "/continue?to=%2F").await),
        (
            "bad continue",
            browser.get(&app, "/continue?to=https://evil.test").await,
        ),
        ("consent", browser.get(&app, "/consent?t=nope").await),
        (
            "method",
            browser.send(&app, TestRequest::put().uri("/login")).await,
        ),
    ];
    pages.push((
        "failed login",
        sign_in(&app, &mut browser, None, "alice", "wrong").await,
    ));
    pages.push((
        "login redirect",
        sign_in(&app, &mut browser, Some(&t), "alice", PASSWORD).await,
    ));
    pages.push(("signed-in home", browser.get(&app, "/").await));
    pages.push((
        "csrf",
        browser.post(&app, "/logout", &[("csrf", "x")]).await,
    ));
    for (what, page) in &pages {
        assert_secure_headers(page, what);
    }
    assert_eq!(pages[8].1.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(pages[6].1.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn the_stylesheet_is_served_by_usher() {
    let env = Env::new().await;
    let app = app!(env);
    let page = Browser::new().get(&app, "/static/usher.css").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.header("content-type").starts_with("text/css"));
    assert!(page.body.contains(".card"));
    let home = Browser::new().get(&app, "/").await;
    assert!(home.body.contains("href=\"/static/usher.css\""));
    assert!(!home.body.contains("<style") && !home.body.contains("<script"));
}

#[actix_web::test]
async fn an_oversized_form_gets_an_error_page_not_a_crash() {
    let env = Env::new().await;
    let app = app!(env);
    let mut browser = Browser::new();
    let huge = "a".repeat(64 * 1024);
    let page = browser
        .post(
            &app,
            "/login",
            &[("csrf", "x"), ("username", &huge), ("password", "x")],
        )
        .await;
    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        page.body.contains("far larger than any of usher"),
        "{}",
        page.body
    );
    assert_secure_headers(&page, "oversized");
    assert!(env.audit().await.is_empty());
}

#[actix_web::test]
async fn duplicated_missing_or_malformed_fields_are_bad_requests() {
    let env = Env::new().await;
    let app = app!(env);
    let mut browser = Browser::new();
    let form = "application/x-www-form-urlencoded";
    for (path, body, content_type) in [
        (
            "/login",
            "csrf=a&username=alice&username=bob&password=x",
            form,
        ),
        ("/login", "csrf=a&username=alice", form),
        ("/login", "%zz=%%&&==", form),
        ("/login", "{\"username\":\"alice\"}", "application/json"),
        ("/consent", "csrf=a&t=x", form),
        ("/logout", "t=x", form),
    ] {
        let page = browser
            .send(
                &app,
                TestRequest::post()
                    .uri(path)
                    .insert_header(("content-type", content_type))
                    .set_payload(body),
            )
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{path} {body}");
        assert!(page.body.contains("usher could not read this request"));
    }
    let page = browser.get(&app, "/login?t=a&t=b").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn pages_answer_503_until_the_state_is_set() {
    let cell: Arc<OnceLock<Arc<WebState>>> = Arc::new(OnceLock::new());
    let app = app_with!(cell.clone());
    let page = Browser::new().get(&app, "/login").await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        page.body
            .contains("usher is starting, try again in a moment")
    );
    assert_secure_headers(&page, "starting");
}

#[actix_web::test]
async fn error_pages_show_the_request_id() {
    let env = Env::new().await;
    let app = app!(env);
    let mut browser = Browser::new();
    browser
        .headers
        .push(("x-request-id".into(), "req-1234abcd".into()));
    let page = browser.get(&app, "/login?t=gone").await;
    assert!(
        page.body.contains("<code>req-1234abcd</code>"),
        "{}",
        page.body
    );
    browser.headers = vec![("x-request-id".into(), "<script>x</script>".into())];
    let page = browser.get(&app, "/login?t=gone").await;
    assert!(!page.body.contains("script"), "odd ids are not echoed");
}

#[actix_web::test]
async fn the_public_error_page_looks_like_the_others() {
    let response = usher_web::error_page(
        StatusCode::NOT_FOUND,
        "This page does not exist",
        "Check the address.",
        Some("r-1"),
    );
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response
            .headers()
            .get("x-frame-options")
            .map(|v| v.as_bytes()),
        Some(&b"DENY"[..])
    );
    let body = actix_web::body::to_bytes(response.into_body())
        .await
        .expect("body");
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("This page does not exist") && body.contains("r-1"));
}
