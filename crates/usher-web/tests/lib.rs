//! usher-web integration tests: the real routes, in process, on the SQLite store and
//! the in-memory ephemeral store.

// Tests slice fixtures they built themselves: a bad index fails the test, and
// the lint is for code that reads network input.
#![allow(clippy::string_slice)]

mod web {
    pub mod browser;
    pub mod consent;
    pub mod env;
    pub mod hardening;
    pub mod login;
    pub mod logout;
    pub mod password;
    pub mod throttle;
}
