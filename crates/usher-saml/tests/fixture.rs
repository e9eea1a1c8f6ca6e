//! A whole IdP over real storage: SQLite in memory, the memory ephemeral store,
//! a key ring with an RS256 key and certificate, one SP and one user.

use std::io::Write;
use std::sync::{Arc, OnceLock};

use actix_web::web;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use usher_core::ports::{Clock, EphemeralStore, KeyStore, SystemClock};
use usher_core::{
    BudgetPolicy, Interactions, NewUser, PendingBudget, SessionPolicy, Sessions, User,
};
use usher_saml::{SamlDeps, SamlSettings, SamlState, ServiceProvider};
use usher_store::{Database, KeyRing, KeyRingPolicy, MasterKey, MemoryEphemeralStore};

pub const URL: &str = "http://usher.test";
pub const SP: &str = "https://sp.example/metadata";
pub const ACS: &str = "https://sp.example/acs";

/// The pending budget of test IdPs and SPs: the default policy, with loopback as a
/// trusted proxy, so a test can speak for other clients through `X-Forwarded-For`.
pub fn budget(ephemeral: Arc<dyn EphemeralStore>, clock: Arc<dyn Clock>) -> PendingBudget {
    // The budget's clock stands still at the start of the current window: running,
    // a flood that straddles a window boundary (every ten minutes of the wall
    // clock) would be counted in two windows and never see its 429.
    let now = clock.now();
    let window = i64::try_from(BudgetPolicy::default().window.as_secs()).expect("a window");
    let start = now - time::Duration::seconds(now.unix_timestamp().rem_euclid(window));
    PendingBudget::new(
        ephemeral,
        Arc::new(usher_core::ports::ManualClock::at(start)),
        BudgetPolicy::default(),
        vec!["127.0.0.0/8".parse().expect("a network")],
    )
}

pub struct Idp {
    pub state: Arc<SamlState>,
    pub data: web::Data<OnceLock<Arc<SamlState>>>,
    pub sessions: Sessions,
    pub user: User,
}

impl Idp {
    pub async fn new(sps: Vec<ServiceProvider>) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let db = Database::connect("sqlite::memory:")
            .await
            .expect("SQLite opens");
        db.migrate().await.expect("migrations run");
        let store = db.store();
        let keys: Arc<dyn KeyStore> = Arc::new(db.key_store(MasterKey::generate()));
        KeyRing::new(keys.clone(), clock.clone(), KeyRingPolicy::default())
            .ensure_active_keys()
            .await
            .expect("keys generated");
        let ephemeral: Arc<dyn EphemeralStore> = Arc::new(MemoryEphemeralStore::new(10_000));
        let sessions = Sessions::new(
            ephemeral.clone(),
            Arc::new(store.clone()),
            clock.clone(),
            SessionPolicy::default(),
        );
        let mut new_user = NewUser::named("alice").with_email("alice@example.com", true);
        new_user.display_name = Some("<b>Alice</b> & \"co\"".into());
        let user = usher_core::ports::Directory::create_user(&store, new_user)
            .await
            .expect("user created");
        let deps = SamlDeps {
            directory: Arc::new(store.clone()),
            keys,
            ephemeral: ephemeral.clone(),
            sessions: sessions.clone(),
            interactions: Interactions::new(
                ephemeral.clone(),
                Arc::new(store.clone()),
                clock.clone(),
            ),
            budget: budget(ephemeral, clock.clone()),
            gate: Arc::new(usher_core::AssignmentGate::new(Arc::new(store.clone()))),
            audit: Arc::new(store.clone()),
            not_assigned_page: usher_web::not_assigned_page,
            clock,
            logout_listeners: Vec::new(),
        };
        let settings = SamlSettings {
            public_url: URL.into(),
            want_authn_requests_signed: false,
        };
        let state = Arc::new(SamlState::new(settings, sps, deps));
        let lock = OnceLock::new();
        let _ = lock.set(state.clone());
        Self {
            state,
            data: web::Data::new(lock),
            sessions,
            user,
        }
    }
}

/// An AuthnRequest with `extra` attributes on the root.
pub fn authn_request(id: &str, issuer: &str, extra: &str) -> String {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats");
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
IssueInstant=\"{now}\"{extra}><saml:Issuer>{issuer}</saml:Issuer></samlp:AuthnRequest>"
    )
}

/// Raw DEFLATE then base64 (Redirect binding).
pub fn deflate_b64(xml: &[u8]) -> String {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(xml).expect("deflates");
    STANDARD.encode(e.finish().expect("deflates"))
}

/// `application/x-www-form-urlencoded` value encoding.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
