//! usher-connector-scim's one integration test binary: settings checks, the
//! connector against the third-party reference server `scim2-server` (PyPI,
//! installed by scripts/peers.sh into target-peers/scim-server), and against a
//! hostile target that answers garbage.

mod groups;
mod hostile;
mod settings;
mod support;
mod users;
