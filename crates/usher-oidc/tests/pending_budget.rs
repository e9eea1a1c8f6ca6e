//! Issue 10, defect 4: flooding the ephemeral store with parked sign-ins. Every
//! `/oidc/authorize` that goes to the login page (with a session too, for
//! `prompt=login`), every logout and every federated start parks state for
//! minutes; one address (one IPv6 /48, for its /64s together) may park only its
//! budget's worth, then gets HTTP 429 with `Retry-After` and a page, while other
//! addresses (and sign-ins a session answers at once) carry on. Over real HTTP, with loopback as a trusted proxy so
//! `X-Forwarded-For` names the client.

use std::net::TcpListener;

use actix_web::{App, HttpServer};
use usher_core::BudgetPolicy;

use crate::federation::{Browser, Up, UpstreamOp, Usher, signed_in};
use crate::fixture::{Op, TRUSTED, TRUSTED_CB};
use crate::support::authorize_uri;

const FLOODER: &str = "198.51.100.7";
const NEIGHBOUR: &str = "203.0.113.9";

/// The OP's routes on a port of their own; returns the base URL.
fn serve(op: &Op) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let data = op.data.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .configure(usher_oidc::configure)
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("listens")
    .run();
    tokio::spawn(server);
    base
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// GET `url` as a browser at `ip` (through the trusted proxy), with `cookie`.
async fn get_from(url: &str, ip: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = http().get(url).header("x-forwarded-for", ip);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.expect("request")
}

/// GET `url` with these raw `X-Forwarded-For` bytes (any byte a proxy passes
/// along, not only ASCII).
async fn get_with_forwarded_bytes(url: &str, forwarded_for: &[u8]) -> reqwest::Response {
    let value = reqwest::header::HeaderValue::from_bytes(forwarded_for).expect("a header value");
    http()
        .get(url)
        .header("x-forwarded-for", value)
        .send()
        .await
        .expect("request")
}

/// Asserts the 429 page: `Retry-After` within the window, the page saying how
/// long to wait, and no redirect anywhere (never to the client's redirect_uri).
async fn assert_too_many(response: reqwest::Response) {
    assert_eq!(response.status().as_u16(), 429);
    assert!(
        response.headers().get("location").is_none(),
        "never a redirect"
    );
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!(
        (1..=BudgetPolicy::default().window.as_secs()).contains(&retry_after),
        "{retry_after}"
    );
    let body = response.text().await.expect("body");
    assert!(
        body.contains("Too many sign-ins started from your network; try again in"),
        "{body}"
    );
}

/// The `Cookie` header of a browser signed in as the fixture's user.
async fn session_cookie(op: &Op) -> String {
    let (cookie, _) = op.sign_in(&op.user).await;
    format!("{}={cookie}", usher_core::SESSION_COOKIE)
}

fn per_ip() -> usize {
    BudgetPolicy::default().per_ip as usize
}

#[actix_web::test]
async fn flood_of_unauthenticated_authorize_requests_from_one_ip_gets_429_and_others_still_sign_in()
{
    let op = Op::new().await;
    let base = serve(&op);
    let url = format!("{base}{}", authorize_uri(TRUSTED, TRUSTED_CB, &[]));
    for i in 0..per_ip() {
        let r = get_from(&url, FLOODER, None).await;
        assert_eq!(r.status().as_u16(), 303, "request {i} parks a login");
    }
    let parked = op.ephemeral.len();
    assert_too_many(get_from(&url, FLOODER, None).await).await;
    assert_too_many(get_from(&url, FLOODER, None).await).await;
    assert_eq!(
        op.ephemeral.len(),
        parked,
        "a refused request parks nothing"
    );
    assert!(
        parked <= 2 * per_ip() + 1,
        "one address holds its budget's worth: {parked} entries"
    );

    // Another address still gets the login page.
    let other = get_from(&url, NEIGHBOUR, None).await;
    assert_eq!(other.status().as_u16(), 303);
    let location = other.headers()["location"].to_str().expect("ascii");
    assert!(location.starts_with("/login?t="), "{location}");

    // A browser with a session behind the flooding address is not charged: it
    // parks nothing and gets its code.
    let cookie = session_cookie(&op).await;
    let signed_in = get_from(&url, FLOODER, Some(&cookie)).await;
    assert_eq!(signed_in.status().as_u16(), 302);
    let location = signed_in.headers()["location"].to_str().expect("ascii");
    assert!(
        location.starts_with(TRUSTED_CB) && location.contains("code="),
        "{location}"
    );
}

#[actix_web::test]
async fn flood_of_logout_requests_without_a_session_gets_429() {
    let op = Op::new().await;
    let base = serve(&op);
    let url = format!("{base}/oidc/logout");
    for _ in 0..per_ip() {
        assert_eq!(get_from(&url, FLOODER, None).await.status().as_u16(), 303);
    }
    let refused = get_from(&url, FLOODER, None).await;
    assert_eq!(refused.status().as_u16(), 429);
    assert!(refused.headers().get("retry-after").is_some());
    assert!(
        refused
            .text()
            .await
            .expect("body")
            .contains("Too many sign-outs started from your network")
    );
    assert_eq!(get_from(&url, NEIGHBOUR, None).await.status().as_u16(), 303);
}

