//! usher-provisioning against real storage (SQLite, and PostgreSQL when
//! `USHER_TEST_POSTGRES_URL` is set).
