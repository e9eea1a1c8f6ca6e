//! Fresh databases for the runtime tests: a SQLite file, and a PostgreSQL
//! database when `USHER_TEST_POSTGRES_URL` is set (required with
//! `USHER_TEST_REQUIRE_SERVICES=1`), each dropped afterwards.

use usher_store::Database;

const POSTGRES_URL_VAR: &str = "USHER_TEST_POSTGRES_URL";
const REQUIRE_VAR: &str = "USHER_TEST_REQUIRE_SERVICES";

/// A migrated database, removed on drop.
pub struct Fresh {
    pub db: Database,
    cleanup: Cleanup,
}

enum Cleanup {
    File(std::path::PathBuf),
    Postgres { admin: String, name: String },
}

impl Fresh {
    pub async fn sqlite() -> Self {
        let path = std::env::temp_dir().join(format!("usher-prov-{}.db", uuid::Uuid::new_v4()));
        let db = Database::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .expect("SQLite opens");
        db.migrate().await.expect("migrations run");
        Self {
            db,
            cleanup: Cleanup::File(path),
        }
    }

    /// `None` (after saying so once) when PostgreSQL is not configured.
    pub async fn postgres() -> Option<Self> {
        let Ok(admin) = std::env::var(POSTGRES_URL_VAR) else {
            assert!(
                std::env::var(REQUIRE_VAR).as_deref() != Ok("1"),
                "{POSTGRES_URL_VAR} is unset but {REQUIRE_VAR}=1"
            );
            static SAY_ONCE: std::sync::Once = std::sync::Once::new();
            SAY_ONCE.call_once(|| {
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: provisioning runtime on PostgreSQL (set {POSTGRES_URL_VAR})"
                );
            });
            return None;
        };
        let name = format!("usher_prov_{}", uuid::Uuid::new_v4().simple());
        psql(&admin, &format!("CREATE DATABASE {name}"));
        let (base, _) = admin.rsplit_once('/').expect("a database in the URL");
        let db = Database::connect(&format!("{base}/{name}"))
            .await
            .expect("test database opens");
        db.migrate().await.expect("migrations run");
        Some(Self {
            db,
            cleanup: Cleanup::Postgres { admin, name },
        })
    }
}

/// Runs one statement with `psql` (the server's own client, on the machine with
/// PostgreSQL).
fn psql(url: &str, sql: &str) {
    let status = std::process::Command::new("psql")
        .args([url, "-q", "-c", sql])
        .status()
        .expect("psql runs");
    assert!(status.success(), "{sql}");
}

impl Drop for Fresh {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.as_os_str().to_owned();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            Cleanup::Postgres { admin, name } => {
                psql(
                    admin,
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                );
            }
        }
    }
}
