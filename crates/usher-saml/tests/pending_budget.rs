//! Issue 10, defect 4: flooding the ephemeral store with parked sign-ins. For a
//! browser without a session (or with one and `ForceAuthn`), `/saml/sso` parks a replay entry, the request and a
//! login ticket, and `/federation/ID/saml/start` a pending request; one address
//! may park only its budget's worth, then gets HTTP 429 with `Retry-After` and a
//! page (never a Response at an ACS), while other addresses carry on. Loopback is
//! a trusted proxy in the fixtures, so `X-Forwarded-For` names the client.

use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use usher_core::{BudgetPolicy, SESSION_COOKIE};
use usher_saml::{configure, configure_upstreams};

use crate::fixture::*;
use crate::sso::{redirect_uri, sp};
use crate::upstream::fixture::{Sp, settings};

const FLOODER: &str = "198.51.100.7";
const NEIGHBOUR: &str = "203.0.113.9";

/// What came back.
struct Reply {
    status: StatusCode,
    location: Option<String>,
    retry_after: Option<u64>,
    body: String,
}

/// GET `uri` from the routes `configure` mounts over `data`, as a browser at `ip`
/// behind the trusted proxy, with a session cookie when given.
async fn get_from<D: 'static>(
    data: D,
    configure: fn(&mut web::ServiceConfig),
    uri: &str,
    ip: &str,
    cookie: Option<&str>,
) -> Reply {
    let app = test::init_service(App::new().app_data(data).configure(configure)).await;
    let mut req = test::TestRequest::get()
        .uri(uri)
        .peer_addr("127.0.0.1:40000".parse().expect("address"))
        .insert_header(("x-forwarded-for", ip));
    if let Some(c) = cookie {
        req = req.cookie(actix_web::cookie::Cookie::new(SESSION_COOKIE, c.to_owned()));
    }
    let resp = test::call_service(&app, req.to_request()).await;
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (status, location) = (resp.status(), header("location"));
    let retry_after = header("retry-after").and_then(|v| v.parse().ok());
    let body = String::from_utf8_lossy(&test::read_body(resp).await).into_owned();
    Reply {
        status,
        location,
        retry_after,
        body,
    }
}

async fn idp_get(idp: &Idp, uri: &str, ip: &str, cookie: Option<&str>) -> Reply {
    get_from(idp.data.clone(), configure, uri, ip, cookie).await
}

async fn sp_get(sp: &Sp, uri: &str, ip: &str) -> Reply {
    get_from(sp.data.clone(), configure_upstreams, uri, ip, None).await
}

/// A signed-in SSO session for the fixture's user; its cookie value.
async fn session_of(idp: &Idp) -> String {
    let (cookie, _) = idp
        .sessions
        .create(idp.user.id, vec!["pwd".into()], None)
        .await
        .expect("session");
    cookie
}

fn per_ip() -> usize {
    BudgetPolicy::default().per_ip as usize
}

/// The 429 page: `Retry-After` within the window, words saying how long, and no
/// redirect or form to anywhere.
#[track_caller]
fn assert_too_many(reply: &Reply, what: &str) {
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.body
    );
    let retry_after = reply.retry_after.expect("a Retry-After in seconds");
    assert!((1..=BudgetPolicy::default().window.as_secs()).contains(&retry_after));
    assert_eq!(reply.location, None);
    assert!(
        !reply.body.contains("SAMLResponse"),
        "nothing goes to an ACS"
    );
    assert!(
        reply.body.contains(&format!(
            "Too many {what} started from your network; try again in"
        )),
        "{}",
        reply.body
    );
}

#[actix_web::test]
async fn flood_of_unauthenticated_sso_requests_from_one_ip_gets_429_and_others_still_sign_in() {
    let mut allowed = sp();
    allowed.allow_idp_initiated = true;
    let idp = Idp::new(vec![allowed]).await;
    for i in 0..per_ip() {
        let uri = redirect_uri(&authn_request(&format!("_flood{i}"), SP, ""));
        let reply = idp_get(&idp, &uri, FLOODER, None).await;
        assert_eq!(
            reply.status,
            StatusCode::SEE_OTHER,
            "request {i} parks a login"
        );
    }
    let uri = redirect_uri(&authn_request("_flood_over", SP, ""));
    assert_too_many(&idp_get(&idp, &uri, FLOODER, None).await, "sign-ins");
    // IdP-initiated sign-in spends the same budget.
    let init = format!("/saml/sso/init?sp={}", urlencode(SP));
    assert_too_many(&idp_get(&idp, &init, FLOODER, None).await, "sign-ins");
    // The refused request left no replay entry: once allowed, it goes through.
    let neighbour = idp_get(&idp, &uri, NEIGHBOUR, None).await;
    assert_eq!(
        neighbour.status,
        StatusCode::SEE_OTHER,
        "{}",
        neighbour.body
    );
    assert!(
        neighbour
            .location
            .as_deref()
            .is_some_and(|l| l.starts_with("/login?t="))
    );

    // A browser with a session behind the flooding address is answered.
    let cookie = session_of(&idp).await;
    let uri = redirect_uri(&authn_request("_with_session", SP, ""));
    let answered = idp_get(&idp, &uri, FLOODER, Some(&cookie)).await;
    assert_eq!(answered.status, StatusCode::OK);
    assert!(answered.body.contains("SAMLResponse"));
}

