//! usher-scim integration tests: the real routes over real storage (SQLite), driven
//! in process, and over a socket (`wire`) where a panic must show as a dropped
//! connection. The compliance run against `usher serve` is in the binary's tests.

mod compat;
mod fixture;
mod hostile;
mod lifecycle;
mod non_ascii;
mod wire;
