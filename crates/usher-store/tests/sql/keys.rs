//! The key store: sealing, master key mismatch, retirement and purge.

use time::Duration;
use usher_core::ports::{KeyAlgorithm, KeyStatus, KeyStore, SigningKey};
use usher_core::{Error, SecretBytes, UniqueKey};
use usher_store::{Database, MasterKey};

use super::harness::START;

fn key(kid: &str, algorithm: KeyAlgorithm, created: time::OffsetDateTime) -> SigningKey {
    let mut private = vec![0u8; 64];
    openssl::rand::rand_bytes(&mut private).expect("random bytes");
    SigningKey {
        kid: kid.into(),
        algorithm,
        private_key: SecretBytes::new(private),
        public_key: format!("public-{kid}").into_bytes(),
        certificate: (algorithm == KeyAlgorithm::RS256).then(|| b"cert".to_vec()),
        created_at: created,
        retired_at: None,
        publish_until: None,
    }
}

pub async fn key_store_round_trip(db: Database) {
    let master = MasterKey::generate();
    let keys = db.key_store(master.clone());
    let rsa = key("k-rsa", KeyAlgorithm::RS256, START);
    let ec = key("k-ec", KeyAlgorithm::ES256, START + Duration::seconds(1));
    // Inserted newest first: list() must still return oldest first.
    keys.insert(ec.clone()).await.expect("inserted");
    keys.insert(rsa.clone()).await.expect("inserted");
    let listed = keys.list().await.expect("listed");
    assert_eq!(
        listed,
        [rsa.clone(), ec.clone()],
        "private key bytes survive sealing"
    );

    // Never overwritten: a second key with the same kid is refused, the first stays.
    let impostor = key("k-rsa", KeyAlgorithm::EdDSA, START);
    let err = keys.insert(impostor).await.expect_err("conflict");
    assert!(matches!(err, Error::Conflict(UniqueKey::KeyId)), "{err:?}");
    assert_eq!(keys.list().await.expect("listed")[0], rsa);

    // Another handle with the same key (a restart) reads the same keys.
    let again = db.key_store(MasterKey::from_base64(&master.to_base64()).expect("key"));
    assert_eq!(again.list().await.expect("listed").len(), 2);
}

pub async fn wrong_master_key_is_reported_and_changes_nothing(db: Database) {
    let master = MasterKey::generate();
    let keys = db.key_store(master.clone());
    let k = key("k1", KeyAlgorithm::EdDSA, START);
    keys.insert(k.clone()).await.expect("inserted");

    let wrong = MasterKey::generate();
    let err = db
        .key_store(wrong.clone())
        .list()
        .await
        .expect_err("mismatch");
    match err {
        Error::MasterKeyMismatch { stored, configured } => {
            assert_eq!(stored, master.fingerprint());
            assert_eq!(configured, wrong.fingerprint());
        }
        other => panic!("expected MasterKeyMismatch, got {other:?}"),
    }
    assert_eq!(keys.list().await.expect("still readable"), [k]);
}

pub async fn retire_and_purge_expired(db: Database) {
    let keys = db.key_store(MasterKey::generate());
    keys.insert(key("old", KeyAlgorithm::RS256, START))
        .await
        .expect("inserted");
    keys.insert(key("new", KeyAlgorithm::RS256, START + Duration::days(1)))
        .await
        .expect("inserted");
    let retired_at = START + Duration::days(1);
    let until = retired_at + Duration::hours(1);
    keys.retire("old", retired_at, until)
        .await
        .expect("retired");
    let err = keys
        .retire("missing", retired_at, until)
        .await
        .expect_err("no key");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");

    let listed = keys.list().await.expect("listed");
    assert_eq!(listed[0].retired_at, Some(retired_at));
    assert_eq!(listed[0].publish_until, Some(until));
    assert_eq!(listed[0].status(retired_at), KeyStatus::Published);

    let half = retired_at + Duration::minutes(30);
    assert_eq!(keys.purge_expired(half).await.expect("purge"), 0);
    assert_eq!(
        keys.purge_expired(until - Duration::milliseconds(1))
            .await
            .expect("purge"),
        0
    );
    assert_eq!(keys.purge_expired(until).await.expect("purge"), 1);
    let left: Vec<String> = keys
        .list()
        .await
        .expect("listed")
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(left, ["new"], "active keys are never purged");
}