#[actix_web::test]
async fn flood_of_unsigned_logout_requests_from_one_ip_gets_429() {
    let mut with_slo = sp();
    with_slo.slo_url = Some("https://sp.example/slo".into());
    let idp = Idp::new(vec![with_slo]).await;
    let uri = |i: usize| {
        let xml = crate::slo::logout_request(&format!("_lo{i}"), "alice", "nosession");
        format!(
            "/saml/slo?SAMLRequest={}",
            urlencode(&deflate_b64(xml.as_bytes()))
        )
    };
    for i in 0..per_ip() {
        let reply = idp_get(&idp, &uri(i), FLOODER, None).await;
        assert_ne!(reply.status, StatusCode::TOO_MANY_REQUESTS, "{i}");
    }
    assert_too_many(
        &idp_get(&idp, &uri(per_ip()), FLOODER, None).await,
        "sign-outs",
    );
    let neighbour = idp_get(&idp, &uri(per_ip()), NEIGHBOUR, None).await;
    assert_ne!(neighbour.status, StatusCode::TOO_MANY_REQUESTS);
}

#[actix_web::test]
async fn flood_of_upstream_saml_starts_from_one_ip_gets_429_and_others_still_start() {
    let sp = Sp::new(settings()).await;
    let start = "/federation/corp/saml/start";
    for i in 0..per_ip() {
        let reply = sp_get(&sp, start, FLOODER).await;
        assert_eq!(
            reply.status,
            StatusCode::SEE_OTHER,
            "start {i}: {}",
            reply.body
        );
    }
    assert_too_many(&sp_get(&sp, start, FLOODER).await, "sign-ins");
    let neighbour = sp_get(&sp, start, NEIGHBOUR).await;
    assert_eq!(
        neighbour.status,
        StatusCode::SEE_OTHER,
        "{}",
        neighbour.body
    );
}

/// Issue 10, defect 4 (a session is no exemption): `ForceAuthn="true"` sends a
/// browser with an SSO session to the login page, which parks the request and a
/// login ticket as for a browser without one. Any account holder could loop it;
/// it is charged like any parked sign-in, while the session's plain sign-ins
/// (answered at once) still go through.
#[actix_web::test]
async fn flood_of_force_authn_requests_with_a_session_is_charged() {
    let idp = Idp::new(vec![sp()]).await;
    let cookie = session_of(&idp).await;
    let force = |id: String| redirect_uri(&authn_request(&id, SP, " ForceAuthn=\"true\""));
    for i in 0..per_ip() {
        let reply = idp_get(&idp, &force(format!("_force{i}")), FLOODER, Some(&cookie)).await;
        assert_eq!(
            reply.status,
            StatusCode::SEE_OTHER,
            "request {i} parks a login"
        );
    }
    let over = force("_force_over".into());
    assert_too_many(
        &idp_get(&idp, &over, FLOODER, Some(&cookie)).await,
        "sign-ins",
    );
    let plain = redirect_uri(&authn_request("_plain", SP, ""));
    let answered = idp_get(&idp, &plain, FLOODER, Some(&cookie)).await;
    assert_eq!(answered.status, StatusCode::OK);
    assert!(answered.body.contains("SAMLResponse"));
}

/// A client sends `X-Forwarded-For: \xff`, the trusted proxy appends what it
/// saw. Read as text the whole header was dropped and the client counted as the
/// proxy, so one flood spent every client's budget; read as bytes, the client is
/// the address the proxy appended.
#[actix_web::test]
async fn non_ascii_byte_in_forwarded_for_does_not_make_every_client_the_proxy() {
    let idp = Idp::new(vec![sp()]).await;
    let app = test::init_service(App::new().app_data(idp.data.clone()).configure(configure)).await;
    let get = |id: String, ip: &str| {
        let value = [b"\xff, ".as_slice(), ip.as_bytes()].concat();
        let value = actix_web::http::header::HeaderValue::from_bytes(&value).expect("a value");
        test::TestRequest::get()
            .uri(&redirect_uri(&authn_request(&id, SP, "")))
            .peer_addr("127.0.0.1:40000".parse().expect("address"))
            .insert_header(("x-forwarded-for", value))
            .to_request()
    };
    for i in 0..per_ip() {
        let resp = test::call_service(&app, get(format!("_garbled{i}"), FLOODER)).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "request {i}");
    }
    let refused = test::call_service(&app, get("_garbled_over".into(), FLOODER)).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let neighbour = test::call_service(&app, get("_garbled_n".into(), NEIGHBOUR)).await;
    assert_eq!(neighbour.status(), StatusCode::SEE_OTHER);
}
