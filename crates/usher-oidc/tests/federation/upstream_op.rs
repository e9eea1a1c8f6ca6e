//! An upstream OpenID Provider under the test's control, served over real HTTP on
//! 127.0.0.1: discovery, JWKS, an authorization endpoint that approves at once,
//! a token endpoint that checks PKCE and the client secret, and userinfo. Every
//! hostile variant is a [`Tweaks`] knob: how the id_token is signed, which claims
//! it carries, what userinfo says, what `iss` the callback gets.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "usher-rp";
pub const CLIENT_SECRET: &str = "upstream-client-secret";

/// How the id_token is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// RS256 with the published key.
    Good,
    /// RS256 with another key under the published `kid`.
    ForeignKey,
    /// `alg: none`, empty signature.
    None,
    /// HS256 keyed with the published public key's PEM (key confusion).
    HmacWithPublicKey,
    /// RS256 with a key published only after a refetch, under a new `kid`.
    RotatedKey,
    /// RS256 with an unpublished key under a `kid` no JWKS has.
    UnknownKid,
}

/// What the next sign-in gets.
#[derive(Debug, Clone)]
pub struct Tweaks {
    pub signing: Signing,
    /// Merged into the id_token claims (`null` removes a claim).
    pub claims: Map<String, Value>,
    /// The claims of the user, in id_token and userinfo.
    pub profile: Map<String, Value>,
    /// userinfo's `sub`, when not the id_token's.
    pub userinfo_sub: Option<String>,
    /// The callback's `iss` (RFC 9207); `None`: the issuer.
    pub callback_iss: Option<String>,
}

impl Default for Tweaks {
    fn default() -> Self {
        Self {
            signing: Signing::Good,
            claims: Map::new(),
            profile: profile("alice-sub", "Alice", "alice@example.com", true, &["eng"]),
            userinfo_sub: None,
            callback_iss: None,
        }
    }
}

/// A profile for [`Tweaks::profile`].
pub fn profile(
    sub: &str,
    username: &str,
    email: &str,
    verified: bool,
    groups: &[&str],
) -> Map<String, Value> {
    json!({
        "sub": sub,
        "preferred_username": username,
        "email": email,
        "email_verified": verified,
        "name": format!("{username} Example"),
        "groups": groups,
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

struct Inner {
    issuer: String,
    /// When set, the token endpoint wants `private_key_jwt` signed by this key.
    client_key: Option<PKey<openssl::pkey::Public>>,
    key: PKey<Private>,
    foreign: PKey<Private>,
    rotated: PKey<Private>,
    rotated_published: bool,
    tweaks: Tweaks,
    codes: HashMap<String, (String, String)>,
}

/// A running upstream OP.
#[derive(Clone)]
pub struct UpstreamOp {
    pub issuer: String,
    inner: Arc<Mutex<Inner>>,
    pub jwks_fetches: Arc<AtomicUsize>,
    pub token_requests: Arc<AtomicUsize>,
}

fn rsa() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("pkey")
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn jwk(key: &PKey<Private>, kid: &str) -> Value {
    let rsa = key.rsa().expect("rsa");
    json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
           "n": b64(&rsa.n().to_vec()), "e": b64(&rsa.e().to_vec())})
}

fn rs256(key: &PKey<Private>, input: &str) -> Vec<u8> {
    let mut signer = Signer::new(MessageDigest::sha256(), key).expect("signer");
    signer.sign_oneshot_to_vec(input.as_bytes()).expect("signs")
}

impl UpstreamOp {
    /// Starts an OP on a free port.
    pub async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let op = UpstreamOp {
            issuer: issuer.clone(),
            inner: Arc::new(Mutex::new(Inner {
                issuer,
                client_key: None,
                key: rsa(),
                foreign: rsa(),
                rotated: rsa(),
                rotated_published: false,
                tweaks: Tweaks::default(),
                codes: HashMap::new(),
            })),
            jwks_fetches: Arc::default(),
            token_requests: Arc::default(),
        };
        let data = web::Data::new(op.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(discovery),
                )
                .route("/jwks", web::get().to(jwks))
                .route("/authorize", web::get().to(authorize))
                .route("/token", web::post().to(token))
                .route("/userinfo", web::get().to(userinfo))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listens")
        .run();
        tokio::spawn(server);
        op
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes what the next sign-ins get.
    pub fn tweak(&self, f: impl FnOnce(&mut Tweaks)) {
        f(&mut self.lock().tweaks);
    }

    /// Requires `private_key_jwt` with this key at the token endpoint.
    pub fn expect_private_key_jwt(&self, key: PKey<openssl::pkey::Public>) {
        self.lock().client_key = Some(key);
    }

    /// Publishes the rotated key (as an OP does when it rotates).
    pub fn publish_rotated_key(&self) {
        self.lock().rotated_published = true;
    }
}

async fn discovery(op: web::Data<UpstreamOp>) -> HttpResponse {
    let i = &op.issuer;
    HttpResponse::Ok().json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"),
        "userinfo_endpoint": format!("{i}/userinfo"),
        "end_session_endpoint": format!("{i}/logout"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "authorization_response_iss_parameter_supported": true,
    }))
}

async fn jwks(op: web::Data<UpstreamOp>) -> HttpResponse {
    op.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let inner = op.lock();
    let mut keys = vec![jwk(&inner.key, "k1")];
    if inner.rotated_published {
        keys.push(jwk(&inner.rotated, "k2"));
    }
    HttpResponse::Ok().json(json!({ "keys": keys }))
}

