//! usher's SCIM 2.0 service provider (RFC 7643, RFC 7644): the company directory
//! (Entra ID, Okta, any SCIM client) pushes Users and Groups to `/scim/v2`, and
//! they become usher's users and groups.
//!
//! - Filters are parsed into a bounded AST ([`filter`](crate)), resolved against
//!   the schema and mapped onto the core's storage-neutral query AST
//!   (`usher_core::query`), which storage runs with bound parameters: no SCIM text
//!   ever becomes SQL.
//! - PATCH edits the resource's document in memory and stores the result in one
//!   transaction (with its outbox events and audit record), conditional on the
//!   version read: the whole PATCH applies or none of it does.
//! - Each client authenticates with its own bearer token (stored as a digest) and
//!   sees and changes only the users and groups it created.
//! - Deactivating or deleting a user ends their SSO sessions and refresh tokens.
//!
//! The binary builds a [`ScimState`] and mounts [`configure`]; handlers find the
//! state as [`ScimData`] and answer 503 until it is set.

mod bulk;
mod discovery;
mod doc;
mod error;
mod filter;
mod http;
mod patch;
mod query_map;
mod render;
mod routes;
mod schema;
mod service;
mod state;

pub use error::{ERROR_SCHEMA, SCIM_JSON, ScimError, ScimType};
pub use filter::MAX_FILTER_LEN;
pub use patch::MAX_OPERATIONS as MAX_PATCH_OPERATIONS;
pub use routes::{BASE_PATH, configure};
pub use schema::{ENTERPRISE, GROUP, USER, USHER};
pub use service::MAX_MEMBERS;
pub use state::{ScimData, ScimDeps, ScimSettings, ScimState};
