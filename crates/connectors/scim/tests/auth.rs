//! HTTP basic and OAuth 2.0 client credentials against a real SCIM server
//! (scim2-server) behind a gate that checks them; the OAuth tokens come from a
//! real authorization server (oidc-provider). See tests/gate.rs.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use usher_connector::{Connector, ErrorKind, PageRequest, UserRecord};
use usher_connector_scim::ScimConnector;

use crate::gate::{CLIENT_ID, CLIENT_SECRET, Gate, SCOPE};
use crate::support::connector_with_auth;

fn oauth(gate: &Gate, secret: &str, extra: Value) -> ScimConnector {
    let mut auth = json!({
        "type": "oauth2_client_credentials",
        "token_url": gate.token_url,
        "client_id": CLIENT_ID,
        "client_secret": secret,
        "scope": SCOPE,
    });
    if let (Value::Object(a), Value::Object(e)) = (&mut auth, extra) {
        a.extend(e);
    }
    connector_with_auth(&gate.base(), auth, json!({}))
}

async fn listed(c: &ScimConnector) -> usize {
    c.list_users(&PageRequest::first(50))
        .await
        .expect("listed")
        .items
        .len()
}

#[tokio::test]
async fn basic_auth_provisions_and_a_wrong_password_is_unauthorized() {
    // A colon and non-ASCII in the password: RFC 7617 splits at the user's colon
    // only, and encodes in UTF-8.
    let password = "pä:ss wörd";
    let Some(gate) = Gate::basic("usher", password) else {
        return;
    };
    let basic = |password: &str| {
        connector_with_auth(
            &gate.base(),
            json!({"type": "basic", "username": "usher", "password": password}),
            json!({}),
        )
    };
    let c = basic(password);
    c.test_connection().await.expect("connection");
    c.create_user(&UserRecord::new("usher-id-bo", "bo"))
        .await
        .expect("created");
    assert_eq!(listed(&c).await, 1);

    let e = basic("wrong password")
        .test_connection()
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), &ErrorKind::Unauthorized, "{e}");
    assert_eq!(e.http_status(), Some(401));
    assert!(e.message().contains("auth.password"), "{e}");
    assert!(!e.message().contains("wrong password"), "{e}");
    assert_eq!(gate.stats().await.refused, 1, "a basic 401 is not retried");
}

/// One token serves every request until it nears expiry.
#[tokio::test]
async fn one_token_request_serves_many_scim_calls() {
    let Some(gate) = Gate::oauth(3600, "client_secret_basic") else {
        return;
    };
    let c = oauth(&gate, CLIENT_SECRET, json!({}));
    c.test_connection().await.expect("connection");
    for i in 0..5 {
        c.create_user(&UserRecord::new(
            format!("usher-id-{i}"),
            format!("user{i}"),
        ))
        .await
        .expect("created");
    }
    assert_eq!(listed(&c).await, 5);
    let stats = gate.stats().await;
    assert_eq!(stats.token_requests, 1, "{stats:?}");
    assert!(stats.scim_requests >= 8, "{stats:?}");
    assert_eq!(stats.refused, 0, "{stats:?}");
}

/// Many requests needing a token at once ask the server once (no thundering herd).
#[tokio::test]
async fn concurrent_requests_share_one_token_request() {
    let Some(gate) = Gate::oauth(3600, "client_secret_basic") else {
        return;
    };
    let c = Arc::new(oauth(&gate, CLIENT_SECRET, json!({})));
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let c = Arc::clone(&c);
        calls.spawn(async move { c.list_users(&PageRequest::first(1)).await.map(|_| ()) });
    }
    while let Some(done) = calls.join_next().await {
        done.expect("joined").expect("listed");
    }
    let stats = gate.stats().await;
    assert_eq!(stats.token_requests, 1, "{stats:?}");
    assert_eq!(stats.scim_requests, 20, "{stats:?}");
}

