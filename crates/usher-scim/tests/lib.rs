//! usher-scim integration tests: the real routes over real storage (SQLite), driven
//! in process. The compliance run against `usher serve` is in the binary's tests.

mod compat;
mod fixture;
mod hostile;
mod lifecycle;
