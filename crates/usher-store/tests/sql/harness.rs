//! Fresh databases per test, removed afterwards even when the test fails.

use std::future::Future;
use std::path::Path;

use sea_orm::ConnectionTrait;
use usher_core::LifecycleEvent;
use usher_core::ports::{Directory, ManualClock, Outbox};
use usher_store::Database;

const POSTGRES_URL_VAR: &str = "USHER_TEST_POSTGRES_URL";
const REQUIRE_VAR: &str = "USHER_TEST_REQUIRE_SERVICES";

/// Runs `test` on a migrated SQLite database in a new temporary file.
pub async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Database) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    on_sqlite_with(true, test).await;
}

/// Runs `test` on a new SQLite database, migrated or empty.
pub async fn on_sqlite_with<F, Fut>(migrate: bool, test: F)
where
    F: FnOnce(Database) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    sqlite(migrate, |_, db| test(db)).await;
}

/// Runs `test` on a migrated SQLite database in a new temporary file, with its URL
/// (for tests that open a second pool on the same database).
pub async fn on_sqlite_at<F, Fut>(test: F)
where
    F: FnOnce(String, Database) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    sqlite(true, test).await;
}

async fn sqlite<F, Fut>(migrate: bool, test: F)
where
    F: FnOnce(String, Database) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let path = std::env::temp_dir().join(format!("usher-test-{}.db", uuid::Uuid::new_v4()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let db = Database::connect(&url).await.expect("SQLite opens");
    if migrate {
        db.migrate().await.expect("migrations run");
    }
    let outcome = tokio::spawn(test(url, db)).await;
    remove_sqlite_files(&path);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

fn remove_sqlite_files(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

/// Runs `test` on a migrated, freshly created PostgreSQL database, dropped afterwards.
pub async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(Database) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    on_postgres_with(true, test).await;
}

/// Runs `test` on a new PostgreSQL database, migrated or empty.
pub async fn on_postgres_with<F, Fut>(migrate: bool, test: F)
where
    F: FnOnce(Database) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    postgres(migrate, |_, db| test(db)).await;
}

/// Runs `test` on a migrated, fresh PostgreSQL database, with its URL (for tests
/// that open a second pool on the same database).
pub async fn on_postgres_at<F, Fut>(test: F)
where
    F: FnOnce(String, Database) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    postgres(true, test).await;
}

async fn postgres<F, Fut>(migrate: bool, test: F)
where
    F: FnOnce(String, Database) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Ok(admin_url) = std::env::var(POSTGRES_URL_VAR) else {
        if std::env::var(REQUIRE_VAR).as_deref() == Ok("1") {
            panic!(
                "{POSTGRES_URL_VAR} is unset but {REQUIRE_VAR}=1: the PostgreSQL suite must run"
            );
        }
        // Written to the process's stderr directly, once: libtest captures `eprintln!`
        // of passing tests, and a skip nobody sees is how suites rot.
        static SAY_ONCE: std::sync::Once = std::sync::Once::new();
        SAY_ONCE.call_once(|| {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: PostgreSQL suite (set {POSTGRES_URL_VAR})"
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
    let url = with_database(&admin_url, &name);
    let db = Database::connect(&url).await.expect("test database opens");
    if migrate {
        db.migrate().await.expect("migrations run");
    }
    let outcome = tokio::spawn(test(url, db)).await;
    // FORCE (PostgreSQL 13+) closes the pool's connections still open in this process.
    let dropped = admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
    dropped.expect("test database dropped");
}

/// `postgres://u@h:5432/postgres?x=y` with the database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// A store whose clock only moves when the test says so, starting at a whole second.
pub fn clocked(db: &Database) -> (usher_store::SqlStore, std::sync::Arc<ManualClock>) {
    let clock = std::sync::Arc::new(ManualClock::at(START));
    (db.store_with_clock(clock.clone()), clock)
}

/// Where [`clocked`] stores start.
pub const START: time::OffsetDateTime = time::macros::datetime!(2026-11-22 10:00:00 UTC);

/// The events written since the last call, which marks them processed.
pub async fn take_events(store: &usher_store::SqlStore) -> Vec<LifecycleEvent> {
    let events = store.unprocessed(0, 1000).await.expect("outbox reads");
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    store.mark_processed(&ids).await.expect("outbox marks");
    events.into_iter().map(|e| e.event).collect()
}

/// How many users exist.
pub async fn user_count(store: &usher_store::SqlStore) -> usize {
    store
        .list_users(usher_core::PageRequest::first(1000))
        .await
        .expect("users list")
        .items
        .len()
}

/// A second, raw connection to `db`, for tests that must look at (or tamper with)
/// what is stored beneath the ports. The test databases have no password, so the
/// display URL is the URL.
pub async fn raw(db: &Database) -> sea_orm::DatabaseConnection {
    sea_orm::Database::connect(db.display_url())
        .await
        .expect("a raw connection opens")
}

/// Runs `sql` (literal values only: test fixtures) on a raw connection.
pub async fn raw_execute(db: &Database, sql: &str) {
    raw(db)
        .await
        .execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}
