//! Upstreams and the audit log.

use serde_json::json;
use time::Duration;
use usher_core::ports::{AuditLog, Directory, Registry};
use usher_core::{
    Error, NewAuditEntry, NewIdentityLink, NewUser, Upstream, UpstreamId, UpstreamKind,
};
use usher_store::Database;

use super::harness::{START, clocked};

fn upstream(id: &str, display: &str) -> Upstream {
    Upstream {
        id: UpstreamId::parse(id).expect("id"),
        kind: UpstreamKind::Oidc,
        display_name: display.into(),
        enabled: true,
        settings: json!({"issuer": "https://idp.example.test"}),
        created_at: START,
        updated_at: START,
    }
}

pub async fn upstreams_put_replace_delete(db: Database) {
    let (store, clock) = clocked(&db);
    let stored = store
        .put_upstream(upstream("corp", "Corp"))
        .await
        .expect("put");
    assert_eq!(stored, upstream("corp", "Corp"));
    store
        .put_upstream(upstream("acme", "Acme"))
        .await
        .expect("put");

    clock.advance(Duration::hours(1));
    let mut changed = upstream("corp", "Corp SSO");
    changed.kind = UpstreamKind::Saml;
    changed.enabled = false;
    let replaced = store.put_upstream(changed).await.expect("replaced");
    assert_eq!(replaced.display_name, "Corp SSO");
    assert_eq!(replaced.kind, UpstreamKind::Saml);
    assert_eq!(replaced.created_at, START, "creation time kept on replace");
    assert_eq!(replaced.updated_at, START + Duration::hours(1));
    assert_eq!(
        store.get_upstream(&replaced.id).await.expect("read"),
        replaced
    );

    let ids: Vec<String> = store
        .list_upstreams()
        .await
        .expect("list")
        .into_iter()
        .map(|u| u.id.to_string())
        .collect();
    assert_eq!(ids, ["acme", "corp"]);

    let user = store
        .create_user(NewUser::named("alice"))
        .await
        .expect("user");
    for (up, subject) in [("corp", "s1"), ("corp", "s2"), ("acme", "s1")] {
        store
            .link_identity(NewIdentityLink {
                upstream: UpstreamId::parse(up).expect("id"),
                subject: subject.into(),
                user_id: user.id,
            })
            .await
            .expect("linked");
    }
    store.delete_upstream(&replaced.id).await.expect("deleted");
    let links = store.links_of(user.id).await.expect("links");
    assert_eq!(links.len(), 1, "only the other upstream's link is left");
    assert_eq!(links[0].upstream.as_str(), "acme");
    store.get_user(user.id).await.expect("the user stays");
    let err = store.get_upstream(&replaced.id).await.expect_err("gone");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let err = store.delete_upstream(&replaced.id).await.expect_err("gone");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

pub async fn audit_log_range(db: Database) {
    let (store, clock) = clocked(&db);
    let mut entries = Vec::new();
    for i in 0..5 {
        let entry = store
            .record(NewAuditEntry {
                actor: "admin:alice".into(),
                action: format!("test.{i}"),
                target: (i % 2 == 0).then(|| format!("t{i}")),
                details: json!({"i": i, "quote": "'\""}),
            })
            .await
            .expect("recorded");
        entries.push(entry);
        clock.advance(Duration::seconds(10));
    }
    assert!(entries.windows(2).all(|w| w[0].id < w[1].id));
    // [START+10s, START+30s): entries 1 and 2.
    let got = store
        .between(
            START + Duration::seconds(10),
            START + Duration::seconds(30),
            100,
        )
        .await
        .expect("range");
    assert_eq!(got, entries[1..3]);
    // Sub-second bounds: (START+9.5s) includes entry 1, (START+30.5s) includes entry 3.
    let got = store
        .between(
            START + Duration::milliseconds(9_500),
            START + Duration::milliseconds(30_500),
            100,
        )
        .await
        .expect("range");
    assert_eq!(got, entries[1..4]);
    let got = store
        .between(START, START + Duration::hours(1), 2)
        .await
        .expect("range");
    assert_eq!(got, entries[..2], "limit keeps the oldest");
    let none = store
        .between(START + Duration::hours(1), START, 10)
        .await
        .expect("empty");
    assert!(none.is_empty());
}
