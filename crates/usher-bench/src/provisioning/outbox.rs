//! Whether usher has planned every lifecycle event yet: the outbox rows with no
//! `processed_at` (migrations/…_outbox_audit.rs), read from usher's database.
//! The seeding run waits for them before usher is restarted, so the measured
//! window holds the app's re-plan and not the leftovers of the seeding.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Statement};

/// Pending events are read this often.
const POLL: Duration = Duration::from_millis(250);

/// Waits until the outbox is empty, or until it has not shrunk for `stall`;
/// returns the events still pending.
pub async fn drain(database_url: &str, stall: Duration) -> anyhow::Result<u64> {
    let mut options = sea_orm::ConnectOptions::new(database_url);
    options.sqlx_logging(false).max_connections(1);
    let db = sea_orm::Database::connect(options).await?;
    let query = Statement::from_string(
        db.get_database_backend(),
        "SELECT COUNT(*) AS n FROM outbox_events WHERE processed_at IS NULL",
    );
    let mut last = u64::MAX;
    let mut since = Instant::now();
    loop {
        let pending: i64 = match db.query_one_raw(query.clone()).await? {
            Some(row) => row.try_get("", "n")?,
            None => 0,
        };
        let pending = pending.max(0) as u64;
        if pending == 0 {
            return Ok(0);
        }
        if pending < last {
            (last, since) = (pending, Instant::now());
        } else if since.elapsed() >= stall {
            return Ok(pending);
        }
        tokio::time::sleep(POLL).await;
    }
}
