//! Fresh databases per test (as usher-store's suite makes them), and a planner
//! over real storage with a real leaver's session step.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use sea_orm::ConnectionTrait;
use usher_core::outbound::{Job, ProvisioningSettings};
use usher_core::ports::{Applications, Jobs, ManualClock};
use usher_core::{
    Application, ApplicationSettings, ApplicationSpec, Assignment, Error, Result, SessionPolicy,
    Sessions, UserId,
};
use usher_provisioning::planner::{Planner, PlannerPorts};
use usher_provisioning::{Desired, SessionEnder, SessionsEnder};
use usher_store::{Database, MasterKey, MemoryEphemeralStore, SqlStore};

const POSTGRES_URL_VAR: &str = "USHER_TEST_POSTGRES_URL";
const REQUIRE_VAR: &str = "USHER_TEST_REQUIRE_SERVICES";

/// Runs `test` on a migrated SQLite database in a new temporary file.
pub async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Database) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let path = std::env::temp_dir().join(format!("usher-prov-{}.db", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let db = Database::connect(&url).await.expect("SQLite opens");
    db.migrate().await.expect("migrations run");
    let outcome = tokio::spawn(test(db)).await;
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Runs `test` on a migrated, fresh PostgreSQL database, dropped afterwards;
/// skipped loudly without `USHER_TEST_POSTGRES_URL` (failed under
/// `USHER_TEST_REQUIRE_SERVICES=1`).
pub async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(Database) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
        if std::env::var(REQUIRE_VAR).as_deref() == Ok("1") {
            panic!(
                "{POSTGRES_URL_VAR} is unset but {REQUIRE_VAR}=1: the PostgreSQL suite must run"
            );
        }
        static SAY_ONCE: std::sync::Once = std::sync::Once::new();
        SAY_ONCE.call_once(|| {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: usher-provisioning PostgreSQL suite (set {POSTGRES_URL_VAR})"
            );
        });
        return;
    };
    let name = format!("usher_test_{}", uuid::Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(admin_url.as_str())
        .await
        .expect("the PostgreSQL server in USHER_TEST_POSTGRES_URL answers");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("test database created");
    let (base, _) = admin_url.rsplit_once('/').expect("a database in the URL");
    let db = Database::connect(&format!("{base}/{name}"))
        .await
        .expect("test database opens");
    db.migrate().await.expect("migrations run");
    let outcome = tokio::spawn(test(db)).await;
    let dropped = admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
    dropped.expect("test database dropped");
}

/// Runs `sql` (literal values only: fixtures) on a second, raw connection.
pub async fn raw_execute(db: &Database, sql: &str) {
    sea_orm::Database::connect(db.display_url())
        .await
        .expect("a raw connection opens")
        .execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Where the tests' clocks start.
pub const START: time::OffsetDateTime = time::macros::datetime!(2026-12-01 09:00:00 UTC);

/// A [`SessionEnder`] that ends sessions for real, and fails while told to (the
/// ephemeral store down, say).
pub struct Leaver {
    real: SessionsEnder,
    /// Fail every call while set.
    pub failing: AtomicBool,
}

#[async_trait]
impl SessionEnder for Leaver {
    async fn end_sessions(&self, user: UserId) -> Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(Error::Unavailable("the session store is down".into()));
        }
        self.real.end_sessions(user).await
    }
}

/// Real storage, sessions and a planner over them.
pub struct World {
    pub store: SqlStore,
    pub clock: Arc<ManualClock>,
    pub sessions: Sessions,
    pub leaver: Arc<Leaver>,
    pub planner: Planner,
}

impl World {
    pub fn new(db: &Database) -> Self {
        let clock = Arc::new(ManualClock::at(START));
        let store = db
            .store_with_clock(clock.clone())
            .with_master_key(MasterKey::generate());
        let sessions = Sessions::new(
            Arc::new(MemoryEphemeralStore::new(10_000)),
            Arc::new(store.clone()),
            clock.clone(),
            SessionPolicy::default(),
        );
        let leaver = Arc::new(Leaver {
            real: SessionsEnder::new(sessions.clone(), Vec::new()),
            failing: AtomicBool::new(false),
        });
        let s = Arc::new(store.clone());
        let planner = Planner::new(
            PlannerPorts {
                directory: s.clone(),
                applications: s.clone(),
                outbox: s.clone(),
                jobs: s.clone(),
                remotes: s.clone(),
                leases: s,
                sessions: leaver.clone(),
                clock: clock.clone(),
            },
            "test-instance",
        );
        Self {
            store,
            clock,
            sessions,
            leaver,
            planner,
        }
    }

    /// Makes the config's apps exactly `apps` (name, provisioning JSON, assignment).
    pub async fn apps(&self, apps: Vec<(&str, serde_json::Value, Assignment)>) -> Vec<Application> {
        self.apps_with(
            apps.into_iter()
                .map(|(name, provisioning, assignment)| {
                    app(name, None, Some(provisioning), assignment)
                })
                .collect(),
        )
        .await
    }

    /// Makes the config's apps exactly `apps`.
    pub async fn apps_with(&self, apps: Vec<ApplicationSettings>) -> Vec<Application> {
        let specs = apps
            .into_iter()
            .map(|a| ApplicationSpec::new(a).expect("a valid app"))
            .collect();
        self.store
            .sync_config_applications(specs)
            .await
            .expect("apps synced")
    }

    /// Plans until the outbox is empty; how many rows were handled.
    pub async fn plan(&self) -> usize {
        let mut total = 0;
        loop {
            let n = self.planner.run_once().await.expect("plans");
            if n == 0 {
                return total;
            }
            total += n;
        }
    }

    /// The jobs of `app`, with their desired states.
    pub async fn jobs(&self, app: &Application) -> Vec<(Job, Desired)> {
        self.store
            .list_jobs(app.id, 1000)
            .await
            .expect("jobs list")
            .into_iter()
            .map(|j| {
                let d = Desired::from_json(&j.desired).expect("a readable desired state");
                (j, d)
            })
            .collect()
    }
}

/// An app's settings.
pub fn app(
    name: &str,
    sign_in: Option<usher_core::SignIn>,
    provisioning: Option<serde_json::Value>,
    assignment: Assignment,
) -> ApplicationSettings {
    ApplicationSettings {
        name: name.into(),
        display_name: Some(format!("{name} (display)")),
        enabled: true,
        sign_in,
        provisioning: provisioning.map(|p| {
            serde_json::from_value::<ProvisioningSettings>(p).expect("provisioning settings")
        }),
        assignment,
    }
}

/// A push app over the SCIM connector (never reached: these tests plan only).
pub fn scim() -> serde_json::Value {
    serde_json::json!({"connector": "scim", "settings": {"base_url": "https://crm.example/scim/v2"}})
}
