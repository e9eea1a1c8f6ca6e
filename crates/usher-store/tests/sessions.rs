//! SSO sessions and interactions (usher-core's services) over the real ephemeral
//! stores: timeouts on the memory store with a manual clock, and the per-user
//! revocation index on memory and Redis alike. The durable grants they reach
//! (consents, refresh-token families) are on SQLite in memory here; their own
//! conformance suite is in `sql/grants.rs`.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use usher_core::ports::{
    Clock, Directory, EphemeralStore, ManualClock, RefreshFamily, RefreshGrant, RefreshTokens,
    SystemClock,
};
use usher_core::{
    ConsentDecision, ConsentRequest, Interactions, LoginRequest, NewUser, Participant,
    SessionPolicy, Sessions, UserId,
};
use usher_store::{Database, MemoryEphemeralStore, RedisEphemeralStore, SqlStore};

const POLICY: SessionPolicy = SessionPolicy {
    idle_timeout: Duration::from_secs(30 * 60),
    absolute_timeout: Duration::from_secs(10 * 3600),
};

/// The SQL side: SQLite in memory, migrated.
async fn sql() -> SqlStore {
    let db = Database::connect("sqlite::memory:")
        .await
        .expect("SQLite opens");
    db.migrate().await.expect("migrations run");
    db.store()
}

async fn on_memory() -> (
    Sessions,
    Arc<ManualClock>,
    Arc<dyn EphemeralStore>,
    SqlStore,
) {
    let clock = Arc::new(ManualClock::at(
        OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000),
    ));
    let store: Arc<dyn EphemeralStore> =
        Arc::new(MemoryEphemeralStore::with_clock(1000, clock.clone()));
    let sql = sql().await;
    (
        Sessions::new(store.clone(), Arc::new(sql.clone()), clock.clone(), POLICY),
        clock,
        store,
        sql,
    )
}

async fn on_redis() -> Option<(Sessions, Arc<dyn EphemeralStore>, SqlStore)> {
    let url = match std::env::var("USHER_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            assert!(
                std::env::var("USHER_TEST_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "USHER_TEST_REQUIRE_SERVICES=1 but USHER_TEST_REDIS_URL is not set"
            );
            eprintln!("SKIPPED: Redis session tests (set USHER_TEST_REDIS_URL)");
            return None;
        }
    };
    let prefix = format!("usher_test_{}:", uuid::Uuid::new_v4().simple());
    let store: Arc<dyn EphemeralStore> = Arc::new(
        RedisEphemeralStore::connect(&url, &prefix)
            .await
            .expect("redis"),
    );
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let sql = sql().await;
    Some((
        Sessions::new(store.clone(), Arc::new(sql.clone()), clock, POLICY),
        store,
        sql,
    ))
}

#[tokio::test]
async fn a_session_is_found_by_its_cookie_and_never_by_its_sid() {
    let (sessions, _, _, _) = on_memory().await;
    let user = UserId::new();
    let (secret, session) = sessions
        .create(user, vec!["pwd".into()], None)
        .await
        .expect("created");
    assert_ne!(secret, session.sid, "the public id is not the cookie");
    let found = sessions.get(&secret).await.expect("read").expect("live");
    assert_eq!(found, session);
    assert!(sessions.get(&session.sid).await.expect("read").is_none());
    assert!(sessions.get("forged").await.expect("read").is_none());
}

#[tokio::test]
async fn idle_sessions_end_and_used_ones_stay_until_the_absolute_limit() {
    let (sessions, clock, _, _) = on_memory().await;
    let (idle, _) = sessions
        .create(UserId::new(), vec![], None)
        .await
        .expect("created");
    let (busy, _) = sessions
        .create(UserId::new(), vec![], None)
        .await
        .expect("created");
    for _ in 0..40 {
        clock.advance(time::Duration::minutes(20));
        let _ = sessions.get(&busy).await.expect("read");
    }
    assert!(
        sessions.get(&idle).await.expect("read").is_none(),
        "idle timeout"
    );
    // 40 × 20 min = 13h20 > 10h: the busy session hit its absolute limit.
    assert!(
        sessions.get(&busy).await.expect("read").is_none(),
        "absolute timeout"
    );
}

#[tokio::test]
async fn a_busy_session_survives_past_its_idle_timeout() {
    let (sessions, clock, _, _) = on_memory().await;
    let (secret, _) = sessions
        .create(UserId::new(), vec![], None)
        .await
        .expect("created");
    for _ in 0..6 {
        clock.advance(time::Duration::minutes(20));
        assert!(
            sessions.get(&secret).await.expect("read").is_some(),
            "each use restarts the idle timer"
        );
    }
}

