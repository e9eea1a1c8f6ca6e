use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{OutboxEvent, Result};

/// The read side of the outbox. Events are written by the [`Directory`](super::Directory)
/// (and the applications' sync) inside their own transactions; the one consumer,
/// the provisioning planner, reads them in order and marks them handled. A
/// consumer that writes its own results in the store marks the events in that same
/// transaction instead (see `Jobs::enqueue`), so a crash between the two never
/// loses or doubles a plan.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Up to `limit` unprocessed events with an id greater than `after`, oldest first.
    /// Pass `after = 0` to see every unprocessed event: an event with a lower id
    /// than one already read may become visible later (see [`OutboxEvent::id`]).
    async fn unprocessed(&self, after: i64, limit: u32) -> Result<Vec<OutboxEvent>>;
    /// Marks events handled; ids already marked are ignored.
    async fn mark_processed(&self, ids: &[i64]) -> Result<()>;
    /// Deletes processed events handled before `older_than`, in short batches so
    /// writers are never held up for long; an unprocessed event is never deleted.
    /// Returns how many went.
    async fn prune_processed(&self, older_than: OffsetDateTime) -> Result<u64>;
}
