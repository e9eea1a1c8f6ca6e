//! Accounts pushed into the real `scim2-server`.

use serde_json::json;
use usher_connector::{Connector, Email, ErrorKind, MatchKey, MatchKeys, PageRequest, UserRecord};

use crate::support::{Peer, connector};

fn ann() -> UserRecord {
    let mut u = UserRecord::new("usher-id-ann", "ann");
    u.display_name = Some("Ann Example".into());
    u.given_name = Some("Ann".into());
    u.family_name = Some("Example".into());
    u.emails = vec![Email::new("ann@example.com", true)];
    u
}

fn keys(list: &[MatchKey]) -> MatchKeys {
    MatchKeys::new(list.to_vec()).expect("keys")
}

#[tokio::test]
async fn create_then_find_by_each_match_key() {
    let Some(peer) = Peer::start() else { return };
    let c = peer.connector();
    c.test_connection().await.expect("connection");
    assert!(
        c.capabilities().partial_update,
        "scim2-server advertises PATCH"
    );
    let id = c.create_user(&ann()).await.expect("created");

    let stored = peer.get(&format!("/Users/{id}")).await;
    assert_eq!(stored["externalId"], "usher-id-ann");
    assert_eq!(stored["userName"], "ann");
    assert_eq!(stored["name"]["givenName"], "Ann");
    assert_eq!(stored["emails"][0]["value"], "ann@example.com");
    assert_eq!(stored["active"], true);

    for key in [MatchKey::ExternalId, MatchKey::UserName, MatchKey::Email] {
        // Only this key can match: the others name nobody.
        let mut probe = UserRecord::new("nobody", "nobody");
        match key {
            MatchKey::ExternalId => probe.external_id = "usher-id-ann".into(),
            MatchKey::UserName => probe.user_name = "ann".into(),
            MatchKey::Email => probe.emails = vec![Email::new("ann@example.com", true)],
        }
        let found = c
            .find_user(&MatchKeys::default(), &probe)
            .await
            .expect("lookup")
            .unwrap_or_else(|| panic!("found by {key:?}"));
        assert_eq!(found.id, id, "{key:?}");
        assert_eq!(found.user.user_name, "ann");
    }
    let none = c
        .find_user(
            &keys(&[MatchKey::UserName]),
            &UserRecord::new("x", "nobody"),
        )
        .await
        .expect("lookup");
    assert!(none.is_none());
}

