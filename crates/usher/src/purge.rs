//! Deletes lapsed durable grants (consents, refresh-token families) from SQL on a
//! schedule. Nothing reads them once expired, so this only bounds the tables;
//! a missed run costs disk, not correctness.

use std::sync::Arc;
use std::time::Duration;

use usher_core::ports::{Clock, Consents, RefreshTokens};

/// How often expired grants are deleted.
pub const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Runs the purge now and then every [`PURGE_EVERY`], for as long as the server runs.
pub fn spawn(
    consents: Arc<dyn Consents>,
    refresh_tokens: Arc<dyn RefreshTokens>,
    clock: Arc<dyn Clock>,
) {
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
        }
    });
}
