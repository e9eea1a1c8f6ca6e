//! usher-web integration tests: the real routes, in process, on the SQLite store and
//! the in-memory ephemeral store.

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
