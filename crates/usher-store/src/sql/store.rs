//! [`SqlStore`]: the handle the directory, registry, outbox and audit log hang off.

use std::sync::Arc;

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use time::OffsetDateTime;
use usher_core::Result;
use usher_core::ports::Clock;

use super::Database;
use super::errors::db_err;
use super::timestamps;

/// Implements the core's `Directory`, `Registry`, `Outbox`, `AuditLog`,
/// `Consents`, `RefreshTokens`, `Jobs`, `RemoteObjects` and `Leases` ports on
/// SQL. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Database,
    clock: Arc<dyn Clock>,
}

impl SqlStore {
    /// A store on `db` that stamps rows with `clock`'s time.
    pub fn new(db: Database, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    pub(crate) fn conn(&self) -> &DatabaseConnection {
        self.db.conn()
    }

    /// Now, as it will be stored.
    pub(crate) fn now(&self) -> OffsetDateTime {
        timestamps::stored(self.clock.now())
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE` on SQLite; the option is
    /// ignored on PostgreSQL).
    pub(crate) async fn begin(&self) -> Result<DatabaseTransaction> {
        self.conn()
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await
            .map_err(db_err)
    }
}

/// Commits when `result` is `Ok`, rolls back otherwise, so a failed change leaves
/// neither its rows nor its events behind.
pub(crate) async fn finish<T>(txn: DatabaseTransaction, result: Result<T>) -> Result<T> {
    match result {
        Ok(value) => {
            txn.commit().await.map_err(db_err)?;
            Ok(value)
        }
        Err(err) => {
            if let Err(rollback) = txn.rollback().await {
                // The connection is discarded by the pool; the original error matters.
                tracing::warn!(error = %rollback, "rollback failed");
            }
            Err(err)
        }
    }
}