#[actix_web::test]
async fn flood_of_upstream_starts_from_one_ip_gets_429_and_others_still_sign_in() {
    let upstream = UpstreamOp::start().await;
    let usher = Usher::start(vec![Up::new("corp", &upstream)]).await;
    let url = format!("{}/federation/corp/oidc/start", usher.base);
    for i in 0..per_ip() {
        let r = get_from(&url, FLOODER, None).await;
        assert_eq!(r.status().as_u16(), 303, "start {i} goes to the upstream");
    }
    assert_too_many(get_from(&url, FLOODER, None).await).await;

    // A browser elsewhere (the peer itself, 127.0.0.1) signs in all the way.
    let mut browser = Browser::new();
    let page = browser.sign_in(&usher, "corp").await;
    assert!(signed_in(&page, &browser), "{page:?}");
}

/// Issue 10, defect 4 (a session is no exemption): `prompt=login` sends a
/// browser with an SSO session to the login page, which parks the request and a
/// login ticket for 15 minutes as for a browser without one. Any account holder
/// could loop it; it is charged like any parked sign-in.
#[actix_web::test]
async fn flood_of_prompt_login_requests_with_a_session_is_charged() {
    let op = Op::new().await;
    let base = serve(&op);
    let cookie = session_cookie(&op).await;
    let url = format!(
        "{base}{}",
        authorize_uri(TRUSTED, TRUSTED_CB, &[("prompt", "login")])
    );
    for i in 0..per_ip() {
        let r = get_from(&url, FLOODER, Some(&cookie)).await;
        assert_eq!(r.status().as_u16(), 303, "request {i} parks a login");
    }
    let parked = op.ephemeral.len();
    assert_too_many(get_from(&url, FLOODER, Some(&cookie)).await).await;
    assert_eq!(
        op.ephemeral.len(),
        parked,
        "a refused request parks nothing"
    );
    // max_age=0 parks the same, and is refused the same.
    let max_age = format!(
        "{base}{}",
        authorize_uri(TRUSTED, TRUSTED_CB, &[("max_age", "0")])
    );
    assert_too_many(get_from(&max_age, FLOODER, Some(&cookie)).await).await;
    // A silent sign-in with the session parks no request and is still answered.
    let silent = format!("{base}{}", authorize_uri(TRUSTED, TRUSTED_CB, &[]));
    let answered = get_from(&silent, FLOODER, Some(&cookie)).await;
    assert_eq!(answered.status().as_u16(), 302);
}

/// Issue 10, defect 4 (a session is no exemption): every `/oidc/logout` parks a
/// logout request, with a session too.
#[actix_web::test]
async fn flood_of_logout_requests_with_a_session_is_charged() {
    let op = Op::new().await;
    let base = serve(&op);
    let cookie = session_cookie(&op).await;
    let url = format!("{base}/oidc/logout");
    for _ in 0..per_ip() {
        let r = get_from(&url, FLOODER, Some(&cookie)).await;
        assert_eq!(r.status().as_u16(), 303);
    }
    let refused = get_from(&url, FLOODER, Some(&cookie)).await;
    assert_eq!(refused.status().as_u16(), 429);
}

/// A client sends `X-Forwarded-For: \xff`; the trusted proxy appends the
/// address it saw (nginx's `$proxy_add_x_forwarded_for`), giving
/// `\xff, 198.51.100.7`. Read as text, the whole header was dropped and every
/// such client counted as the proxy: one flood spent everyone's budget. Read
/// as bytes, each client is counted as the address the proxy saw.
#[actix_web::test]
async fn non_ascii_byte_in_forwarded_for_does_not_make_every_client_the_proxy() {
    let op = Op::new().await;
    let base = serve(&op);
    let url = format!("{base}{}", authorize_uri(TRUSTED, TRUSTED_CB, &[]));
    let flooder = [b"\xff, ".as_slice(), FLOODER.as_bytes()].concat();
    for i in 0..per_ip() {
        let r = get_with_forwarded_bytes(&url, &flooder).await;
        assert_eq!(r.status().as_u16(), 303, "request {i} parks a login");
    }
    assert_too_many(get_with_forwarded_bytes(&url, &flooder).await).await;
    // Counted as 198.51.100.7: the same address without the garbled entry is
    // refused too, and a neighbour behind the same proxy is not.
    assert_too_many(get_from(&url, FLOODER, None).await).await;
    let neighbour = [b"\xff, ".as_slice(), NEIGHBOUR.as_bytes()].concat();
    assert_eq!(
        get_with_forwarded_bytes(&url, &neighbour)
            .await
            .status()
            .as_u16(),
        303
    );
}

/// Issue 10, defect 4 (IPv6 granularity): a holder of a /48 has 65 536 /64s,
/// each with a budget of its own. The /48 is charged as well, so rotating /64s
/// within it stops at the /48's limit while another /48 carries on.
#[actix_web::test]
async fn flood_from_rotating_ipv6_64s_of_one_48_gets_429() {
    let op = Op::new().await;
    let base = serve(&op);
    let url = format!("{base}{}", authorize_uri(TRUSTED, TRUSTED_CB, &[]));
    let per_48 = BudgetPolicy::default().per_ipv6_48 as usize;
    // One client for the loop: building one per request would dominate the run.
    let client = http();
    for i in 0..per_48 {
        let ip = format!("2001:db8:1:{i:x}::1");
        let r = client
            .get(&url)
            .header("x-forwarded-for", ip)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status().as_u16(), 303, "request {i} parks a login");
    }
    assert_too_many(get_from(&url, "2001:db8:1:ffff::1", None).await).await;
    let other = get_from(&url, "2001:db8:2::1", None).await;
    assert_eq!(other.status().as_u16(), 303);
}
