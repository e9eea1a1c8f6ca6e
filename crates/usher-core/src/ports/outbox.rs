use async_trait::async_trait;

use crate::{OutboxEvent, Result};

/// The read side of the outbox. Events are written by the [`Directory`](super::Directory)
/// inside its own transactions; consumers (the provisioning engine) read them in
/// order and mark them handled.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Up to `limit` unprocessed events with an id greater than `after`, oldest first.
    /// Pass `after = 0` to see every unprocessed event: an event with a lower id
    /// than one already read may become visible later (see [`OutboxEvent::id`]).
    async fn unprocessed(&self, after: i64, limit: u32) -> Result<Vec<OutboxEvent>>;
    /// Marks events handled; ids already marked are ignored.
    async fn mark_processed(&self, ids: &[i64]) -> Result<()>;
}
