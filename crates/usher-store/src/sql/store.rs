//! [`SqlStore`]: the handle the directory, registry, applications, outbox and audit
//! log hang off.

use std::sync::Arc;

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use time::OffsetDateTime;
use usher_core::Result;
use usher_core::ports::Clock;

use super::errors::db_err;
use super::timestamps;
use super::{Database, MasterKey};

/// Implements the core's `Directory`, `Registry`, `Applications`, `Outbox`,
/// `AuditLog`, `Consents`, `RefreshTokens`, `Jobs`, `RemoteObjects` and `Leases`
/// ports on SQL. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Database,
    clock: Arc<dyn Clock>,
    /// Seals applications' connector settings; without it, an application with a
    /// provisioning side can be neither stored nor read.
    master: Option<MasterKey>,
}

impl SqlStore {
    /// A store on `db` that stamps rows with `clock`'s time.
    pub fn new(db: Database, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            clock,
            master: None,
        }
    }

    /// The same store, sealing applications' connector settings (which hold the
    /// connector's tokens and passwords) under `master`, as the key store seals
    /// signing keys.
    #[must_use]
    pub fn with_master_key(mut self, master: MasterKey) -> Self {
        self.master = Some(master);
        self
    }

    pub(crate) fn master_key(&self) -> Option<&MasterKey> {
        self.master.as_ref()
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