async fn revoke_all_ends_every_session_and_family(
    sessions: Sessions,
    store: Arc<dyn EphemeralStore>,
    sql: SqlStore,
) {
    let alice = sql
        .create_user(NewUser::named("alice"))
        .await
        .expect("created")
        .id;
    let bob = sql
        .create_user(NewUser::named("bob"))
        .await
        .expect("created")
        .id;
    let (a1, s1) = sessions
        .create(alice, vec!["pwd".into()], None)
        .await
        .expect("created");
    let (a2, _) = sessions
        .create(alice, vec!["pwd".into()], None)
        .await
        .expect("created");
    let (b1, _) = sessions
        .create(bob, vec!["pwd".into()], None)
        .await
        .expect("created");
    let rp = Participant::Oidc {
        client_id: "wiki".into(),
    };
    sessions.join(&s1, &rp).await.expect("joined");
    let now = OffsetDateTime::now_utc();
    for (id, user) in [("f-alice", alice), ("f-bob", bob)] {
        sql.create_refresh_family(&family(id, user, now))
            .await
            .expect("family");
    }

    let ended = sessions.revoke_all_for_user(alice).await.expect("revoked");
    assert_eq!(ended.len(), 2);
    let with_rp = ended
        .iter()
        .find(|(s, _)| s.sid == s1.sid)
        .expect("first session");
    assert_eq!(with_rp.1, vec![rp]);
    assert!(sessions.get(&a1).await.expect("read").is_none());
    assert!(sessions.get(&a2).await.expect("read").is_none());
    let revoked = sql
        .refresh_family("f-alice")
        .await
        .expect("read")
        .expect("kept");
    assert!(revoked.revoked_at.is_some(), "refresh family revoked");
    let kept = sql
        .refresh_family("f-bob")
        .await
        .expect("read")
        .expect("kept");
    assert!(kept.revoked_at.is_none(), "other users' families untouched");
    assert!(store.get("anything").await.expect("read").is_none());
    assert!(
        sessions.get(&b1).await.expect("read").is_some(),
        "other users untouched"
    );
    assert!(
        sessions
            .revoke_all_for_user(alice)
            .await
            .expect("again")
            .is_empty()
    );
    sessions.end(&b1).await.expect("cleanup");
}

/// A live family for `user`, started at `now`.
fn family(id: &str, user: UserId, now: OffsetDateTime) -> RefreshFamily {
    RefreshFamily {
        id: id.into(),
        grant: RefreshGrant {
            client_id: "wiki".into(),
            user_id: user,
            sid: "sid".into(),
            scopes: vec!["openid".into(), "offline_access".into()],
            auth_time: now,
            amr: vec!["pwd".into()],
            acr: None,
        },
        token_digest: "digest".into(),
        created_at: now,
        expires_at: now + Duration::from_secs(3600),
        revoked_at: None,
    }
}

#[tokio::test]
async fn memory_revoke_all_for_user() {
    let (sessions, _, store, sql) = on_memory().await;
    revoke_all_ends_every_session_and_family(sessions, store, sql).await;
}

#[tokio::test]
async fn redis_revoke_all_for_user() {
    if let Some((sessions, store, sql)) = on_redis().await {
        revoke_all_ends_every_session_and_family(sessions, store, sql).await;
    }
}

#[tokio::test]
async fn a_session_ends_by_cookie_or_by_sid_exactly_once() {
    let (sessions, _, _, _) = on_memory().await;
    let (secret, session) = sessions
        .create(UserId::new(), vec![], None)
        .await
        .expect("created");
    let ended = sessions
        .end_by_sid(&session.sid)
        .await
        .expect("ended")
        .expect("was live");
    assert_eq!(ended.sid, session.sid);
    assert!(sessions.end(&secret).await.expect("end").is_none());
    assert!(
        sessions
            .end_by_sid(&session.sid)
            .await
            .expect("end")
            .is_none()
    );
}

#[tokio::test]
async fn consent_decisions_are_single_use_and_grants_remembered() {
    let (_, clock, store, sql) = on_memory().await;
    let interactions = Interactions::new(store, Arc::new(sql.clone()), clock);
    let user = sql
        .create_user(NewUser::named("carol"))
        .await
        .expect("created")
        .id;
    let request = ConsentRequest {
        resume_url: "/oidc/authorize/resume?id=1".into(),
        client_id: "wiki".into(),
        client_name: "Wiki".into(),
        scopes: vec!["openid".into(), "email".into()],
        user_id: user,
    };
    let id = interactions.start_consent(&request).await.expect("parked");
    assert_eq!(
        interactions.consent(&id).await.expect("read"),
        Some(request.clone())
    );
    interactions
        .decide(&id, &request, ConsentDecision::Approved)
        .await
        .expect("decided");
    assert!(
        interactions.consent(&id).await.expect("read").is_none(),
        "request used up"
    );
    assert_eq!(
        interactions.take_decision(&id).await.expect("read"),
        Some(ConsentDecision::Approved)
    );
    assert_eq!(
        interactions.take_decision(&id).await.expect("read"),
        None,
        "single use"
    );
    assert_eq!(
        interactions.granted(user, "wiki").await.expect("read"),
        vec!["email", "openid"],
        "remembered (in SQL), sorted"
    );
    assert!(
        interactions
            .granted(user, "other")
            .await
            .expect("read")
            .is_empty()
    );

    let login = LoginRequest {
        resume_url: "/x".into(),
        client_name: None,
        force_login: false,
        login_hint: None,
        ..LoginRequest::default()
    };
    let t = interactions.start_login(&login).await.expect("parked");
    assert_eq!(interactions.login(&t).await.expect("read"), Some(login));
    interactions.finish_login(&t).await.expect("finished");
    assert!(interactions.login(&t).await.expect("read").is_none());
}
