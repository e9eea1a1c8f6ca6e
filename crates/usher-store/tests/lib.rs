//! usher-store's one integration test binary: the same conformance suites run on
//! every backend (SQLite and PostgreSQL; memory and Redis).

mod ephemeral;
mod keyring;
mod sessions;
mod sql;
