//! Durable grants: remembered consents and refresh-token families, with the
//! rotation compare-and-set raced for real.

use std::sync::Arc;

use time::Duration;
use usher_core::ports::{
    Consents, Directory, RefreshFamily, RefreshGrant, RefreshTokens, Rotation,
};
use usher_core::{Error, NewUser, UniqueKey, UserId};
use usher_store::{Database, SqlStore};

use super::harness::START;

fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

async fn user(store: &SqlStore, name: &str) -> UserId {
    store
        .create_user(NewUser::named(name))
        .await
        .expect("created")
        .id
}

pub async fn consents_grant_read_expire_revoke(db: Database) {
    let store = db.store();
    let alice = user(&store, "alice").await;
    let year = START + Duration::days(365);
    assert!(
        store
            .consent(alice, "wiki", START)
            .await
            .expect("read")
            .is_none()
    );

    store
        .grant_consent(alice, "wiki", &scopes(&["openid", "email"]), START, year)
        .await
        .expect("granted");
    let c = store
        .consent(alice, "wiki", START)
        .await
        .expect("read")
        .expect("remembered");
    assert_eq!(c.scopes, scopes(&["email", "openid"]));
    assert_eq!((c.granted_at, c.expires_at), (START, year));
    assert!(
        store
            .consent(alice, "crm", START)
            .await
            .expect("read")
            .is_none(),
        "per client"
    );

    // A later decision adds its scopes and renews the ones granted before.
    let later = START + Duration::days(200);
    store
        .grant_consent(
            alice,
            "wiki",
            &scopes(&["profile", "openid", "profile"]),
            later,
            later + Duration::days(365),
        )
        .await
        .expect("granted again");
    let c = store
        .consent(alice, "wiki", year + Duration::days(1))
        .await
        .expect("read")
        .expect("renewed past the first expiry");
    assert_eq!(c.scopes, scopes(&["email", "openid", "profile"]));
    assert_eq!(c.granted_at, later);

    // Lapsed: not read, then purged.
    let lapsed = later + Duration::days(365);
    assert!(
        store
            .consent(alice, "wiki", lapsed)
            .await
            .expect("read")
            .is_none()
    );
    assert_eq!(
        store.purge_expired_consents(lapsed).await.expect("purged"),
        3
    );

    store
        .grant_consent(alice, "wiki", &scopes(&["openid"]), START, year)
        .await
        .expect("granted");
    store
        .grant_consent(alice, "crm", &scopes(&["openid"]), START, year)
        .await
        .expect("granted");
    assert!(store.revoke_consent(alice, "wiki").await.expect("revoked"));
    assert!(!store.revoke_consent(alice, "wiki").await.expect("gone"));
    assert!(
        store
            .consent(alice, "crm", START)
            .await
            .expect("read")
            .is_some()
    );
    assert_eq!(store.revoke_consents_for_user(alice).await.expect("all"), 1);
    assert!(
        store
            .consent(alice, "crm", START)
            .await
            .expect("read")
            .is_none()
    );
}

pub async fn consents_add_up_refuse_junk_and_go_with_their_user(db: Database) {
    let store = db.store();
    let bob = user(&store, "bob").await;
    let year = START + Duration::days(365);
    // Two approvals at once (two tabs): neither overwrites the other.
    let tasks: Vec<_> = ["email", "profile", "groups", "phone"]
        .into_iter()
        .map(|scope| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .grant_consent(bob, "wiki", &scopes(&[scope]), START, year)
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("joined").expect("granted");
    }
    let c = store
        .consent(bob, "wiki", START)
        .await
        .expect("read")
        .expect("remembered");
    assert_eq!(c.scopes, scopes(&["email", "groups", "phone", "profile"]));

    let err = store
        .grant_consent(bob, "wiki", &[String::new()], START, year)
        .await
        .expect_err("empty scope");
    assert!(matches!(err, Error::Invalid(_)), "{err}");
    let err = store
        .grant_consent(bob, "wiki", &["x".repeat(300)], START, year)
        .await
        .expect_err("oversized scope");
    assert!(matches!(err, Error::Invalid(_)), "{err}");
    let err = store
        .grant_consent(UserId::new(), "wiki", &scopes(&["openid"]), START, year)
        .await
        .expect_err("unknown user");
    assert!(matches!(err, Error::NotFound { .. }), "{err}");

    store.delete_user(bob).await.expect("deleted");
    assert!(
        store
            .consent(bob, "wiki", START)
            .await
            .expect("read")
            .is_none()
    );
}

