//! The refresh_token grant: rotation, reuse detection, scope narrowing
//! (RFC 6749 §6, RFC 9700 §4.14.2), and revocation for a user.

// Tests fail loudly on anything unexpected.
#![allow(clippy::unwrap_used)]

use actix_web::http::StatusCode;
use usher_core::UserUpdate;
use usher_core::ports::Directory;

use crate::token_env::*;

#[actix_web::test]
async fn refresh_rotates_the_token() {
    let env = Env::new().await;
    let first = env.tokens(BASIC).await;
    let rt1 = first.text("refresh_token");
    let second = env.refresh(BASIC, &rt1, &[]).await;
    assert_eq!(second.status, StatusCode::OK, "{:?}", second.json);
    let rt2 = second.text("refresh_token");
    assert_ne!(rt1, rt2);
    assert!(second.json["id_token"].is_string());
    assert!(claims(&second.text("id_token"))["nonce"].is_null());
    assert!(!env.active(&rt1).await, "the used token is gone");
    assert!(env.active(&rt2).await);
    let third = env.refresh(BASIC, &rt2, &[]).await;
    assert_eq!(third.status, StatusCode::OK);
}

/// RFC 9700 §4.14.2: a rotated token presented again revokes the whole family,
/// including the newest refresh token and the access tokens it issued.
#[actix_web::test]
async fn refresh_token_reuse_revokes_the_whole_family() {
    let env = Env::new().await;
    let rt1 = env.tokens(BASIC).await.text("refresh_token");
    let second = env.refresh(BASIC, &rt1, &[]).await;
    let (rt2, at2) = (second.text("refresh_token"), second.text("access_token"));

    let replay = env.refresh(BASIC, &rt1, &[]).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(replay.error(), "invalid_grant");
    assert!(
        !env.active(&rt2).await,
        "the newest token died with its family"
    );
    assert!(
        !env.active(&at2).await,
        "the family's access tokens are revoked"
    );
    assert_eq!(env.refresh(BASIC, &rt2, &[]).await.error(), "invalid_grant");
}

/// RFC 6749 §6: a refresh may narrow the scope, never widen it; the refresh token
/// keeps its original scope.
#[actix_web::test]
async fn refresh_scope_may_only_narrow() {
    let env = Env::new().await;
    let rt = env.tokens(BASIC).await.text("refresh_token");
    let wider = env.refresh(BASIC, &rt, &[("scope", "openid groups")]).await;
    assert_eq!(wider.error(), "invalid_scope");
    // The refused request did not burn the token.
    let narrow = env.refresh(BASIC, &rt, &[("scope", "openid")]).await;
    assert_eq!(narrow.status, StatusCode::OK, "{:?}", narrow.json);
    assert_eq!(narrow.json["scope"], "openid");
    assert!(claims(&narrow.text("id_token"))["email"].is_null());
    let rt2 = narrow.text("refresh_token");
    let back = env
        .refresh(BASIC, &rt2, &[("scope", "openid email offline_access")])
        .await;
    assert_eq!(back.status, StatusCode::OK, "{:?}", back.json);
}

#[actix_web::test]
async fn refresh_token_of_another_client_is_invalid_grant_and_left_alone() {
    let env = Env::new().await;
    let rt = env.tokens(BASIC).await.text("refresh_token");
    assert_eq!(env.refresh(ES, &rt, &[]).await.error(), "invalid_grant");
    assert_eq!(env.refresh(BASIC, &rt, &[]).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn refresh_for_deactivated_user_is_invalid_grant() {
    let env = Env::new().await;
    let rt = env.tokens(BASIC).await.text("refresh_token");
    let update = UserUpdate {
        active: Some(false),
        ..Default::default()
    };
    env.store.update_user(env.user.id, update).await.unwrap();
    assert_eq!(env.refresh(BASIC, &rt, &[]).await.error(), "invalid_grant");
}

/// `Sessions::revoke_all_for_user` (deprovisioning) kills refresh tokens too.
#[actix_web::test]
async fn revoke_all_for_user_kills_refresh_tokens() {
    let env = Env::new().await;
    let rt = env.tokens(BASIC).await.text("refresh_token");
    env.state
        .deps
        .sessions
        .revoke_all_for_user(env.user.id)
        .await
        .unwrap();
    assert!(!env.active(&rt).await);
    assert_eq!(env.refresh(BASIC, &rt, &[]).await.error(), "invalid_grant");
}

#[actix_web::test]
async fn expired_refresh_token_is_invalid_grant() {
    let env = Env::new().await;
    let rt = env.tokens(BASIC).await.text("refresh_token");
    env.clock.advance(time::Duration::days(31));
    assert_eq!(env.refresh(BASIC, &rt, &[]).await.error(), "invalid_grant");
}

/// Hostile refresh tokens (`{family}.{secret}` is parsed from the network): empty,
/// no separator, empty or oversized halves, multibyte text, extra dots, an unknown
/// family. Each is `invalid_grant` (RFC 6749 §5.2), nothing panics, and a live
/// family that none of them names keeps working.
#[actix_web::test]
async fn malformed_refresh_tokens_are_invalid_grant_and_revoke_nothing() {
    let env = Env::new().await;
    let live = env.tokens(BASIC).await.text("refresh_token");
    let long = "a".repeat(5000);
    // An empty value is a missing parameter (RFC 6749 §5.2: invalid_request).
    let empty = env.refresh(BASIC, "", &[]).await;
    assert_eq!(empty.error(), "invalid_request");
    let hostile = [
        "no-separator".to_owned(),
        ".secret".to_owned(),
        "family.".to_owned(),
        format!("{long}.{long}"),
        "famille-é.秘密😀".to_owned(),
        "a.b.c".to_owned(),
        "unknownfamily.unknownsecret".to_owned(),
    ];
    for token in &hostile {
        let reply = env.refresh(BASIC, token, &[]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{token:.40}");
        assert_eq!(reply.error(), "invalid_grant", "{token:.40}");
    }
    assert!(env.active(&live).await, "a live family was revoked");
    let next = env.refresh(BASIC, &live, &[]).await;
    assert_eq!(next.status, StatusCode::OK, "{:?}", next.json);
}
