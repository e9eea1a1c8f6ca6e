//! The key ring over the SQL key store: generation, rotation, publication windows
//! and the refusal to touch keys sealed under another master key.

use std::sync::Arc;
use std::time::Duration;

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::{Signer, Verifier};
use openssl::x509::X509;
use time::macros::datetime;
use usher_core::Error;
use usher_core::ports::{Clock, KeyAlgorithm, KeyStatus, ManualClock};
use usher_store::{Database, KeyRing, KeyRingPolicy, MasterKey};

struct Fixture {
    db: Database,
    clock: Arc<ManualClock>,
    path: std::path::PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

async fn fixture() -> Fixture {
    let path = std::env::temp_dir().join(format!("usher-keyring-{}.db", uuid::Uuid::new_v4()));
    let db = Database::connect(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .expect("sqlite opens");
    db.migrate().await.expect("migrations run");
    let clock = Arc::new(ManualClock::at(datetime!(2026-11-22 10:00 UTC)));
    Fixture { db, clock, path }
}

fn ring(f: &Fixture, master: &MasterKey) -> KeyRing {
    let policy = KeyRingPolicy {
        publish_retired_for: Duration::from_secs(3600),
        certificate_common_name: "idp.example.test".into(),
        ..KeyRingPolicy::default()
    };
    KeyRing::new(
        Arc::new(f.db.key_store(master.clone())),
        f.clock.clone(),
        policy,
    )
}

#[tokio::test]
async fn first_start_generates_one_active_key_per_algorithm_and_only_once() {
    let f = fixture().await;
    let ring = ring(&f, &MasterKey::generate());
    let generated = ring.ensure_active_keys().await.expect("keys generated");
    assert_eq!(generated.len(), 3);
    assert!(
        ring.ensure_active_keys()
            .await
            .expect("second start")
            .is_empty()
    );
    let keys = ring.keys().await.expect("listed");
    let algs: Vec<_> = keys.iter().map(|(k, _)| k.algorithm).collect();
    assert_eq!(algs.len(), 3);
    for alg in KeyAlgorithm::ALL {
        assert!(algs.contains(&alg), "{alg} missing");
    }
    assert!(keys.iter().all(|(_, s)| *s == KeyStatus::Active));
    // RFC 7638 thumbprints: base64url of a SHA-256, 43 characters.
    assert!(keys.iter().all(|(k, _)| k.kid.len() == 43));
}

#[tokio::test]
async fn stored_keys_sign_and_verify_with_their_public_halves() {
    let f = fixture().await;
    let ring = ring(&f, &MasterKey::generate());
    ring.ensure_active_keys().await.expect("keys generated");
    for alg in KeyAlgorithm::ALL {
        let key = ring.active(alg).await.expect("active key");
        let private = PKey::private_key_from_pkcs8(key.private_key.expose()).expect("pkcs8");
        let public = PKey::public_key_from_der(&key.public_key).expect("spki");
        let digest = match alg {
            KeyAlgorithm::EdDSA => None,
            _ => Some(MessageDigest::sha256()),
        };
        let mut signer = match digest {
            Some(d) => Signer::new(d, &private),
            None => Signer::new_without_digest(&private),
        }
        .expect("signer");
        let sig = signer
            .sign_oneshot_to_vec(b"header.payload")
            .expect("signs");
        let mut verifier = match digest {
            Some(d) => Verifier::new(d, &public),
            None => Verifier::new_without_digest(&public),
        }
        .expect("verifier");
        assert!(
            verifier
                .verify_oneshot(&sig, b"header.payload")
                .expect("verifies"),
            "{alg}"
        );
    }
}

#[tokio::test]
async fn the_rsa_key_carries_a_self_signed_saml_certificate() {
    let f = fixture().await;
    let ring = ring(&f, &MasterKey::generate());
    ring.ensure_active_keys().await.expect("keys generated");
    let key = ring.active(KeyAlgorithm::RS256).await.expect("rsa key");
    let cert = X509::from_der(key.certificate.as_deref().expect("certificate")).expect("x509");
    let cn = cert
        .subject_name()
        .entries()
        .next()
        .expect("cn")
        .data()
        .to_string()
        .expect("utf8");
    assert_eq!(cn, "idp.example.test");
    let public = PKey::public_key_from_der(&key.public_key).expect("spki");
    assert!(cert.public_key().expect("cert key").public_eq(&public));
    assert!(cert.verify(&public).expect("self-signature checks"));
    assert!(
        ring.active(KeyAlgorithm::ES256)
            .await
            .expect("ec")
            .certificate
            .is_none()
    );
}

#[tokio::test]
async fn rotation_keeps_the_previous_key_published_until_its_tokens_expire() {
    let f = fixture().await;
    let ring = ring(&f, &MasterKey::generate());
    ring.ensure_active_keys().await.expect("keys generated");
    let old = ring.active(KeyAlgorithm::RS256).await.expect("old");

    let rotations = ring.rotate(&[KeyAlgorithm::RS256]).await.expect("rotated");
    assert_eq!(rotations.len(), 1);
    assert_eq!(rotations[0].retired.as_deref(), Some(old.kid.as_str()));
    let new = ring.active(KeyAlgorithm::RS256).await.expect("new");
    assert_ne!(new.kid, old.kid);
    assert_eq!(rotations[0].activated, new.kid);

    let status_of = |keys: &[(usher_core::ports::SigningKey, KeyStatus)], kid: &str| {
        keys.iter().find(|(k, _)| k.kid == kid).map(|(_, s)| *s)
    };
    let keys = ring.keys().await.expect("listed");
    assert_eq!(status_of(&keys, &old.kid), Some(KeyStatus::Published));
    assert_eq!(keys.len(), 4, "other algorithms untouched");

    f.clock.advance(time::Duration::minutes(61));
    let keys = ring.keys().await.expect("listed");
    assert_eq!(status_of(&keys, &old.kid), Some(KeyStatus::Expired));

    // The next rotation purges what can no longer verify anything.
    ring.rotate(&[KeyAlgorithm::ES256]).await.expect("rotated");
    let keys = ring.keys().await.expect("listed");
    assert_eq!(status_of(&keys, &old.kid), None);
    assert!(f.clock.now() > old.created_at);
}

#[tokio::test]
async fn a_wrong_master_key_is_refused_and_never_generates_over_existing_keys() {
    let f = fixture().await;
    let right = MasterKey::generate();
    ring(&f, &right)
        .ensure_active_keys()
        .await
        .expect("keys generated");

    let wrong = MasterKey::generate();
    let err = ring(&f, &wrong)
        .ensure_active_keys()
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::MasterKeyMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&right.fingerprint()), "{err}");

    let keys = ring(&f, &right).keys().await.expect("still readable");
    assert_eq!(keys.len(), 3, "nothing added or replaced");
}
