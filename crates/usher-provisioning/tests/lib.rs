//! usher-provisioning's tests: the planner's decisions as pure functions, and the
//! planner and the sign-in gate against real storage (SQLite, and PostgreSQL when
//! `USHER_TEST_POSTGRES_URL` is set).

mod planner_rules;