fn family(id: &str, user: UserId, digest: &str) -> RefreshFamily {
    RefreshFamily {
        id: id.into(),
        grant: RefreshGrant {
            client_id: "wiki".into(),
            user_id: user,
            sid: "sid-1".into(),
            scopes: scopes(&["openid", "offline_access"]),
            auth_time: START - Duration::seconds(5),
            amr: scopes(&["pwd", "mfa"]),
            acr: Some("urn:acr:2fa".into()),
        },
        token_digest: digest.into(),
        created_at: START,
        expires_at: START + Duration::days(30),
        revoked_at: None,
    }
}

pub async fn refresh_families_rotate_and_detect_reuse(db: Database) {
    let store = db.store();
    let alice = user(&store, "alice").await;
    let f = family("fam-1", alice, "d1");
    store.create_refresh_family(&f).await.expect("created");
    assert_eq!(
        store.refresh_family("fam-1").await.expect("read"),
        Some(f.clone()),
        "round trip"
    );
    let err = store.create_refresh_family(&f).await.expect_err("taken");
    assert!(
        matches!(err, Error::Conflict(UniqueKey::RefreshFamily)),
        "{err}"
    );

    let now = START + Duration::days(1);
    let slid = now + Duration::days(30);
    let rotate = |presented: &'static str, next: &'static str, client: &'static str| {
        let store = store.clone();
        async move {
            store
                .rotate_refresh_token("fam-1", client, presented, next, now, slid)
                .await
                .expect("rotation answers")
        }
    };
    // Another client's token: refused and left alone (RFC 6749 §6).
    assert_eq!(rotate("d1", "x", "crm").await, Rotation::Invalid);
    assert_eq!(
        store.refresh_family("fam-1").await.expect("read"),
        Some(f.clone())
    );
    let Rotation::Rotated(rotated) = rotate("d1", "d2", "wiki").await else {
        panic!("the current token rotates");
    };
    assert_eq!(rotated.token_digest, "d2");
    assert_eq!(rotated.expires_at, slid, "the expiry slides");
    assert_eq!(rotated.grant, f.grant);
    let Rotation::Rotated(_) = rotate("d2", "d3", "wiki").await else {
        panic!("and its successor");
    };
    // d1 again: a rotated token, so the family dies (RFC 9700 §4.14.2).
    assert_eq!(rotate("d1", "d9", "wiki").await, Rotation::Reused);
    let dead = store
        .refresh_family("fam-1")
        .await
        .expect("read")
        .expect("kept");
    assert_eq!(dead.revoked_at, Some(now));
    assert_eq!(dead.token_digest, "d3", "the reuse rotated nothing");
    assert_eq!(
        rotate("d3", "d4", "wiki").await,
        Rotation::Invalid,
        "the newest token died with its family"
    );
    assert_eq!(
        store
            .rotate_refresh_token("nope", "wiki", "d1", "d2", now, slid)
            .await
            .expect("answers"),
        Rotation::Invalid
    );

    // Expired: nothing rotates, nothing is revoked.
    store
        .create_refresh_family(&family("fam-2", alice, "e1"))
        .await
        .expect("created");
    let late = START + Duration::days(31);
    assert_eq!(
        store
            .rotate_refresh_token("fam-2", "wiki", "e1", "e2", late, late)
            .await
            .expect("answers"),
        Rotation::Invalid
    );
}

