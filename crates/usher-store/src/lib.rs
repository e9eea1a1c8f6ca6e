//! Storage for usher: the core's ports implemented on SQL (SQLite and PostgreSQL,
//! through sea-orm), in process memory and on Redis.
//!
//! Driver errors (`DbErr`, `RedisError`) are mapped into [`usher_core::Error`] at this
//! crate's boundary; nothing above it names sea-orm or redis.

mod ephemeral;
mod keyring;
mod sql;

pub use ephemeral::{MemoryEphemeralStore, RedisEphemeralStore};
pub use keyring::{KeyRing, KeyRingPolicy, Rotation, generate_key};
pub use sql::{Database, MasterKey, PoolStatus, SqlKeyStore, SqlStore};