/// A token is renewed a margin before `expires_in` (here 4 s, renewed after 2 s),
/// so the target never sees an expired one.
#[tokio::test]
async fn the_token_is_renewed_before_it_expires() {
    let Some(gate) = Gate::oauth(4, "client_secret_basic") else {
        return;
    };
    let c = oauth(&gate, CLIENT_SECRET, json!({}));
    listed(&c).await;
    listed(&c).await;
    assert_eq!(gate.stats().await.token_requests, 1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    listed(&c).await;
    let stats = gate.stats().await;
    assert_eq!(stats.token_requests, 2, "{stats:?}");
    assert_eq!(
        stats.refused, 0,
        "renewed before expiry, never refused: {stats:?}"
    );
}

/// A token revoked at the server is refused by the target: usher renews it once
/// and the request succeeds; when the fresh one is refused too, usher stops
/// (unauthorized) instead of asking again and again.
#[tokio::test]
async fn a_401_renews_the_token_once_then_gives_up() {
    let Some(gate) = Gate::oauth(3600, "client_secret_basic") else {
        return;
    };
    let c = oauth(&gate, CLIENT_SECRET, json!({}));
    listed(&c).await;
    gate.revoke_all().await;
    c.create_user(&UserRecord::new("usher-id-cy", "cy"))
        .await
        .expect("created with a renewed token");
    let stats = gate.stats().await;
    assert_eq!((stats.token_requests, stats.refused), (2, 1), "{stats:?}");

    gate.refuse_all().await;
    let e = c
        .list_users(&PageRequest::first(1))
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), &ErrorKind::Unauthorized, "{e}");
    assert_eq!(e.http_status(), Some(401));
    assert!(e.message().contains("freshly issued access token"), "{e}");
    let stats = gate.stats().await;
    assert_eq!((stats.token_requests, stats.refused), (3, 3), "{stats:?}");
}

/// The authorization server's refusal (RFC 6749 §5.2) reaches the report as an
/// unauthorized error with its code, saying which keys to check, and never the
/// secret.
#[tokio::test]
async fn bad_client_credentials_are_unauthorized_with_the_oauth_error_code() {
    let Some(gate) = Gate::oauth(3600, "client_secret_basic") else {
        return;
    };
    let e = oauth(&gate, "not-the-secret", json!({}))
        .test_connection()
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), &ErrorKind::Unauthorized, "{e}");
    assert_eq!(e.remote_code(), Some("invalid_client"), "{e}");
    assert!(e.message().contains("auth.client_secret"), "{e}");
    assert!(!e.message().contains("not-the-secret"), "{e}");

    let e = oauth(&gate, CLIENT_SECRET, json!({"scope": "admin"}))
        .test_connection()
        .await
        .expect_err("refused");
    assert_eq!(e.remote_code(), Some("invalid_scope"), "{e}");
    assert!(e.message().contains("auth.scope"), "{e}");
    assert_eq!(
        gate.stats().await.scim_requests,
        0,
        "no token, no SCIM call"
    );
}

/// HTTP Basic client authentication by default (RFC 6749 §2.3.1, with the
/// id and secret form-encoded first: the secret has spaces and symbols), and
/// `client_secret_post` for servers that want the secret in the body.
#[tokio::test]
async fn client_secret_basic_by_default_and_client_secret_post_on_request() {
    let Some(gate) = Gate::oauth(3600, "client_secret_post") else {
        return;
    };
    oauth(&gate, CLIENT_SECRET, json!({}))
        .test_connection()
        .await
        .expect("basic");
    let post = json!({"token_endpoint_auth_method": "client_secret_post"});
    oauth(&gate, CLIENT_SECRET, post)
        .test_connection()
        .await
        .expect("post");
    let stats = gate.stats().await;
    assert_eq!(
        (stats.client_secret_basic, stats.client_secret_post),
        (1, 1),
        "{stats:?}"
    );
}
