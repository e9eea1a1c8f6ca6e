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
