//! The connection pool: connecting, migrating, health.

use std::sync::Arc;
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use usher_core::ports::{Clock, SystemClock};
use usher_core::{Error, Result};

use super::errors::db_err;
use super::{MasterKey, SqlKeyStore, SqlStore};

/// How long connecting (or waiting for a pooled connection) may take before the
/// database is reported unavailable: long enough for a TLS handshake across a
/// region, short enough that `usher serve` with a wrong URL fails fast.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long SQLite waits on a lock held by another connection before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const POSTGRES_MAX_CONNECTIONS: u32 = 10;
/// SQLite serializes writers anyway; a few connections let reads proceed in WAL mode.
const SQLITE_MAX_CONNECTIONS: u32 = 4;
/// Advisory lock key serializing migrations across instances ("usher" in ASCII).
const MIGRATION_LOCK: i64 = 0x0075_7368_6572;

/// A pool of connections to the SQL database (SQLite or PostgreSQL). Cheap to clone:
/// clones share the pool.
#[derive(Debug, Clone)]
pub struct Database {
    conn: DatabaseConnection,
    /// The URL without its password, for messages.
    url: Arc<str>,
}

/// Connections in the pool, for metrics and readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Open connections (idle or in use).
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
}

impl Database {
    /// Connects to `sqlite://path?mode=rwc` (creates the file) or `postgres://...`.
    ///
    /// SQLite runs in WAL mode with foreign keys on and a busy timeout. An unreachable
    /// database fails within a few seconds with [`Error::Unavailable`], naming the URL
    /// without its password.
    pub async fn connect(url: &str) -> Result<Self> {
        let (shown, password) = redact(url);
        let is_sqlite = url.starts_with("sqlite:");
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let mut options = ConnectOptions::new(url);
        options
            .connect_timeout(CONNECT_TIMEOUT)
            .acquire_timeout(CONNECT_TIMEOUT)
            // Statements would be logged with their bound values (password hashes,
            // attributes); tracing spans at our level say enough.
            .sqlx_logging(false)
            .max_connections(match (is_sqlite, in_memory) {
                // Every connection to `:memory:` is a separate, empty database.
                (true, true) => 1,
                (true, false) => SQLITE_MAX_CONNECTIONS,
                (false, _) => POSTGRES_MAX_CONNECTIONS,
            })
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    // Off by default in SQLite; our cascades depend on it.
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
            });
        let conn = sea_orm::Database::connect(options).await.map_err(|e| {
            let mut message = e.to_string();
            if let Some(password) = password.as_deref().filter(|p| !p.is_empty()) {
                message = message.replace(password, "***");
            }
            Error::Unavailable(format!(
                "cannot connect to the database at {shown}: {message}"
            ))
        })?;
        if !matches!(
            conn.get_database_backend(),
            DbBackend::Sqlite | DbBackend::Postgres
        ) {
            return Err(Error::Invalid(format!(
                "unsupported database URL {shown}: use sqlite:// or postgres://"
            )));
        }
        Ok(Self {
            conn,
            url: shown.into(),
        })
    }

    /// Applies pending migrations; a no-op when the schema is current.
    ///
    /// Safe when several instances start at once: everything runs in one transaction
    /// that first takes a lock (a PostgreSQL advisory lock; on SQLite the write lock of
    /// `BEGIN IMMEDIATE`), so the second instance waits, then finds nothing to do.
    /// Both backends have transactional DDL, so a failed migration leaves no trace.
    pub async fn migrate(&self) -> Result<()> {
        let fail = |e: DbErr| {
            Error::Unavailable(format!(
                "migrating the database at {} failed: {e}",
                self.url
            ))
        };
        let txn = self
            .conn
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
            .map_err(fail)?;
        let result = async {
            if self.conn.get_database_backend() == DbBackend::Postgres {
                txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
                    .await?;
            }
            Migrator::up(&txn, None).await
        }
        .await;
        match result {
            Ok(()) => txn.commit().await.map_err(fail),
            Err(e) => {
                let _ = txn.rollback().await;
                Err(fail(e))
            }
        }
    }

    /// Checks the database answers (for readiness).
    pub async fn ping(&self) -> Result<()> {
        self.conn.ping().await.map_err(db_err)
    }

    /// Connections currently in the pool.
    pub fn pool_status(&self) -> PoolStatus {
        let (size, idle) = match self.conn.get_database_backend() {
            DbBackend::Postgres => {
                let pool = self.conn.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            _ => {
                let pool = self.conn.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
        };
        PoolStatus {
            size,
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
        }
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self.conn.get_database_backend() {
            DbBackend::Postgres => "postgres",
            _ => "sqlite",
        }
    }

    /// The URL connected to, without its password.
    pub fn display_url(&self) -> &str {
        &self.url
    }

    /// The directory, registry, outbox and audit log, on the system clock.
    pub fn store(&self) -> SqlStore {
        self.store_with_clock(Arc::new(SystemClock))
    }

    /// The same, on a given clock (tests use a `ManualClock`).
    pub fn store_with_clock(&self, clock: Arc<dyn Clock>) -> SqlStore {
        SqlStore::new(self.clone(), clock)
    }

    /// Signing keys, sealed under `master`.
    pub fn key_store(&self, master: MasterKey) -> SqlKeyStore {
        SqlKeyStore::new(self.clone(), master)
    }

    pub(crate) fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }
}

/// The URL with any password replaced by `***`, and the password itself (so it can
/// be scrubbed from driver messages that echo the URL).
fn redact(url: &str) -> (String, Option<String>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let Some((userinfo, after)) = authority
        .rfind('@')
        .and_then(|at| rest.split_at_checked(at))
    else {
        return (url.to_owned(), None);
    };
    match userinfo.split_once(':') {
        Some((user, password)) => (
            format!("{scheme}://{user}:***{after}"),
            Some(password.to_owned()),
        ),
        None => (url.to_owned(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_shown() {
        let (shown, pw) = redact("postgres://usher:s3cr%40t@db:5432/usher?sslmode=require");
        assert_eq!(shown, "postgres://usher:***@db:5432/usher?sslmode=require");
        assert_eq!(pw.as_deref(), Some("s3cr%40t"));
        assert_eq!(
            redact("sqlite://usher.db?mode=rwc").0,
            "sqlite://usher.db?mode=rwc"
        );
        assert_eq!(redact("postgres://u@h/db").0, "postgres://u@h/db");
    }
}
