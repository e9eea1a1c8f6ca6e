//! A whole OP over real storage for the integration tests: SQLite in memory for
//! the directory, keys, consents and refresh-token families, the memory ephemeral
//! store, three registered clients and one user. [`Op::restart`] rebuilds it over
//! the same database with an empty ephemeral store.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use actix_web::web;
use usher_core::ports::{Clock, Directory, EphemeralStore, KeyAlgorithm, KeyStore, SystemClock};
use usher_core::{
    BudgetPolicy, Interactions, NewUser, PendingBudget, SessionPolicy, Sessions, SsoSession, User,
};
use usher_oidc::{
    AuthMethod, Client, ClientSecret, GrantType, OidcDeps, OidcSettings, OidcState, TokenLifetimes,
};
use usher_store::{Database, KeyRing, KeyRingPolicy, MasterKey, MemoryEphemeralStore, SqlStore};

/// The issuer of test OPs.
pub const ISSUER: &str = "http://usher.test";
/// Secret of the confidential clients.
pub const SECRET: &str = "a-client-secret-of-at-least-32-characters";

/// A confidential client that needs consent, with two redirect URIs.
pub const WEB: &str = "web";
pub const WEB_CB: &str = "https://rp.example/cb";
pub const WEB_CB2: &str = "https://rp.example:8443/callback?x=1";
pub const WEB_BYE: &str = "https://rp.example/bye";
/// A public first-party client (PKCE required), one redirect URI.
pub const SPA: &str = "spa";
pub const SPA_CB: &str = "http://127.0.0.1:7777/cb";
/// A confidential first-party client, one redirect URI.
pub const TRUSTED: &str = "trusted";
pub const TRUSTED_CB: &str = "https://trusted.example/cb";
pub const TRUSTED_BYE: &str = "https://trusted.example/bye";

/// The pending budget of test OPs: the default policy, with loopback as a trusted
/// proxy, so a test can speak for other clients through `X-Forwarded-For`.
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

/// A running OP's parts.
pub struct Op {
    pub state: Arc<OidcState>,
    pub data: web::Data<OnceLock<Arc<OidcState>>>,
    pub store: SqlStore,
    pub ephemeral: Arc<MemoryEphemeralStore>,
    pub sessions: Sessions,
    pub interactions: Interactions,
    pub user: User,
}

/// A registered client with defaults.
pub fn client(id: &str, redirect_uris: &[&str], auth: AuthMethod, first_party: bool) -> Client {
    Client {
        client_id: id.into(),
        name: format!("The {id} app"),
        secret: (auth != AuthMethod::None).then(|| ClientSecret::from_plain(SECRET)),
        redirect_uris: redirect_uris.iter().map(|s| s.to_string()).collect(),
        post_logout_redirect_uris: Vec::new(),
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        auth_method: auth,
        jwks: None,
        signing_alg: KeyAlgorithm::RS256,
        backchannel_logout_uri: None,
        first_party,
        allowed_upstreams: None,
    }
}

/// The default clients.
pub fn default_clients() -> Vec<Client> {
    let mut web = client(
        WEB,
        &[WEB_CB, WEB_CB2],
        AuthMethod::ClientSecretBasic,
        false,
    );
    web.post_logout_redirect_uris = vec![WEB_BYE.into()];
    let spa = client(SPA, &[SPA_CB], AuthMethod::None, true);
    let mut trusted = client(TRUSTED, &[TRUSTED_CB], AuthMethod::ClientSecretBasic, true);
    trusted.post_logout_redirect_uris = vec![TRUSTED_BYE.into()];
    trusted.signing_alg = KeyAlgorithm::ES256;
    vec![web, spa, trusted]
}

impl Op {
    /// An OP with the default clients, issuer [`ISSUER`].
    pub async fn new() -> Self {
        Self::with(ISSUER, default_clients()).await
    }

    /// An OP with `clients`.
    pub async fn with(issuer: &str, clients: Vec<Client>) -> Self {
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
        let user = store
            .create_user(NewUser::named("alice").with_email("alice@example.com", true))
            .await
            .expect("user created");
        let settings = OidcSettings {
            issuer: issuer.into(),
            lifetimes: TokenLifetimes::default(),
            secure_cookies: false,
        };
        let clients: HashMap<String, Client> = clients
            .into_iter()
            .map(|c| (c.client_id.clone(), c))
            .collect();
        Self::assemble(settings, clients, store, keys, clock, user)
    }

    /// The same OP restarted in memory mode: the same database (directory, keys,
    /// consents, refresh-token families) and clients, a new empty ephemeral store
    /// (so every session and pending request is gone).
    pub fn restart(&self) -> Self {
        Self::assemble(
            self.state.settings.clone(),
            self.state.clients.clone(),
            self.store.clone(),
            self.state.deps.keys.clone(),
            self.state.deps.clock.clone(),
            self.user.clone(),
        )
    }

    fn assemble(
        settings: OidcSettings,
        clients: HashMap<String, Client>,
        store: SqlStore,
        keys: Arc<dyn KeyStore>,
        clock: Arc<dyn Clock>,
        user: User,
    ) -> Self {
        let ephemeral = Arc::new(MemoryEphemeralStore::new(100_000));
        let dyn_ephemeral: Arc<dyn EphemeralStore> = ephemeral.clone();
        let durable = Arc::new(store.clone());
        let sessions = Sessions::new(
            dyn_ephemeral.clone(),
            durable.clone(),
            clock.clone(),
            SessionPolicy::default(),
        );
        let interactions = Interactions::new(dyn_ephemeral.clone(), durable.clone(), clock.clone());
        let deps = OidcDeps {
            directory: durable.clone(),
            keys,
            ephemeral: dyn_ephemeral.clone(),
            refresh_tokens: durable.clone(),
            sessions: sessions.clone(),
            interactions: interactions.clone(),
            budget: budget(dyn_ephemeral, clock.clone()),
            gate: Arc::new(usher_core::AssignmentGate::new(durable.clone())),
            audit: durable.clone(),
            not_assigned_page: usher_web::not_assigned_page,
            clock,
        };
        let state = Arc::new(OidcState::new(settings, clients, deps));
        let lock = OnceLock::new();
        let _ = lock.set(state.clone());
        Self {
            state,
            data: web::Data::new(lock),
            store,
            ephemeral,
            sessions,
            interactions,
            user,
        }
    }

    /// Signs `user` in; returns the cookie value and the session.
    pub async fn sign_in(&self, user: &User) -> (String, SsoSession) {
        self.sessions
            .create(user.id, vec!["pwd".into()], None)
            .await
            .expect("session created")
    }

    /// Another active user.
    pub async fn other_user(&self, name: &str) -> User {
        self.store
            .create_user(NewUser::named(name))
            .await
            .expect("user created")
    }
}
