//! A fresh usher-web on a fresh SQLite database, with a manual clock.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use actix_web::dev::ServiceResponse;
use async_trait::async_trait;
use time::OffsetDateTime;
use usher_core::ports::{
    AuditLog, Clock, Credentials, Directory, EphemeralStore, LogoutListener, ManualClock,
};
use usher_core::{
    AuditEntry, Interactions, NewUser, Participant, SessionPolicy, Sessions, SsoSession, User,
    UserUpdate,
};
use usher_store::{Database, MemoryEphemeralStore, SqlStore};
use usher_web::{PasswordHasher, PasswordPolicy, ThrottlePolicy, WebDeps, WebSettings, WebState};

/// Cheap argon2 for tests (the default cost is checked in `password.rs`).
pub const FAST: PasswordPolicy = PasswordPolicy {
    memory_kib: 1024,
    iterations: 1,
    parallelism: 1,
    max_concurrent: 2,
};

pub const PASSWORD: &str = "correct horse battery staple";

/// A LogoutListener that records its calls: a test double of a port.
#[derive(Default)]
pub struct RecordingListener {
    pub calls: Mutex<Vec<(SsoSession, Vec<Participant>)>>,
}

#[async_trait]
impl LogoutListener for RecordingListener {
    async fn session_ended(&self, session: &SsoSession, participants: &[Participant]) {
        self.calls
            .lock()
            .expect("lock")
            .push((session.clone(), participants.to_vec()));
    }
}

pub struct Env {
    pub store: SqlStore,
    pub clock: Arc<ManualClock>,
    pub sessions: Sessions,
    pub interactions: Interactions,
    pub listener: Arc<RecordingListener>,
    pub hasher: Arc<PasswordHasher>,
    pub cell: Arc<OnceLock<Arc<WebState>>>,
    path: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.path.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

#[derive(Default)]
pub struct Options {
    pub secure_cookies: bool,
    pub throttle: ThrottlePolicy,
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Env {
    pub async fn new() -> Self {
        Self::with(Options::default()).await
    }

    pub async fn with(options: Options) -> Self {
        let path = std::env::temp_dir().join(format!(
            "usher-web-test-{}.db",
            usher_core::random::token().expect("random")
        ));
        let db = Database::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .expect("SQLite opens");
        db.migrate().await.expect("migrations run");
        let clock = Arc::new(ManualClock::at(OffsetDateTime::now_utc()));
        let dyn_clock: Arc<dyn Clock> = clock.clone();
        let store = db.store_with_clock(dyn_clock.clone());
        let ephemeral = Arc::new(MemoryEphemeralStore::with_clock(100_000, dyn_clock.clone()));
        let dyn_ephemeral: Arc<dyn EphemeralStore> = ephemeral.clone();
        let sessions = Sessions::new(
            dyn_ephemeral.clone(),
            Arc::new(store.clone()),
            dyn_clock.clone(),
            SessionPolicy::default(),
        );
        let interactions = Interactions::new(
            dyn_ephemeral.clone(),
            Arc::new(store.clone()),
            dyn_clock.clone(),
        );
        let listener = Arc::new(RecordingListener::default());
        let hasher = Arc::new(PasswordHasher::new(FAST));
        let settings = WebSettings {
            public_url: "https://id.example.test".into(),
            secure_cookies: options.secure_cookies,
            trusted_proxies: options.trusted_proxies,
            throttle: options.throttle,
        };
        let deps = WebDeps {
            directory: Arc::new(store.clone()) as Arc<dyn Directory>,
            credentials: Arc::new(store.clone()) as Arc<dyn Credentials>,
            ephemeral: dyn_ephemeral,
            sessions: sessions.clone(),
            interactions: interactions.clone(),
            logout_listeners: vec![listener.clone() as Arc<dyn LogoutListener>],
            audit: Arc::new(store.clone()) as Arc<dyn AuditLog>,
            clock: dyn_clock,
            hasher: hasher.clone(),
        };
        let cell = Arc::new(OnceLock::new());
        cell.set(Arc::new(WebState::new(settings, deps)))
            .unwrap_or_else(|_| panic!("state set once"));
        Self {
            store,
            clock,
            sessions,
            interactions,
            listener,
            hasher,
            cell,
            path,
        }
    }

    /// An active user `name` with `name@example.test` and [`PASSWORD`].
    pub async fn user(&self, name: &str) -> User {
        let user = self
            .store
            .create_user(NewUser::named(name).with_email(format!("{name}@example.test"), true))
            .await
            .expect("user created");
        let hash = self.hasher.hash(PASSWORD).await.expect("hash");
        self.store
            .set_password_hash(user.id, &hash)
            .await
            .expect("password set");
        user
    }

    pub async fn deactivate(&self, user: &User) {
        self.store
            .update_user(
                user.id,
                UserUpdate {
                    active: Some(false),
                    ..UserUpdate::default()
                },
            )
            .await
            .expect("deactivated");
    }

    pub async fn audit(&self) -> Vec<AuditEntry> {
        let now = self.clock.now();
        self.store
            .between(
                now - time::Duration::days(1),
                now + time::Duration::days(1),
                1000,
            )
            .await
            .expect("audit log reads")
    }

    pub fn advance(&self, by: Duration) {
        self.clock
            .advance(time::Duration::try_from(by).expect("duration"));
    }
}

type Call = dyn Fn(actix_web::test::TestRequest) -> Pin<Box<dyn Future<Output = ServiceResponse>>>;

/// The service under test, type-erased so helpers need not name actix's request type.
pub struct TestApp(pub Box<Call>);

/// The routes with `$cell` (an `Arc<OnceLock<Arc<WebState>>>`) registered.
#[macro_export]
macro_rules! app_with {
    ($cell:expr) => {{
        let service = std::rc::Rc::new(
            actix_web::test::init_service(
                actix_web::App::new()
                    .app_data(actix_web::web::Data::from($cell))
                    .configure(usher_web::configure),
            )
            .await,
        );
        $crate::web::env::TestApp(Box::new(move |req: actix_web::test::TestRequest| {
            let service = service.clone();
            Box::pin(async move {
                actix_web::test::call_service(&*service, req.to_request())
                    .await
                    .map_into_boxed_body()
            })
        }))
    }};
}

/// The routes with the env's state.
#[macro_export]
macro_rules! app {
    ($env:expr) => {
        $crate::app_with!($env.cell.clone())
    };
}