pub async fn refresh_families_revoke_for_user_and_purge(db: Database) {
    let store = db.store();
    let alice = user(&store, "alice").await;
    let bob = user(&store, "bob").await;
    for (id, u) in [("a1", alice), ("a2", alice), ("b1", bob)] {
        store
            .create_refresh_family(&family(id, u, "d"))
            .await
            .expect("created");
    }
    let at = START + Duration::hours(1);
    assert!(
        store
            .revoke_refresh_family("a1", at)
            .await
            .expect("revoked")
    );
    assert!(
        !store
            .revoke_refresh_family("a1", at)
            .await
            .expect("already")
    );
    assert!(
        !store
            .revoke_refresh_family("none", at)
            .await
            .expect("unknown")
    );
    assert_eq!(
        store
            .revoke_refresh_families_for_user(alice, at)
            .await
            .expect("revoked"),
        1,
        "a2 only: a1 was revoked already"
    );
    for id in ["a1", "a2"] {
        let f = store.refresh_family(id).await.expect("read").expect("kept");
        assert!(!f.live(at), "{id} revoked");
        assert_eq!(
            store
                .rotate_refresh_token(id, "wiki", "d", "d2", at, at + Duration::days(30))
                .await
                .expect("answers"),
            Rotation::Invalid,
            "no rotation brings {id} back"
        );
    }
    let b1 = store
        .refresh_family("b1")
        .await
        .expect("read")
        .expect("kept");
    assert!(b1.live(at), "other users untouched");

    // Expired families go, revoked or not; live ones stay.
    store
        .create_refresh_family(&RefreshFamily {
            expires_at: START + Duration::days(90),
            ..family("b2", bob, "d")
        })
        .await
        .expect("created");
    let purged = store
        .purge_expired_refresh_families(START + Duration::days(30))
        .await
        .expect("purged");
    assert_eq!(purged, 3);
    assert!(store.refresh_family("b1").await.expect("read").is_none());
    assert!(store.refresh_family("b2").await.expect("read").is_some());

    store.delete_user(bob).await.expect("deleted");
    assert!(
        store.refresh_family("b2").await.expect("read").is_none(),
        "families go with their user"
    );
}

/// The race RFC 9700 §4.14.2 is about: the same refresh token presented by two
/// requests at once (an attacker and the client, or a retry). Exactly one may
/// rotate it; the other must see a reuse and revoke the family.
pub async fn concurrent_rotations_of_one_token_let_exactly_one_win(db: Database) {
    let store = Arc::new(db.store());
    let alice = user(&store, "alice").await;
    let now = START + Duration::minutes(1);
    for round in 0..5 {
        let id = format!("race-{round}");
        store
            .create_refresh_family(&family(&id, alice, "current"))
            .await
            .expect("created");
        let tasks: Vec<_> = (0..8)
            .map(|n| {
                let (store, id) = (store.clone(), id.clone());
                tokio::spawn(async move {
                    store
                        .rotate_refresh_token(
                            &id,
                            "wiki",
                            "current",
                            &format!("next-{n}"),
                            now,
                            now + Duration::days(30),
                        )
                        .await
                        .expect("rotation answers")
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.expect("joined"));
        }
        let won = outcomes
            .iter()
            .filter(|o| matches!(o, Rotation::Rotated(_)))
            .count();
        assert_eq!(won, 1, "round {round}: {outcomes:?}");
        assert!(
            outcomes.iter().any(|o| matches!(o, Rotation::Reused)),
            "round {round}: the losers saw a reuse: {outcomes:?}"
        );
        let f = store
            .refresh_family(&id)
            .await
            .expect("read")
            .expect("kept");
        assert!(
            f.revoked_at.is_some(),
            "round {round}: the family is revoked"
        );
    }
}
