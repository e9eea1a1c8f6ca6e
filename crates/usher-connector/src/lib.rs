//! The connector API: the contract between usher's provisioning core and every
//! downstream app it creates, updates and deactivates accounts in (a SCIM 2.0 app,
//! Slack, a webhook).
//!
//! The core decides *what* an app should hold (who is assigned, with which mapped
//! attributes) and keeps the jobs, the retries and the remote mapping (usher user ->
//! [`RemoteId`], plus what was pushed last). A [`Connector`] only knows *how* to
//! talk to one kind of target. This crate is that seam, kept small and stable so a
//! connector crate depends on it and on nothing else of usher.
//!
//! # Plain records, not SCIM JSON
//!
//! Connectors receive [`UserRecord`] and [`GroupRecord`]: plain values, already
//! mapped by the app's attribute templates. They are not SCIM documents because most
//! targets are not SCIM (Slack's API, a webhook), and because a SCIM connector has
//! its own quirks to apply (PATCH or PUT, the enterprise extension, vendor
//! flavours); handing every connector SCIM JSON would make each of them parse
//! SCIM. Extra mapped attributes are a map of target attribute names to **strings**:
//! the `{claim|transform}` mapping language produces strings, strings digest
//! deterministically (the core stores a digest of what it pushed), and the
//! connector, which knows the target's types, converts (`"true"` to a boolean for a
//! SCIM attribute of that type). This keeps JSON out of the API and out of the
//! dependencies.
//!
//! # Idempotency: delivery is at least once
//!
//! The core may call any method more than once for the same change: a worker can
//! die after the target applied a request and before the core recorded it, and
//! another instance then retries the job. A connector must therefore make every
//! operation safe to repeat:
//!
//! - **Creates never duplicate.** Before creating, the core calls
//!   [`Connector::find_user`] with the app's [`MatchKeys`] and adopts what it finds.
//!   `create_user` must set the record's `external_id` on the target where the
//!   target can hold one, so that a retried create finds the first one; when the
//!   target refuses a create because the account exists, the connector returns
//!   [`ErrorKind::Conflict`] (with the existing id when the answer names it), never
//!   a second account under another name. The core answers a conflict by looking
//!   the object up and adopting it.
//! - **Updates converge.** `update_user` makes the remote account match the desired
//!   record; applying it twice leaves the same state. The last pushed record is a
//!   hint for sending only the difference (a SCIM PATCH of the changed fields); when
//!   it is `None` (an adopted account, a lost mapping) the connector sends the whole
//!   desired state.
//! - **State changes are idempotent.** Deactivating an inactive account, reactivating
//!   an active one, adding a member who is already in the group or removing one who
//!   is not: success. Deleting what is already gone is success too (the first
//!   attempt may have deleted it). Other operations on a missing object return
//!   [`ErrorKind::NotFound`]; the core then re-creates or reports, per app.
//!
//! The core orders the jobs of one object, so a connector never sees two
//! operations on the same account at the same time.
//!
//! # Errors drive retries
//!
//! Every failure is a [`ConnectorError`]: a kind that tells the job queue what to
//! do, the target's own code (SCIM `scimType`, Slack's `email_taken`), the HTTP
//! status when there was one, and a sentence for the provisioning report, naming
//! what failed in words an administrator can act on. The queue asks three
//! questions rather than matching every kind:
//! [`is_retryable`](ConnectorError::is_retryable) (try again later, with backoff),
//! [`retry_after`](ConnectorError::retry_after) (not before this; from `Retry-After`),
//! and [`scope`](ConnectorError::scope): an [`ErrorScope::Object`] error concerns
//! this user or group only, and the other jobs go on; an [`ErrorScope::Target`]
//! error (bad credentials, a rate limit, an unusable target) concerns the whole app,
//! whose jobs wait, none lost, while the app is reported as failing with the reason.
//!
//! # Capabilities
//!
//! Targets differ: some cannot hold groups, some can delete but not deactivate,
//! some take partial updates, some cannot filter. [`Connector::capabilities`] says
//! so once, and the core plans with it (it never asks for an operation the
//! connector does not support, never sends more members per call than
//! [`Capabilities::member_batch_size`], never asks for pages larger than
//! [`Capabilities::max_page_size`]). A connector whose target publishes a rate
//! limit says so in [`Capabilities::rate_limit`]; the core paces every app on that
//! target by it unless the app sets its own.
//!
//! # Registration and settings
//!
//! Each connector crate exports a [`ConnectorFactory`]: a name (`"scim"`) and a
//! validating constructor from the connector's own settings type, deserialized
//! with serde. The binary holds a [`Registry`] over the document type its
//! configuration is read into, and adding a connector is one `register` line.
//! Factories take a typed, already deserialized value rather than a JSON value so
//! this crate needs no JSON library and each connector's settings are checked by
//! serde (unknown keys, wrong types) and then by its own rules, in one place.
//!
//! Credentials in settings are [`Secret`]s: redacted in `Debug`, `Display` and
//! serialization. Sealing them at rest under the master key is the store's job,
//! not the connector's.

#![deny(missing_docs)]

mod connector;
mod error;
mod factory;
mod match_keys;
mod page;
mod records;
mod secret;

pub use connector::{Capabilities, Connector, RateLimit};
pub use error::{ConnectorError, ErrorKind, ErrorScope, Result};
pub use factory::{BuildError, ConnectorFactory, Registry, SettingsError};
pub use match_keys::{MatchKey, MatchKeys, MatchKeysError};
pub use page::{Page, PageRequest};
pub use records::{Email, GroupRecord, RemoteGroup, RemoteId, RemoteUser, UserRecord};
pub use secret::Secret;
