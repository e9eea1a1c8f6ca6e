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
    /// One row that cannot be read fails the whole call; a consumer that must not
    /// stop at one bad row reads [`Outbox::unprocessed_rows`].
    async fn unprocessed(&self, after: i64, limit: u32) -> Result<Vec<OutboxEvent>>;
    /// As [`Outbox::unprocessed`], but a row that cannot be read comes back as
    /// [`OutboxRow::Unreadable`] with its id, instead of failing the call, so the
    /// consumer can mark it and go on (the planner does, loudly).
    async fn unprocessed_rows(&self, after: i64, limit: u32) -> Result<Vec<OutboxRow>>;
    /// Marks events handled; ids already marked are ignored.
    async fn mark_processed(&self, ids: &[i64]) -> Result<()>;
    /// Deletes processed events handled before `older_than`, in short batches so
    /// writers are never held up for long; an unprocessed event is never deleted.
    /// Returns how many went.
    async fn prune_processed(&self, older_than: OffsetDateTime) -> Result<u64>;
}

/// One unprocessed outbox row, read or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxRow {
    /// A readable event.
    Event(OutboxEvent),
    /// A row this usher cannot turn into an event.
    Unreadable(UnreadableEvent),
}

impl OutboxRow {
    /// The row's position in the outbox.
    pub fn id(&self) -> i64 {
        match self {
            OutboxRow::Event(e) => e.id,
            OutboxRow::Unreadable(u) => u.id,
        }
    }
}

/// An outbox row that cannot be read as a [`LifecycleEvent`](crate::LifecycleEvent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableEvent {
    /// Its position in the outbox.
    pub id: i64,
    /// Written by a newer usher (a payload shape this one does not know yet): a
    /// consumer leaves it for an instance that can read it, rather than dropping
    /// it during a rolling upgrade. `false`: the row is corrupt.
    pub newer: bool,
    /// Why, in words (never the payload itself: it may hold personal data).
    pub reason: String,
}
