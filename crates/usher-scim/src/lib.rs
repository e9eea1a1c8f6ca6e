//! usher's SCIM 2.0 service provider (RFC 7643, RFC 7644): the company directory
//! (Entra ID, Okta, any SCIM client) pushes Users and Groups to `/scim/v2`, and
//! they become usher's users and groups.
//!
//! The wire format (schemas, documents, filters, PATCH, rendering, error JSON) is
//! `usher-scim-model`, shared with the SCIM connector; this crate is the server on
//! top: routes, handlers, Bulk, discovery, authentication and the operations.
//!
//! - Filters are parsed into a bounded AST (`usher_scim_model::filter`), resolved against
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
mod http;
mod query_map;
mod reply;
mod routes;
mod service;
mod state;

pub use routes::{BASE_PATH, configure};
pub use service::MAX_MEMBERS;
pub use state::{ScimData, ScimDeps, ScimSettings, ScimState};
pub use usher_scim_model::{
    ENTERPRISE, ERROR_SCHEMA, GROUP, MAX_FILTER_LEN, MAX_PATCH_OPERATIONS, SCIM_JSON, ScimError,
    ScimType, USER, USHER,
};
