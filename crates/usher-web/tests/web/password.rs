//! Password hashing.

use usher_web::{PasswordHasher, PasswordPolicy};

use super::env::FAST;

#[tokio::test]
async fn the_default_cost_is_keycloaks() {
    let policy = PasswordPolicy::default();
    assert_eq!(
        (policy.memory_kib, policy.iterations, policy.parallelism),
        (7168, 5, 1)
    );
    assert!(policy.max_concurrent >= 1);
    let hasher = PasswordHasher::new(policy);
    let hash = hasher.hash("hunter2").await.expect("hash");
    assert!(hash.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{hash}");
    assert!(hasher.verify(&hash, "hunter2").await.expect("verify"));
    assert!(!hasher.verify(&hash, "hunter3").await.expect("verify"));
}

#[tokio::test]
async fn hashes_made_with_other_parameters_still_verify() {
    let fast = PasswordHasher::new(FAST).hash("pw").await.expect("hash");
    assert!(fast.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
    let other = PasswordHasher::new(PasswordPolicy {
        memory_kib: 2048,
        iterations: 2,
        parallelism: 2,
        max_concurrent: 1,
    });
    assert!(other.verify(&fast, "pw").await.expect("verify"));
    assert!(!other.verify(&fast, "PW").await.expect("verify"));
}

#[tokio::test]
async fn salts_differ_and_malformed_hashes_are_errors() {
    let hasher = PasswordHasher::new(FAST);
    let a = hasher.hash("same").await.expect("hash");
    let b = hasher.hash("same").await.expect("hash");
    assert_ne!(a, b);
    assert!(hasher.verify("not a hash", "x").await.is_err());
    // A hash without salt or output never matches anything.
    let saltless = hasher.verify("$argon2id$v=19$m=1024,t=1,p=1$", "x").await;
    assert!(!matches!(saltless, Ok(true)), "{saltless:?}");
}

#[tokio::test]
async fn unusable_parameters_are_reported() {
    let policy = PasswordPolicy {
        memory_kib: 1,
        iterations: 0,
        parallelism: 1,
        max_concurrent: 1,
    };
    assert!(policy.validate().is_err());
    assert!(PasswordHasher::new(policy).hash("x").await.is_err());
    assert!(FAST.validate().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_hashes_complete_within_the_bound() {
    let hasher = std::sync::Arc::new(PasswordHasher::new(PasswordPolicy {
        max_concurrent: 1,
        ..FAST
    }));
    let mut tasks = Vec::new();
    for i in 0..8 {
        let hasher = hasher.clone();
        tasks.push(tokio::spawn(async move {
            hasher.hash(&format!("pw{i}")).await.expect("hash")
        }));
    }
    for task in tasks {
        assert!(task.await.expect("task").starts_with("$argon2id$"));
    }
}
