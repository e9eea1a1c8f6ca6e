//! Cross-instance wake-ups for the provisioning senders: PostgreSQL
//! `LISTEN`/`NOTIFY`. A `NOTIFY` sent inside the transaction that enqueues jobs is
//! delivered when (and only if) it commits, so a listener never wakes for jobs it
//! cannot see yet. SQLite is one process's file: there is nobody else to wake, and
//! the senders' bounded polling covers every case anyway.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseBackend};
use usher_core::Result;

use super::Database;
use super::errors::db_err;

/// The channel; one per database, shared by every instance.
const CHANNEL: &str = "usher_provisioning";

/// Sends the wake-up on `conn` (inside the enqueueing transaction on PostgreSQL;
/// nothing on SQLite).
pub(crate) async fn notify_in(conn: &impl ConnectionTrait) -> Result<()> {
    if conn.get_database_backend() == DatabaseBackend::Postgres {
        conn.execute_unprepared(&format!("NOTIFY {CHANNEL}"))
            .await
            .map_err(db_err)?;
    }
    Ok(())
}

impl Database {
    /// On PostgreSQL, a task that listens for the wake-ups every instance's
    /// planner sends and calls `wake` for each; it reconnects after an error
    /// (waking once, since notifications may have been missed meanwhile). `None`
    /// on SQLite.
    pub fn listen_for_jobs(
        &self,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Option<tokio::task::JoinHandle<()>> {
        if self.conn().get_database_backend() != DatabaseBackend::Postgres {
            return None;
        }
        let pool = self.conn().get_postgres_connection_pool().clone();
        Some(tokio::spawn(async move {
            loop {
                let listener = async {
                    let mut l = sea_orm::sqlx::postgres::PgListener::connect_with(&pool).await?;
                    l.listen(CHANNEL).await?;
                    loop {
                        l.recv().await?;
                        wake();
                    }
                    #[allow(unreachable_code)]
                    Ok::<(), sea_orm::sqlx::Error>(())
                };
                if let Err(e) = listener.await {
                    tracing::warn!(error = %e, "provisioning wake-ups: LISTEN lost; polling meanwhile, reconnecting");
                }
                wake();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }))
    }
}
