//! The domain of usher, the identity broker: who the people are (users, groups,
//! memberships), where they come from (upstream IdPs and identity links), where they
//! go (applications), what happened to them (lifecycle events), and the ports
//! (traits) through which the rest of the broker reaches storage and time.
//!
//! This crate names no web framework, ORM or cache: front-ends and the provisioning
//! engine are written against the ports in [`ports`], and the binary picks the
//! implementations (`usher-store`).

mod app_gate;
mod application;
mod audit;
mod budget;
mod client_ip;
mod error;
mod event;
mod federation;
mod group;
mod ids;
mod interaction;
pub mod jit;
mod link;
pub mod outbound;
mod page;
pub mod ports;
pub mod query;
pub mod random;
mod secret;
mod session;
pub mod stash;
pub mod transport;
mod upstream;
mod user;

pub use app_gate::{AssignmentGate, NOT_ASSIGNED_ACTION, not_assigned_audit};
pub use application::{
    Application, ApplicationSettings, ApplicationSpec, Assignment, MAX_APP_NAME, ManagedBy, SignIn,
};
pub use audit::{AuditEntry, NewAuditEntry};
pub use budget::{BudgetPolicy, Exhausted, PendingBudget};
pub use client_ip::{FORWARDED_FOR, RequestOrigin, ip_bucket, ip_network_bucket};
pub use error::{Error, Result, UniqueKey};
pub use event::{
    GroupSnapshot, LifecycleEvent, OutboxEvent, SCHEMA_VERSION, SYSTEM_ACTOR, Subject,
    UserSnapshot, jit_actor,
};
pub use federation::{
    BrowserBinding, ExternalIdentity, FederatedLogin, UpstreamProfile, UpstreamSession,
};
pub use group::{Group, GroupChange, GroupUpdate, NewGroup};
pub use ids::{ApplicationId, GroupId, UpstreamId, UserId};
pub use interaction::{
    CONSENT_TTL, ChainEnd, ConsentDecision, ConsentRequest, FEDERATED_TTL, INTERACTION_TTL,
    Interactions, LoginRequest, LogoutChain, LogoutRequest, PendingLogout, Redemption,
};
pub use link::{IdentityLink, NewIdentityLink};
pub use page::{Page, PageRequest};
pub use secret::SecretBytes;
pub use session::{
    Participant, SESSION_COOKIE, SessionPolicy, Sessions, SsoSession, session_cookie_name,
};
pub use upstream::{Upstream, UpstreamKind};
pub use user::{Email, NewUser, User, UserUpdate, normalize_email};