fn query(req: &HttpRequest) -> HashMap<String, String> {
    openidconnect::url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

/// Approves at once: code, state and `iss` back to the redirect URI.
async fn authorize(op: web::Data<UpstreamOp>, req: HttpRequest) -> HttpResponse {
    let q = query(&req);
    let (Some(redirect), Some(state)) = (q.get("redirect_uri"), q.get("state")) else {
        return HttpResponse::BadRequest().body("redirect_uri and state required");
    };
    assert_eq!(
        q.get("code_challenge_method").map(String::as_str),
        Some("S256"),
        "PKCE S256"
    );
    assert_eq!(q.get("client_id").map(String::as_str), Some(CLIENT_ID));
    let code = uuid::Uuid::new_v4().simple().to_string();
    let mut inner = op.lock();
    inner.codes.insert(
        code.clone(),
        (
            q.get("nonce").cloned().unwrap_or_default(),
            q.get("code_challenge").cloned().unwrap_or_default(),
        ),
    );
    let iss = inner
        .tweaks
        .callback_iss
        .clone()
        .unwrap_or_else(|| inner.issuer.clone());
    let location = format!(
        "{redirect}?code={code}&state={}&iss={}",
        openidconnect::url::form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>(),
        openidconnect::url::form_urlencoded::byte_serialize(iss.as_bytes()).collect::<String>(),
    );
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .finish()
}

async fn token(op: web::Data<UpstreamOp>, req: HttpRequest, body: String) -> HttpResponse {
    op.token_requests.fetch_add(1, Ordering::SeqCst);
    let form: HashMap<String, String> = openidconnect::url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let mut inner = op.lock();
    let authenticated = match &inner.client_key {
        None => {
            let expected = format!(
                "Basic {}",
                STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
            );
            req.headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                == Some(expected.as_str())
        }
        // RFC 7523 §3: a JWT by the client, for this token endpoint, signed.
        Some(key) => {
            let token_endpoint = format!("{}/token", inner.issuer);
            form.get("client_assertion_type").map(String::as_str)
                == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                && form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
                && form
                    .get("client_assertion")
                    .is_some_and(|jwt| assertion_ok(jwt, key, &token_endpoint))
        }
    };
    if !authenticated {
        return HttpResponse::Unauthorized().json(json!({"error": "invalid_client"}));
    }
    let Some((nonce, challenge)) = form.get("code").and_then(|c| inner.codes.remove(c)) else {
        return HttpResponse::BadRequest().json(json!({"error": "invalid_grant"}));
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if b64(&Sha256::digest(verifier.as_bytes())) != challenge {
        return HttpResponse::BadRequest()
            .json(json!({"error": "invalid_grant", "error_description": "PKCE"}));
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut claims = inner.tweaks.profile.clone();
    for (k, v) in [
        ("iss", json!(inner.issuer)),
        ("aud", json!(CLIENT_ID)),
        ("iat", json!(now)),
        ("exp", json!(now + 300)),
        ("nonce", json!(nonce)),
        ("amr", json!(["pwd"])),
        ("sid", json!("upstream-session-1")),
    ] {
        claims.insert(k.into(), v);
    }
    for (k, v) in &inner.tweaks.claims {
        if v.is_null() {
            claims.remove(k);
        } else {
            claims.insert(k.clone(), v.clone());
        }
    }
    let payload = b64(Value::Object(claims).to_string().as_bytes());
    let id_token = match inner.tweaks.signing {
        Signing::Good | Signing::ForeignKey | Signing::RotatedKey | Signing::UnknownKid => {
            let (key, kid) = match inner.tweaks.signing {
                Signing::Good => (&inner.key, "k1"),
                Signing::ForeignKey => (&inner.foreign, "k1"),
                Signing::UnknownKid => (&inner.foreign, "k9"),
                _ => (&inner.rotated, "k2"),
            };
            let input = format!(
                "{}.{payload}",
                b64(json!({"alg": "RS256", "kid": kid, "typ": "JWT"})
                    .to_string()
                    .as_bytes())
            );
            format!("{input}.{}", b64(&rs256(key, &input)))
        }
        Signing::None => {
            format!("{}.{payload}.", b64(br#"{"alg":"none","typ":"JWT"}"#))
        }
        Signing::HmacWithPublicKey => {
            let input = format!(
                "{}.{payload}",
                b64(br#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#)
            );
            let pem = inner.key.public_key_to_pem().expect("pem");
            let mac = PKey::hmac(&pem).expect("hmac key");
            let mut signer = Signer::new(MessageDigest::sha256(), &mac).expect("signer");
            format!(
                "{input}.{}",
                b64(&signer.sign_oneshot_to_vec(input.as_bytes()).expect("mac"))
            )
        }
    };
    HttpResponse::Ok().json(json!({
        "access_token": format!("at-{}", uuid::Uuid::new_v4().simple()),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
}

async fn userinfo(op: web::Data<UpstreamOp>) -> HttpResponse {
    let inner = op.lock();
    let mut info = inner.tweaks.profile.clone();
    if let Some(sub) = &inner.tweaks.userinfo_sub {
        info.insert("sub".into(), json!(sub));
    }
    info.insert("department".into(), json!("R&D"));
    HttpResponse::Ok().json(Value::Object(info))
}

fn assertion_ok(jwt: &str, key: &PKey<openssl::pkey::Public>, aud: &str) -> bool {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, payload, signature] = parts.as_slice() else {
        return false;
    };
    let Ok(sig) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    let mut verifier =
        openssl::sign::Verifier::new(MessageDigest::sha256(), key).expect("verifier");
    let signed = verifier
        .verify_oneshot(&sig, format!("{header}.{payload}").as_bytes())
        .unwrap_or(false);
    let claims: Value = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    signed
        && claims["iss"] == CLIENT_ID
        && claims["sub"] == CLIENT_ID
        && claims["aud"] == aud
        && claims["exp"].as_i64().is_some_and(|exp| exp > now)
        && claims["jti"].is_string()
}
