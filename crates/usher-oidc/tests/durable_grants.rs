//! Defect: durable grants lived in the ephemeral store, so a restart in memory
//! mode silently dropped every refresh token and remembered consent, and a store
//! filled to its cap (by a flood, or by a mid-size organisation's legitimate
//! grants) blocked refreshes. Refresh-token families and consents are now in SQL.

// Tests fail loudly on anything unexpected.
#![allow(clippy::unwrap_used)]

use actix_web::http::StatusCode;
use std::time::Duration;
use usher_core::ConsentDecision;
use usher_core::ports::EphemeralStore;

use crate::authorize::to_consent;
use crate::fixture::{Op, WEB, WEB_CB};
use crate::support::{authorize_uri, get};
use crate::token_env::*;

#[actix_web::test]
async fn refresh_token_survives_restart_of_the_memory_store() {
    let before = Env::new().await;
    let rt1 = before.tokens(BASIC).await.text("refresh_token");
    let after = before.restart(100_000);
    assert!(
        after.active(&rt1).await,
        "introspection finds it after the restart"
    );
    let second = after.refresh(BASIC, &rt1, &[]).await;
    assert_eq!(second.status, StatusCode::OK, "{:?}", second.json);
    let rt2 = second.text("refresh_token");
    // Reuse detection survives too: the rotated token revokes the family.
    let again = after.restart(100_000);
    assert_eq!(
        again.refresh(BASIC, &rt1, &[]).await.error(),
        "invalid_grant"
    );
    assert!(
        !again.active(&rt2).await,
        "the newest token died with its family"
    );
}

/// RFC 7009: a revocation is durable; no restart brings the family back.
#[actix_web::test]
async fn revoked_refresh_token_stays_revoked_after_restart() {
    let env = Env::new().await;
    let rt = env.tokens(BASIC).await.text("refresh_token");
    let r = env
        .post(
            "/oidc/revoke",
            Some((BASIC, SECRET)),
            &form(&[("token", &rt)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let after = env.restart(100_000);
    assert!(!after.active(&rt).await);
    assert_eq!(
        after.refresh(BASIC, &rt, &[]).await.error(),
        "invalid_grant"
    );
}

#[actix_web::test]
async fn flood_of_ephemeral_entries_does_not_evict_or_block_refresh_tokens() {
    let env = Env::new().await;
    let rt = env.tokens(BASIC).await.text("refresh_token");
    // A small store, filled to its cap with pending state (what a flood of
    // unauthenticated /oidc/authorize requests parks).
    let flooded = env.restart(64);
    let mut n = 0;
    while flooded
        .ephemeral
        .put(&format!("pending:{n}"), b"x", Duration::from_secs(600))
        .await
        .is_ok()
    {
        n += 1;
    }
    assert_eq!(n, 64, "the store is full");
    let mut token = rt;
    for _ in 0..3 {
        let r = flooded.refresh(BASIC, &token, &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
        token = r.text("refresh_token");
    }
    assert!(flooded.active(&token).await);
}

/// The same refresh token presented by several requests at once (an attacker
/// racing the client): at most one gets a successor, and the reuse the others
/// show revokes the family, successor included (RFC 9700 §4.14.2).
#[actix_web::test]
async fn concurrent_uses_of_one_refresh_token_yield_at_most_one_successor() {
    let env = Env::new().await;
    let rt = env.tokens(BASIC).await.text("refresh_token");
    let (a, b, c, d) = tokio::join!(
        env.refresh(BASIC, &rt, &[]),
        env.refresh(BASIC, &rt, &[]),
        env.refresh(BASIC, &rt, &[]),
        env.refresh(BASIC, &rt, &[]),
    );
    let replies = [a, b, c, d];
    let won: Vec<_> = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect();
    assert_eq!(won.len(), 1, "{replies:?}");
    assert!(
        replies
            .iter()
            .filter(|r| r.status != StatusCode::OK)
            .all(|r| r.error() == "invalid_grant"),
        "{replies:?}"
    );
    let successor = won[0].text("refresh_token");
    assert!(!env.active(&successor).await, "the family is revoked");
}

#[actix_web::test]
async fn consent_survives_restart_of_the_memory_store() {
    let op = Op::new().await;
    let (cookie, _) = op.sign_in(&op.user).await;
    let scope = [("scope", "openid email")];
    let (ticket, request) = to_consent(&op, &cookie, &scope).await;
    op.interactions
        .decide(&ticket, &request, ConsentDecision::Approved)
        .await
        .unwrap();

    let after = op.restart();
    let (cookie, _) = after.sign_in(&after.user).await;
    let reply = get(
        &after,
        &authorize_uri(WEB, WEB_CB, &[scope[0], ("prompt", "none")]),
        Some(&cookie),
    )
    .await;
    assert!(
        reply.param("code").is_some(),
        "the consent is still remembered: {reply:?}"
    );
}
