//! Local password hashes: set, replace, remove, and gone with their user.

use usher_core::ports::{Credentials, Directory};
use usher_core::{Error, NewUser, UserId};
use usher_store::Database;

const HASH_A: &str = "$argon2id$v=19$m=7168,t=5,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
const HASH_B: &str = "$argon2id$v=19$m=7168,t=5,p=1$b3RoZXJzYWx0$b3RoZXJoYXNo";

pub async fn password_hashes_set_replace_remove(db: Database) {
    let store = db.store();
    let user = store
        .create_user(NewUser::named("alice"))
        .await
        .expect("created");
    assert_eq!(store.password_hash(user.id).await.expect("read"), None);

    store.set_password_hash(user.id, HASH_A).await.expect("set");
    assert_eq!(
        store.password_hash(user.id).await.expect("read").as_deref(),
        Some(HASH_A)
    );
    store
        .set_password_hash(user.id, HASH_B)
        .await
        .expect("replaced");
    assert_eq!(
        store.password_hash(user.id).await.expect("read").as_deref(),
        Some(HASH_B)
    );

    assert!(store.remove_password(user.id).await.expect("removed"));
    assert!(!store.remove_password(user.id).await.expect("already gone"));
    assert_eq!(store.password_hash(user.id).await.expect("read"), None);
}

pub async fn password_hashes_refuse_plain_text_and_unknown_users(db: Database) {
    let store = db.store();
    let user = store
        .create_user(NewUser::named("bob"))
        .await
        .expect("created");
    let err = store
        .set_password_hash(user.id, "hunter2")
        .await
        .expect_err("plain text");
    assert!(matches!(err, Error::Invalid(_)), "{err}");
    let err = store
        .set_password_hash(user.id, &format!("${}", "a".repeat(600)))
        .await
        .expect_err("oversized");
    assert!(matches!(err, Error::Invalid(_)), "{err}");
    assert_eq!(
        store.password_hash(user.id).await.expect("read"),
        None,
        "nothing stored"
    );

    let err = store
        .set_password_hash(UserId::new(), HASH_A)
        .await
        .expect_err("no such user");
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

pub async fn password_hashes_go_with_their_user(db: Database) {
    let store = db.store();
    let user = store
        .create_user(NewUser::named("carol"))
        .await
        .expect("created");
    store.set_password_hash(user.id, HASH_A).await.expect("set");
    store.delete_user(user.id).await.expect("deleted");
    assert_eq!(store.password_hash(user.id).await.expect("read"), None);
}

/// Administrators' writes carry their audit record in the same transaction: a
/// write that fails leaves no record, one that changes nothing (revoking what is
/// not there) writes none.
pub async fn audited_password_and_scim_client_writes(db: Database) {
    use usher_core::ports::{AuditLog, ScimClients};
    let store = db.store();
    let user = store
        .create_user(NewUser::named("erin"))
        .await
        .expect("created");
    store
        .set_password_hash_by(user.id, HASH_A, "cli:ops")
        .await
        .expect("set");
    store
        .set_password_hash_by(user.id, "hunter2", "cli:ops")
        .await
        .expect_err("plain text");
    store
        .set_password_hash_by(UserId::new(), HASH_A, "cli:ops")
        .await
        .expect_err("no such user");
    store
        .create_scim_client_by("entra", "digest-audited", "cli:ops")
        .await
        .expect("created");
    store
        .create_scim_client_by("entra", "digest-other", "cli:ops")
        .await
        .expect_err("taken");
    assert!(
        store
            .revoke_scim_client_by("entra", "cli:ops")
            .await
            .expect("revoked")
    );
    assert!(
        !store
            .revoke_scim_client_by("entra", "cli:ops")
            .await
            .expect("gone")
    );
    // The configuration door: created once, unchanged (nothing), re-keyed once.
    for digest in ["digest-config-1", "digest-config-1", "digest-config-2"] {
        store
            .put_config_scim_client("okta", digest, "config")
            .await
            .expect("configured");
    }

    let now = time::OffsetDateTime::now_utc();
    let log: Vec<(String, String, Option<String>)> = store
        .between(
            now - time::Duration::hours(1),
            now + time::Duration::hours(1),
            100,
        )
        .await
        .expect("audit log")
        .into_iter()
        .map(|e| (e.actor, e.action, e.target))
        .collect();
    let ops = |action: &str, target: &str| {
        (
            "cli:ops".to_owned(),
            action.to_owned(),
            Some(target.to_owned()),
        )
    };
    let config = |action: &str, target: &str| {
        (
            "config".to_owned(),
            action.to_owned(),
            Some(target.to_owned()),
        )
    };
    assert_eq!(
        log,
        vec![
            ops("user.set_password", &user.id.to_string()),
            ops("scim_token.create", "entra"),
            ops("scim_token.revoke", "entra"),
            config("scim_token.create", "okta"),
            config("scim_token.rotate", "okta"),
        ]
    );
}