/// A filter value with a quote and a backslash stays one string (RFC 7644
/// §3.4.2.2): no filter injection that could match someone else.
#[tokio::test]
async fn a_filter_value_with_quotes_cannot_match_another_account() {
    let Some(peer) = Peer::start() else { return };
    let c = peer.connector();
    c.create_user(&ann()).await.expect("created");
    let hostile = UserRecord::new("x", r#"nobody" or userName pr or userName eq "\"#);
    let found = c
        .find_user(&keys(&[MatchKey::UserName]), &hostile)
        .await
        .expect("lookup");
    assert!(found.is_none(), "{found:?}");
}

/// A worker that stopped after the target created the account sends the create
/// again: the answer names the existing account, and there is still one.
#[tokio::test]
async fn a_retried_create_adopts_instead_of_duplicating() {
    let Some(peer) = Peer::start() else { return };
    let c = peer.connector();
    let id = c.create_user(&ann()).await.expect("created");
    let again = c.create_user(&ann()).await.expect_err("a conflict");
    assert_eq!(again.kind(), &ErrorKind::Conflict { existing: Some(id) });
    assert_eq!(again.remote_code(), Some("uniqueness"));
    assert_eq!(again.http_status(), Some(409));
    assert_eq!(peer.count(r#"userName eq "ann""#).await, 1);
}

/// With PATCH, an update sends only what changed: an attribute set on the target
/// by someone else survives (a PUT would have wiped it).
#[tokio::test]
async fn an_update_sends_only_the_changed_fields() {
    let Some(peer) = Peer::start() else { return };
    let c = peer.connector();
    let before = ann();
    let id = c.create_user(&before).await.expect("created");
    let path = format!("/Users/{id}");
    peer.patch(
        &path,
        json!([{"op": "replace", "path": "title", "value": "Set elsewhere"}]),
    )
    .await;
    let mut after = before.clone();
    after.display_name = Some("Ann B. Example".into());
    after.family_name = None;
    c.update_user(&id, &after, Some(&before))
        .await
        .expect("updated");
    let stored = peer.get(&path).await;
    assert_eq!(stored["displayName"], "Ann B. Example");
    assert!(stored["name"].get("familyName").is_none(), "{stored}");
    assert_eq!(stored["name"]["givenName"], "Ann");
    assert_eq!(
        stored["title"], "Set elsewhere",
        "only the difference was sent"
    );

    // Unknown last push: the whole desired state replaces the resource.
    after.display_name = Some("Ann C.".into());
    c.update_user(&id, &after, None).await.expect("replaced");
    let stored = peer.get(&path).await;
    assert_eq!(stored["displayName"], "Ann C.");
    assert_eq!(stored["userName"], "ann");
    assert!(stored.get("title").is_none(), "a PUT replaces: {stored}");
}

#[tokio::test]
async fn deactivate_and_reactivate_keep_the_same_account() {
    let Some(peer) = Peer::start() else { return };
    for quirks in [json!({}), json!({"no_patch": true})] {
        let c = connector(&peer.base, crate::support::TOKEN, json!({"quirks": quirks}));
        let mut user = ann();
        user.external_id = format!("id-{quirks}");
        user.user_name = format!("ann-{}", quirks.as_object().map_or(0, |o| o.len()));
        user.emails.clear();
        let id = c.create_user(&user).await.expect("created");
        let path = format!("/Users/{id}");
        c.deactivate_user(&id).await.expect("deactivated");
        c.deactivate_user(&id).await.expect("deactivated twice");
        assert_eq!(peer.get(&path).await["active"], false, "{quirks}");
        c.reactivate_user(&id).await.expect("reactivated");
        let stored = peer.get(&path).await;
        assert_eq!(stored["active"], true, "{quirks}");
        assert_eq!(stored["id"], id.as_str());
        assert_eq!(stored["userName"], user.user_name.as_str());
    }
}

#[tokio::test]
async fn a_second_delete_is_done_and_an_update_of_the_gone_is_not_found() {
    let Some(peer) = Peer::start() else { return };
    let c = peer.connector();
    let id = c.create_user(&ann()).await.expect("created");
    c.delete_user(&id).await.expect("deleted");
    c.delete_user(&id).await.expect("deleted again");
    assert_eq!(peer.count(r#"userName eq "ann""#).await, 0);
    let e = c.update_user(&id, &ann(), None).await.expect_err("gone");
    assert_eq!(e.kind(), &ErrorKind::NotFound);
    assert_eq!(e.http_status(), Some(404));
}

#[tokio::test]
async fn listing_walks_every_page() {
    let Some(peer) = Peer::start() else { return };
    let c = peer.connector();
    for n in 0..5 {
        c.create_user(&UserRecord::new(format!("id-{n}"), format!("user-{n}")))
            .await
            .expect("created");
    }
    let mut seen = Vec::new();
    let mut page = PageRequest::first(2);
    loop {
        let got = c.list_users(&page).await.expect("page");
        assert!(got.items.len() <= 2);
        seen.extend(got.items.into_iter().map(|u| u.user.user_name));
        match got.next {
            Some(cursor) => page = PageRequest::after(cursor, 2),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["user-0", "user-1", "user-2", "user-3", "user-4"]);
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized() {
    let Some(peer) = Peer::start() else { return };
    let c = connector(&peer.base, "not-the-token", json!({}));
    let e = c.test_connection().await.expect_err("refused");
    assert_eq!(e.kind(), &ErrorKind::Unauthorized, "{e}");
    assert_eq!(e.http_status(), Some(401));
    assert!(e.message().contains("auth.token"), "{e}");
    let e = c.create_user(&ann()).await.expect_err("refused");
    assert_eq!(e.kind(), &ErrorKind::Unauthorized, "{e}");
}
