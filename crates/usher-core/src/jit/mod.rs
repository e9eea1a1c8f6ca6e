//! Just-in-time provisioning: what usher does with an identity an upstream IdP has
//! verified (an [`ExternalIdentity`](crate::ExternalIdentity)).
//!
//! * [`JitPolicy`]: the per-upstream rules (create on first login, allowed email
//!   domains and client networks, link by verified email, attribute and group
//!   mapping, `import` or `force` sync).
//! * [`Template`]: the attribute mapping language (`{preferred_username|lower}`).
//! * [`decide`]: the pure evaluation. Given the identity, the client address and
//!   what the directory already knows, it returns a [`Plan`] (create, link, sign in,
//!   with the changes to make) or a [`Denial`] that says why in words a person
//!   understands.
//! * [`Provisioner`]: the runner. It looks up the directory, calls [`decide`], and
//!   has the directory apply the plan in one transaction
//!   ([`Directory::provision`](crate::ports::Directory::provision)): user, link,
//!   group memberships (creating missing groups), the report row and the outbox
//!   events, or none of them. Denials are recorded too, without creating anything.
//! * [`ReportEntry`]: the provisioning report, one row per decision.

mod decide;
mod policy;
mod provisioner;
mod report;
mod template;

pub use decide::{Denial, Known, Plan, PlanAction, decide};
pub use policy::{ExternalIdLink, GroupMapping, JitPolicy, Mapping, SyncMode};
pub use provisioner::{Provisioned, Provisioner};
pub use report::{JitOutcome, NewReportEntry, ReportEntry, ReportQuery};
pub use template::{Template, TemplateError, Value as MappedValue};

#[cfg(test)]
mod tests;
