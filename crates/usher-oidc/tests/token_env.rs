//! The token-side OP for tests: real SQLite (in memory: the directory, keys,
//! consents and refresh-token families) and the memory ephemeral store, a manual
//! clock, one client per authentication method and signing algorithm, and helpers
//! to post forms and mint codes. [`Env::restart`] rebuilds the OP over the same
//! database with an empty ephemeral store, as a restart in memory mode does.

// Tests fail loudly on anything unexpected.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderMap;
use actix_web::{App, test, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use serde_json::{Value, json};
use time::OffsetDateTime;
use usher_core::ports::{Clock, Directory, EphemeralStore, KeyAlgorithm, KeyStore, ManualClock};
use usher_core::{Interactions, NewUser, SessionPolicy, Sessions, User};
use usher_oidc::grant::{self, AuthorizationCode};
use usher_oidc::{
    AuthMethod, Client, ClientSecret, GrantType, OidcDeps, OidcSettings, OidcState, TokenLifetimes,
    configure,
};
use usher_store::{Database, KeyRing, KeyRingPolicy, MasterKey, MemoryEphemeralStore, SqlStore};

pub const ISSUER: &str = "https://usher.test";
pub const TOKEN_URL: &str = "https://usher.test/oidc/token";
pub const SECRET: &str = "0123456789abcdefghijklmnopqrstuvwxyz-secret";
pub const CB: &str = "https://rp.example/cb";

/// client_secret_basic, RS256, every grant.
pub const BASIC: &str = "basic";
/// client_secret_post, RS256.
pub const POST: &str = "post";
/// private_key_jwt (RSA key), RS256.
pub const JWT: &str = "jwt";
/// private_key_jwt (P-256 key), ES256.
pub const JWT_EC: &str = "jwt-ec";
/// Public, PKCE.
pub const PUBLIC: &str = "public";
/// client_secret_basic, ES256 tokens.
pub const ES: &str = "es";
/// client_secret_basic, EdDSA tokens.
pub const ED: &str = "ed";
/// client_secret_basic, code grant only (no refresh).
pub const NO_REFRESH: &str = "no-refresh";

/// A PKCE pair: CHALLENGE = BASE64URL(SHA256(VERIFIER)).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mJ0kpRwpmSQpymdM3cE9GkJvbpWuvU";
pub const CHALLENGE: &str = "5j8qccDIG_UzlACW6SeSJJQ5Y-UWpOTGTscZzyYcP_g";

pub struct Env {
    pub state: Arc<OidcState>,
    pub data: web::Data<OnceLock<Arc<OidcState>>>,
    pub clock: Arc<ManualClock>,
    pub store: SqlStore,
    /// The ephemeral store the OP runs on now.
    pub ephemeral: Arc<MemoryEphemeralStore>,
    pub user: User,
    /// The `jwt` client's RSA private key.
    pub rsa_key: PKey<Private>,
    /// The `jwt-ec` client's P-256 private key.
    pub ec_key: PKey<Private>,
    _db: Database,
}

fn client(id: &str, auth: AuthMethod, alg: KeyAlgorithm, grants: &[GrantType]) -> Client {
    Client {
        client_id: id.into(),
        name: id.into(),
        secret: matches!(
            auth,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost
        )
        .then(|| ClientSecret::from_plain(SECRET)),
        redirect_uris: vec![CB.into()],
        post_logout_redirect_uris: Vec::new(),
        grant_types: grants.to_vec(),
        auth_method: auth,
        jwks: None,
        signing_alg: alg,
        backchannel_logout_uri: None,
        first_party: true,
        allowed_upstreams: None,
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn rsa_jwk(key: &PKey<Private>, kid: &str) -> Value {
    let rsa = key.rsa().unwrap();
    json!({"kty": "RSA", "kid": kid, "n": b64(&rsa.n().to_vec()), "e": b64(&rsa.e().to_vec())})
}

pub fn ec_jwk(key: &PKey<Private>, kid: &str) -> Value {
    let ec = key.ec_key().unwrap();
    let mut ctx = openssl::bn::BigNumContext::new().unwrap();
    let (mut x, mut y) = (
        openssl::bn::BigNum::new().unwrap(),
        openssl::bn::BigNum::new().unwrap(),
    );
    ec.public_key()
        .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
        .unwrap();
    json!({"kty": "EC", "crv": "P-256", "kid": kid,
           "x": b64(&x.to_vec_padded(32).unwrap()), "y": b64(&y.to_vec_padded(32).unwrap())})
}

impl Env {
    pub async fn new() -> Self {
        Self::with_lifetimes(TokenLifetimes::default()).await
    }

    pub async fn with_lifetimes(lifetimes: TokenLifetimes) -> Self {
        let clock = Arc::new(ManualClock::at(OffsetDateTime::now_utc()));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let db = Database::connect("sqlite::memory:").await.unwrap();
        db.migrate().await.unwrap();
        let store = db.store();
        let keys: Arc<dyn KeyStore> = Arc::new(db.key_store(MasterKey::generate()));
        KeyRing::new(keys.clone(), dyn_clock.clone(), KeyRingPolicy::default())
            .ensure_active_keys()
            .await
            .unwrap();
        let user = store
            .create_user(NewUser::named("alice").with_email("alice@example.com", true))
            .await
            .unwrap();
        let rsa_key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let ec_key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();

        use GrantType::*;
        let all = [AuthorizationCode, RefreshToken, ClientCredentials];
        let rs = KeyAlgorithm::RS256;
        let mut jwt = client(JWT, AuthMethod::PrivateKeyJwt, rs, &all);
        jwt.jwks = Some(json!({"keys": [rsa_jwk(&rsa_key, "rsa-1")]}));
        let mut jwt_ec = client(JWT_EC, AuthMethod::PrivateKeyJwt, KeyAlgorithm::ES256, &all);
        jwt_ec.jwks = Some(json!({"keys": [ec_jwk(&ec_key, "ec-1")]}));
        let clients = vec![
            client(BASIC, AuthMethod::ClientSecretBasic, rs, &all),
            client(POST, AuthMethod::ClientSecretPost, rs, &all),
            jwt,
            jwt_ec,
            client(
                PUBLIC,
                AuthMethod::None,
                rs,
                &[AuthorizationCode, RefreshToken],
            ),
            client(ES, AuthMethod::ClientSecretBasic, KeyAlgorithm::ES256, &all),
            client(ED, AuthMethod::ClientSecretBasic, KeyAlgorithm::EdDSA, &all),
            client(
                NO_REFRESH,
                AuthMethod::ClientSecretBasic,
                rs,
                &[AuthorizationCode],
            ),
        ];
        let settings = OidcSettings {
            issuer: ISSUER.into(),
            lifetimes,
            secure_cookies: true,
        };
        let clients: HashMap<_, _> = clients
            .into_iter()
            .map(|c| (c.client_id.clone(), c))
            .collect();
        let ephemeral = Arc::new(MemoryEphemeralStore::new(100_000));
        let state = op_state(
            settings,
            clients,
            &store,
            keys,
            ephemeral.clone(),
            dyn_clock,
        );
        let lock = OnceLock::new();
        let _ = lock.set(state.clone());
        Self {
            state,
            data: web::Data::new(lock),
            clock,
            store,
            ephemeral,
            user,
            rsa_key,
            ec_key,
            _db: db,
        }
    }

    /// The same OP restarted: the same database (directory, keys, consents,
    /// refresh-token families), the same clients and clock, and a new, empty
    /// memory ephemeral store holding at most `max_entries`.
    pub fn restart(&self, max_entries: usize) -> Self {
        let ephemeral = Arc::new(MemoryEphemeralStore::new(max_entries));
        let clock: Arc<dyn Clock> = self.clock.clone();
        let state = op_state(
            self.state.settings.clone(),
            self.state.clients.clone(),
            &self.store,
            self.state.deps.keys.clone(),
            ephemeral.clone(),
            clock,
        );
        let lock = OnceLock::new();
        let _ = lock.set(state.clone());
        Self {
            state,
            data: web::Data::new(lock),
            clock: self.clock.clone(),
            store: self.store.clone(),
            ephemeral,
            user: self.user.clone(),
            rsa_key: self.rsa_key.clone(),
            ec_key: self.ec_key.clone(),
            _db: self._db.clone(),
        }
    }

    /// A code record for `client_id` with scopes `openid offline_access profile email`.
    pub fn record(&self, client_id: &str) -> AuthorizationCode {
        AuthorizationCode {
            client_id: client_id.into(),
            redirect_uri: CB.into(),
            user_id: self.user.id,
            sid: "sid-1".into(),
            scopes: ["openid", "offline_access", "profile", "email"]
                .map(String::from)
                .to_vec(),
            nonce: Some("n-0S6_WzA2Mj".into()),
            code_challenge: None,
            auth_time: self.clock.now().unix_timestamp() - 5,
            amr: vec!["pwd".into()],
            acr: None,
        }
    }

    pub async fn code(&self, record: &AuthorizationCode) -> String {
        grant::issue_code(&self.state, record).await.unwrap()
    }
}

/// An OP state: durable ports on `store` (SQL), the rest on `ephemeral`.
fn op_state(
    settings: OidcSettings,
    clients: HashMap<String, Client>,
    store: &SqlStore,
    keys: Arc<dyn KeyStore>,
    ephemeral: Arc<MemoryEphemeralStore>,
    clock: Arc<dyn Clock>,
) -> Arc<OidcState> {
    let ephemeral: Arc<dyn EphemeralStore> = ephemeral;
    let durable = Arc::new(store.clone());
    let deps = OidcDeps {
        directory: durable.clone(),
        keys,
        ephemeral: ephemeral.clone(),
        refresh_tokens: durable.clone(),
        sessions: Sessions::new(
            ephemeral.clone(),
            durable.clone(),
            clock.clone(),
            SessionPolicy::default(),
        ),
        interactions: Interactions::new(ephemeral.clone(), durable.clone(), clock.clone()),
        budget: crate::fixture::budget(ephemeral, clock.clone()),
        gate: Arc::new(usher_core::AssignmentGate::new(durable.clone())),
        audit: durable,
        not_assigned_page: usher_web::not_assigned_page,
        clock,
    };
    Arc::new(OidcState::new(settings, clients, deps))
}

pub fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A response, read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Reply {
    pub fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("")
    }
    pub fn text(&self, name: &str) -> String {
        self.json[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} missing in {}", self.json))
            .to_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Env {
    /// Sends a request to a fresh app over this OP's state.
    pub async fn send(&self, req: test::TestRequest) -> Reply {
        let app =
            test::init_service(App::new().app_data(self.data.clone()).configure(configure)).await;
        let res = test::call_service(&app, req.to_request()).await;
        let status = res.status();
        let headers = res.headers().clone();
        let body = test::read_body(res).await;
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            json,
        }
    }

    /// POSTs a form, with Basic credentials when given.
    pub async fn post(&self, path: &str, auth: Option<(&str, &str)>, body: &str) -> Reply {
        let mut req = test::TestRequest::post()
            .uri(path)
            .insert_header(("content-type", "application/x-www-form-urlencoded"))
            .set_payload(body.to_owned());
        if let Some((id, secret)) = auth {
            req = req.insert_header(("authorization", basic(id, secret)));
        }
        self.send(req).await
    }

    /// Redeems `code` as `client` with Basic credentials.
    pub async fn redeem(&self, client: &str, code: &str, extra: &[(&str, &str)]) -> Reply {
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CB),
        ];
        pairs.extend_from_slice(extra);
        self.post("/oidc/token", Some((client, SECRET)), &form(&pairs))
            .await
    }

    /// Refreshes as `client` with Basic credentials.
    pub async fn refresh(&self, client: &str, token: &str, extra: &[(&str, &str)]) -> Reply {
        let mut pairs = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
        pairs.extend_from_slice(extra);
        self.post("/oidc/token", Some((client, SECRET)), &form(&pairs))
            .await
    }

    /// Introspects `token` as `client`; returns `active`.
    pub async fn active_for(&self, client: &str, token: &str) -> bool {
        let r = self
            .post(
                "/oidc/introspect",
                Some((client, SECRET)),
                &form(&[("token", token)]),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
        r.json["active"].as_bool().unwrap()
    }

    /// Introspects `token` as the `basic` client.
    pub async fn active(&self, token: &str) -> bool {
        self.active_for(BASIC, token).await
    }

    /// A fresh code for `basic` redeemed: the token response.
    pub async fn tokens(&self, client: &str) -> Reply {
        let code = self.code(&self.record(client)).await;
        let r = self.redeem(client, &code, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
        r
    }
}

/// The claims of a JWT, unverified.
pub fn claims(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The header of a JWT, unverified.
pub fn header(jwt: &str) -> Value {
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Signs a JWT the way a client library would: RS256 with an RSA key, ES256 with
/// a P-256 key (raw r||s), or HS256 with `hmac_secret`.
pub fn sign_jwt(header: &Value, claims: &Value, key: JwtKey<'_>) -> String {
    use openssl::hash::MessageDigest;
    use openssl::sign::Signer;
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = match key {
        JwtKey::Rsa(k) => {
            let mut s = Signer::new(MessageDigest::sha256(), k).unwrap();
            s.sign_oneshot_to_vec(input.as_bytes()).unwrap()
        }
        JwtKey::Ec(k) => {
            let mut s = Signer::new(MessageDigest::sha256(), k).unwrap();
            let der = s.sign_oneshot_to_vec(input.as_bytes()).unwrap();
            let sig = openssl::ecdsa::EcdsaSig::from_der(&der).unwrap();
            let mut raw = sig.r().to_vec_padded(32).unwrap();
            raw.extend(sig.s().to_vec_padded(32).unwrap());
            raw
        }
        JwtKey::Hmac(secret) => {
            let k = PKey::hmac(secret).unwrap();
            let mut s = Signer::new(MessageDigest::sha256(), &k).unwrap();
            s.sign_oneshot_to_vec(input.as_bytes()).unwrap()
        }
        JwtKey::None => Vec::new(),
    };
    format!("{input}.{}", b64(&sig))
}

/// The key a test JWT is signed with.
pub enum JwtKey<'a> {
    Rsa(&'a PKey<Private>),
    Ec(&'a PKey<Private>),
    Hmac(&'a [u8]),
    None,
}

/// Verifies one of usher's JWTs independently of usher's code: the JWKS document
/// is read with openssl directly.
pub fn verify_with_jwks(jwt: &str, jwks: &Value) -> bool {
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::sign::Verifier;
    let head = header(jwt);
    let kid = head["kid"].as_str().unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .expect("the kid is in the JWKS");
    let d = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    let (input, sig) = jwt.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    match head["alg"].as_str().unwrap() {
        "RS256" => {
            let rsa = Rsa::from_public_components(
                BigNum::from_slice(&d("n")).unwrap(),
                BigNum::from_slice(&d("e")).unwrap(),
            )
            .unwrap();
            let key = PKey::from_rsa(rsa).unwrap();
            let mut v = Verifier::new(MessageDigest::sha256(), &key).unwrap();
            v.verify_oneshot(&sig, input.as_bytes()).unwrap()
        }
        "ES256" => {
            assert_eq!(sig.len(), 64, "JOSE ECDSA signatures are raw r||s");
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
            let ec = EcKey::from_public_key_affine_coordinates(
                &group,
                &BigNum::from_slice(&d("x")).unwrap(),
                &BigNum::from_slice(&d("y")).unwrap(),
            )
            .unwrap();
            let key = PKey::from_ec_key(ec).unwrap();
            let der = openssl::ecdsa::EcdsaSig::from_private_components(
                BigNum::from_slice(&sig[..32]).unwrap(),
                BigNum::from_slice(&sig[32..]).unwrap(),
            )
            .unwrap()
            .to_der()
            .unwrap();
            let mut v = Verifier::new(MessageDigest::sha256(), &key).unwrap();
            v.verify_oneshot(&der, input.as_bytes()).unwrap()
        }
        "EdDSA" => {
            let key = PKey::public_key_from_raw_bytes(&d("x"), openssl::pkey::Id::ED25519).unwrap();
            let mut v = Verifier::new_without_digest(&key).unwrap();
            v.verify_oneshot(&sig, input.as_bytes()).unwrap()
        }
        other => panic!("unexpected alg {other}"),
    }
}
