use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{AuditEntry, NewAuditEntry, Result};

/// The append-only audit log.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends an entry.
    async fn record(&self, entry: NewAuditEntry) -> Result<AuditEntry>;
    /// Entries in `[from, to)`, oldest first, at most `limit`.
    async fn between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<AuditEntry>>;
}
