//! Connecting and migrating: failure modes that do not fit the per-backend suite.

use std::time::{Duration, Instant};

use usher_core::Error;
use usher_core::ports::Directory;
use usher_store::Database;

use super::harness::{clocked, on_postgres_with, on_sqlite_with, user_count};

/// A wrong or unreachable database URL must fail fast, as `Unavailable`, and the
/// message must name the URL without ever echoing its password (logs are read by
/// more people than the database credentials are meant for).
#[tokio::test]
async fn unreachable_database_fails_fast_without_leaking_the_password() {
    let started = Instant::now();
    let err = Database::connect("postgres://usher:hunter2-secret@127.0.0.1:1/usher")
        .await
        .expect_err("nothing listens on port 1");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let Error::Unavailable(message) = &err else {
        panic!("expected Unavailable, got {err:?}");
    };
    assert!(!message.contains("hunter2"), "{message}");
    assert!(
        message.contains("postgres://usher:***@127.0.0.1:1/usher"),
        "{message}"
    );

    let missing = std::env::temp_dir().join(format!("no-such-dir-{}", uuid::Uuid::new_v4()));
    let err = Database::connect(&format!("sqlite://{}/x.db", missing.display()))
        .await
        .expect_err("no such directory");
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
}

/// Several instances starting together on an empty database: each migrates, one
/// applies the schema, the others wait and find nothing to do.
async fn concurrent_first_migrations(db: Database) {
    let runs: Vec<_> = (0..3)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { db.migrate().await })
        })
        .collect();
    for run in runs {
        run.await.expect("task").expect("migrated");
    }
    let (store, _) = clocked(&db);
    store
        .create_user(usher_core::NewUser::named("after-migration"))
        .await
        .expect("schema usable");
    assert_eq!(user_count(&store).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_first_migrations() {
    on_sqlite_with(false, concurrent_first_migrations).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_first_migrations() {
    on_postgres_with(false, concurrent_first_migrations).await;
}
