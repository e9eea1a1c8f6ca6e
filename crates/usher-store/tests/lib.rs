//! usher-store's one integration test binary: the same conformance suites run on
//! every backend (SQLite and PostgreSQL; memory and Redis).

// Tests slice fixtures they built themselves: a bad index fails the test, and
// the lint is for code that reads network input.
#![allow(clippy::string_slice)]

mod ephemeral;
mod keyring;
mod sessions;
mod sql;
