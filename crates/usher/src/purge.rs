//! Deletes lapsed durable grants (consents, refresh-token families) and lifecycle
//! events processed longer ago than `[outbox] retention` and outbound report rows
//! older than `[report] retention` from SQL on a schedule.
//! Nothing reads them any more, so this only bounds the tables; a missed run costs
//! disk, not correctness.

use std::sync::Arc;
use std::time::Duration;

use usher_core::ports::{Clock, Consents, Outbox, RefreshTokens, RemoteObjects};

/// How often expired grants and old processed events are deleted.
pub const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Runs the purge now and then every [`PURGE_EVERY`], for as long as the server runs.
pub fn spawn(
    consents: Arc<dyn Consents>,
    refresh_tokens: Arc<dyn RefreshTokens>,
    outbox: (Arc<dyn Outbox>, Duration),
    report: (Arc<dyn RemoteObjects>, Duration),
    clock: Arc<dyn Clock>,
) {
    let (outbox, retention) = outbox;
    let (report, report_retention) = report;
    // Validated to at most ten years, which always converts.
    let retention = time::Duration::try_from(retention).unwrap_or(time::Duration::WEEK);
    let report_retention =
        time::Duration::try_from(report_retention).unwrap_or(time::Duration::days(90));
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(PURGE_EVERY);
        loop {
            tick.tick().await;
            let now = clock.now();
            match consents.purge_expired_consents(now).await {
                Ok(n) if n > 0 => tracing::info!(scopes = n, "purged expired consents"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not purge expired consents"),
            }
            match refresh_tokens.purge_expired_refresh_families(now).await {
                Ok(n) if n > 0 => {
                    tracing::info!(families = n, "purged expired refresh-token families")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not purge expired refresh-token families");
                }
            }
            match outbox.prune_processed(now - retention).await {
                Ok(n) if n > 0 => tracing::info!(events = n, "pruned processed outbox events"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not prune processed outbox events"),
            }
            match report.prune_attempts(now - report_retention).await {
                Ok(n) if n > 0 => tracing::info!(rows = n, "pruned old outbound report rows"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not prune outbound report rows"),
            }
        }
    });
}
