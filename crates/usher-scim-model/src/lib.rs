//! The SCIM 2.0 resource model (RFC 7643, RFC 7644), written once for usher's SCIM
//! server (`usher-scim`) and its SCIM connector: the schemas, the bounded filter
//! and PATCH-path parser, request bodies checked into a canonical document and the
//! conversions to and from the core's users and groups, the PATCH engine, the
//! rendering of resources (meta, ETags, projection) and the error JSON.
//!
//! Nothing here speaks HTTP or touches storage: the crate depends on no web
//! framework, ORM or cache client (checked by `crates/usher/tests/tidy.rs`).

pub mod doc;
pub mod error;
pub mod filter;
pub mod patch;
pub mod render;
pub mod schema;

pub use error::{ERROR_SCHEMA, SCIM_JSON, ScimError, ScimType};
pub use filter::MAX_FILTER_LEN;
pub use patch::MAX_OPERATIONS as MAX_PATCH_OPERATIONS;
pub use schema::{ENTERPRISE, GROUP, USER, USHER};
