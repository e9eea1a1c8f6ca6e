//! Request helpers shared by the authorize and logout tests (module owned by the
//! authorize side; the token side's helpers are in `token_env`).

use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::ServiceResponse;
use actix_web::http::header;
use actix_web::{App, test};
use usher_core::SESSION_COOKIE;

use crate::fixture::Op;

/// Sends `req` to the OP's routes over `op` (a fresh service per request: cheap,
/// and it keeps the helpers free of actix's service types).
pub async fn send(op: &Op, req: test::TestRequest) -> Reply {
    let app = test::init_service(
        App::new()
            .app_data(op.data.clone())
            .configure(usher_oidc::configure),
    )
    .await;
    reply(test::call_service(&app, req.to_request()).await).await
}

/// What came back, reduced to what the tests look at.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub location: Option<String>,
    pub csp: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

impl Reply {
    /// The query parameters of the Location header.
    pub fn location_params(&self) -> Vec<(String, String)> {
        let location = self.location.as_deref().expect("a Location header");
        let query = location.split_once('?').map(|(_, q)| q).unwrap_or("");
        actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
            .expect("query parses")
            .into_inner()
    }

    /// One query parameter of the Location header (`None` without a Location).
    pub fn param(&self, name: &str) -> Option<String> {
        self.location.as_ref()?;
        self.location_params()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Asserts this is the OP's error page: 4xx, HTML, locked down, and no
    /// redirect anywhere.
    #[track_caller]
    pub fn assert_error_page(&self) {
        assert!(
            (400..500).contains(&self.status),
            "expected an error page, got {} {:?}",
            self.status,
            self.location
        );
        assert_eq!(self.location, None, "an error page never redirects");
        let csp = self.csp.as_deref().expect("a CSP header");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(
            self.content_type
                .as_deref()
                .is_some_and(|c| c.starts_with("text/html")),
            "{:?}",
            self.content_type
        );
        assert!(self.body.contains("try again"), "{}", self.body);
    }

    /// Asserts a redirect to `base` carrying `error` and `iss`.
    #[track_caller]
    pub fn assert_redirect_error(&self, base: &str, error: &str) -> &Self {
        assert_eq!(self.status, 302, "{self:?}");
        let location = self.location.as_deref().expect("a Location header");
        assert!(location.starts_with(base), "{location} is not under {base}");
        assert_eq!(self.param("error").as_deref(), Some(error), "{location}");
        assert_eq!(self.param("iss").as_deref(), Some(crate::fixture::ISSUER));
        self
    }

    /// Asserts a redirect to the login page; returns its ticket.
    #[track_caller]
    pub fn assert_login(&self) -> String {
        assert_eq!(self.status, 303, "{self:?}");
        let location = self.location.as_deref().expect("a Location header");
        assert!(location.starts_with("/login?t="), "{location}");
        self.param("t").expect("a ticket")
    }
}

async fn reply(resp: ServiceResponse<impl MessageBody>) -> Reply {
    let h = |name| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let status = resp.status().as_u16();
    let location = h(header::LOCATION);
    let csp = h(header::CONTENT_SECURITY_POLICY);
    let content_type = h(header::CONTENT_TYPE);
    let body = test::read_body(resp).await;
    Reply {
        status,
        location,
        csp,
        content_type,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// GET `uri`, with the session cookie when given.
pub async fn get(op: &Op, uri: &str, cookie: Option<&str>) -> Reply {
    let mut req = test::TestRequest::get().uri(uri);
    if let Some(c) = cookie {
        req = req.cookie(Cookie::new(SESSION_COOKIE, c.to_owned()));
    }
    send(op, req).await
}

/// POST a form to `uri`.
pub async fn post_form(op: &Op, uri: &str, body: &str, cookie: Option<&str>) -> Reply {
    let mut req = test::TestRequest::post()
        .uri(uri)
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(body.to_owned());
    if let Some(c) = cookie {
        req = req.cookie(Cookie::new(SESSION_COOKIE, c.to_owned()));
    }
    send(op, req).await
}

/// Percent-encodes a query value.
pub fn enc(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query string from pairs.
pub fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A valid S256 challenge: BASE64URL(SHA256(VERIFIER)).
pub const CHALLENGE: &str = "TFRX85ax4Rr4CpkZntoYUE5oKK6VSBT_8NNIx8GCh9k";
/// Its verifier.
pub const VERIFIER: &str = "usher-test-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";

/// `/oidc/authorize?...` for `client` and `redirect_uri`: response_type=code,
/// scope=openid, state, nonce and a PKCE challenge, with `extra` replacing or
/// adding pairs (an empty value removes the pair).
pub fn authorize_uri(client: &str, redirect_uri: &str, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("client_id", client),
        ("redirect_uri", redirect_uri),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        pairs.retain(|(n, _)| n != k);
        pairs.push((k, v));
    }
    pairs.retain(|(_, v)| !v.is_empty());
    format!("/oidc/authorize?{}", query(&pairs))
}

/// An id_token signed with the OP's own active `alg` key, as the token endpoint
/// would issue it, for `sub`, `aud` and `sid`, expiring `exp_in` seconds from now
/// (negative: already expired).
pub async fn mint_id_token(
    op: &Op,
    sub: &str,
    aud: &str,
    sid: &str,
    exp_in: i64,
    alg: usher_core::ports::KeyAlgorithm,
) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = serde_json::json!({
        "iss": crate::fixture::ISSUER,
        "sub": sub,
        "aud": aud,
        "iat": now - 3600,
        "exp": now + exp_in,
        "auth_time": now - 3600,
        "sid": sid,
    });
    let key = op.state.keys.active(&op.state, alg).await.expect("a key");
    usher_oidc::jose::sign(&key, usher_oidc::jose::TYP_ID_TOKEN, &claims).expect("signed")
}

/// An id_token from the real token endpoint: authorize with `cookie` at the
/// first-party confidential client, then redeem the code.
pub async fn id_token_from_token_endpoint(op: &Op, cookie: &str) -> String {
    use base64::Engine;
    let reply = get(
        op,
        &authorize_uri(crate::fixture::TRUSTED, crate::fixture::TRUSTED_CB, &[]),
        Some(cookie),
    )
    .await;
    let code = reply.param("code").expect("a code");
    let basic = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        crate::fixture::TRUSTED,
        crate::fixture::SECRET
    ));
    let body = query(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", crate::fixture::TRUSTED_CB),
        ("code_verifier", VERIFIER),
    ]);
    let req = test::TestRequest::post()
        .uri("/oidc/token")
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .insert_header((header::AUTHORIZATION, format!("Basic {basic}")))
        .set_payload(body);
    let reply = send(op, req).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let json: serde_json::Value = serde_json::from_str(&reply.body).expect("JSON");
    json["id_token"].as_str().expect("an id_token").to_owned()
}
