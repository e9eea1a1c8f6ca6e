//! `DbErr` -> [`usher_core::Error`], at the crate boundary, so nothing above the store
//! ever sees sea-orm or sqlx.
//!
//! Uniqueness violations are detected from the database's own error (race-free, unlike
//! a SELECT before the INSERT) and told apart by constraint: PostgreSQL reports the
//! constraint's name, SQLite the columns (`UNIQUE constraint failed: users.username_normalized`).
//! Both forms are listed in [`UNIQUE_RULES`], which must follow the names in `migrations`.

use std::ops::Deref;

use sea_orm::sqlx::error::{DatabaseError, ErrorKind};
use sea_orm::{DbErr, RuntimeErr, sqlx};
use usher_core::{Error, UniqueKey};

/// (PostgreSQL constraint name, SQLite column list, what it protects).
const UNIQUE_RULES: &[(&str, &str, UniqueKey)] = &[
    (
        "ux_users_username",
        "users.username_normalized",
        UniqueKey::Username,
    ),
    (
        "ux_users_external_id",
        "users.external_id",
        UniqueKey::ExternalId,
    ),
    (
        "ux_user_emails_address",
        "user_emails.address_normalized",
        UniqueKey::Email,
    ),
    (
        "ux_groups_name",
        "groups.name_normalized",
        UniqueKey::GroupName,
    ),
    (
        "ux_groups_external_id",
        "groups.external_id",
        UniqueKey::ExternalId,
    ),
    (
        "pk_identity_links",
        "identity_links.upstream_id, identity_links.subject",
        UniqueKey::IdentityLink,
    ),
    (
        "ux_applications_name",
        "applications.name",
        UniqueKey::ApplicationName,
    ),
    (
        "ux_applications_sign_in",
        "applications.sign_in_protocol, applications.sign_in_key",
        UniqueKey::ApplicationSignIn,
    ),
    ("pk_upstreams", "upstreams.id", UniqueKey::Upstream),
    ("pk_signing_keys", "signing_keys.kid", UniqueKey::KeyId),
    (
        "pk_scim_clients",
        "scim_clients.name",
        UniqueKey::ScimClient,
    ),
    (
        "ux_scim_clients_token",
        "scim_clients.token_digest",
        UniqueKey::ScimClient,
    ),
    (
        "pk_refresh_token_families",
        "refresh_token_families.id",
        UniqueKey::RefreshFamily,
    ),
];

const SQLITE_UNIQUE_PREFIX: &str = "UNIQUE constraint failed: ";

/// Maps any database error into the core's error.
pub(crate) fn db_err(err: DbErr) -> Error {
    if let Some(db) = database_error(&err) {
        return match db.kind() {
            ErrorKind::UniqueViolation => match unique_key(db) {
                Some(key) => Error::Conflict(key),
                None => Error::Internal(format!("unexpected uniqueness violation: {db}")),
            },
            _ if is_transient(db) => Error::Unavailable(db.to_string()),
            _ => Error::Internal(format!("database error: {db}")),
        };
    }
    match &err {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => Error::Unavailable(err.to_string()),
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))
            if is_transport(e) =>
        {
            Error::Unavailable(err.to_string())
        }
        _ => Error::Internal(format!("database error: {err}")),
    }
}

/// True when the error is a uniqueness violation.
pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    database_error(err).is_some_and(|db| db.kind() == ErrorKind::UniqueViolation)
}

/// True when the error is a foreign key violation (a referenced row vanished).
pub(crate) fn is_foreign_key_violation(err: &DbErr) -> bool {
    database_error(err).is_some_and(|db| db.kind() == ErrorKind::ForeignKeyViolation)
}

fn database_error(err: &DbErr) -> Option<&dyn DatabaseError> {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e))
        | DbErr::Conn(RuntimeErr::SqlxError(e)) => match e.deref() {
            sqlx::Error::Database(db) => Some(db.as_ref()),
            _ => None,
        },
        _ => None,
    }
}

fn unique_key(db: &dyn DatabaseError) -> Option<UniqueKey> {
    if let Some(name) = db.constraint() {
        return UNIQUE_RULES
            .iter()
            .find(|(pg, _, _)| *pg == name)
            .map(|(_, _, key)| *key);
    }
    let message = db.message();
    let columns = message.strip_prefix(SQLITE_UNIQUE_PREFIX)?;
    UNIQUE_RULES
        .iter()
        .find(|(_, sqlite, _)| *sqlite == columns)
        .map(|(_, _, key)| *key)
}

/// Errors worth retrying: lock contention and server-side resource trouble.
fn is_transient(db: &dyn DatabaseError) -> bool {
    let Some(code) = db.code() else {
        return false;
    };
    // SQLite: the primary result code is the low byte; 5 SQLITE_BUSY, 6 SQLITE_LOCKED.
    if let Ok(n) = code.parse::<u32>() {
        return matches!(n & 0xff, 5 | 6);
    }
    // PostgreSQL SQLSTATE: 08 connection exception, 53 insufficient resources,
    // 57 operator intervention (shutdown), 40001 serialization, 40P01 deadlock.
    ["08", "53", "57"].iter().any(|c| code.starts_with(c)) || code == "40001" || code == "40P01"
}

fn is_transport(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_)
    )
}
