//! The sink speaks enough SCIM for usher's own connector: every operation the
//! provisioning core uses, with PATCH and with PUT only, against a real socket.

use std::time::Duration;

use serde_json::{Value, json};
use usher_connector::{
    Connector, Email, ErrorKind, GroupRecord, MatchKey, MatchKeys, PageRequest, UserRecord,
};
use usher_connector_scim::{ScimConnector, ScimSettings};

use super::{Op, Sink};

fn connector(sink: &Sink, tenant: usize, token: &str, extra: Value) -> ScimConnector {
    let mut settings = json!({
        "base_url": sink.base_url(tenant),
        "auth": {"type": "bearer", "token": token},
    });
    if let (Value::Object(s), Value::Object(e)) = (&mut settings, extra) {
        s.extend(e);
    }
    let settings: ScimSettings = serde_json::from_value(settings).expect("settings");
    ScimConnector::new(settings).expect("valid settings")
}

fn ada(tag: &str) -> UserRecord {
    let mut u = UserRecord::new(format!("usher-id-{tag}"), format!("ada-{tag}"));
    u.display_name = Some("Ada Lovelace".into());
    u.given_name = Some("Ada".into());
    u.family_name = Some("Lovelace".into());
    u.emails = vec![Email::new(format!("ada-{tag}@example.test"), true)];
    u
}

#[tokio::test]
async fn the_scim_connector_creates_finds_updates_deactivates_and_deletes() {
    let sink = Sink::start(2, 1).expect("sink");
    for (tenant, quirks) in [(1, json!({})), (2, json!({"no_patch": true}))] {
        let c = connector(&sink, tenant, sink.token(), json!({"quirks": quirks}));
        c.test_connection().await.expect("connection");
        assert_eq!(c.capabilities().partial_update, tenant == 1, "{quirks}");
        let user = ada("x");
        let id = c.create_user(&user).await.expect("created");

        for key in [MatchKey::ExternalId, MatchKey::UserName, MatchKey::Email] {
            let mut probe = UserRecord::new("nobody", "nobody");
            match key {
                MatchKey::ExternalId => probe.external_id = user.external_id.clone(),
                MatchKey::UserName => probe.user_name = user.user_name.to_uppercase(),
                MatchKey::Email => probe.emails = user.emails.clone(),
            }
            let found = c
                .find_user(&MatchKeys::default(), &probe)
                .await
                .expect("lookup")
                .unwrap_or_else(|| panic!("found by {key:?}"));
            assert_eq!(found.id, id, "{key:?}");
            assert_eq!(found.user, user, "{key:?}: read back as pushed");
        }

        // A retried create is a conflict naming the account, not a second one.
        let again = c.create_user(&user).await.expect_err("a duplicate");
        assert!(
            matches!(again.kind(), ErrorKind::Conflict { existing: Some(e) } if *e == id),
            "{again:?}"
        );

        let mut renamed = user.clone();
        renamed.display_name = Some("Countess of Lovelace".into());
        renamed.emails = vec![Email::new("countess@example.test", true)];
        c.update_user(&id, &renamed, Some(&user))
            .await
            .expect("updated");
        let by_mail = MatchKeys::new(vec![MatchKey::Email]).expect("keys");
        let found = c.find_user(&by_mail, &renamed).await.expect("lookup");
        assert_eq!(
            found.map(|f| f.user.display_name),
            Some(renamed.display_name.clone())
        );
        assert!(
            c.find_user(&by_mail, &user)
                .await
                .expect("lookup")
                .is_none(),
            "the old email is no longer indexed"
        );

        c.deactivate_user(&id).await.expect("deactivated");
        c.deactivate_user(&id).await.expect("deactivated twice");
        let arrivals = sink.arrivals(tenant, &user.external_id).expect("recorded");
        let (created, deactivated) = (
            arrivals.created.expect("create time"),
            arrivals.deactivated.expect("deactivation time"),
        );
        assert!(deactivated > created);
        c.reactivate_user(&id).await.expect("reactivated");

        let page = c
            .list_users(&PageRequest::first(10))
            .await
            .expect("listing");
        assert_eq!(page.items.len(), 1);
        assert!(page.items[0].user.active);

        c.delete_user(&id).await.expect("deleted");
        c.delete_user(&id).await.expect("deleted twice");
        assert!(
            sink.arrivals(tenant, &user.external_id)
                .and_then(|a| a.deleted)
                .is_some()
        );
        let stats = sink.stats(tenant);
        assert_eq!(stats.created, 1);
        assert_eq!(stats.conflicts, 1, "the retried create");
        assert_eq!(stats.repeated_creates, 0);
        assert_eq!(stats.users, 0);
        let patches = stats.counts.get(&Op::PatchUser).copied().unwrap_or(0);
        let puts = stats.counts.get(&Op::PutUser).copied().unwrap_or(0);
        if tenant == 1 {
            assert!(patches >= 3 && puts == 0, "{stats:?}");
        } else {
            assert!(puts >= 2 && patches == 0, "{stats:?}");
        }
    }
    sink.stop().await;
}

#[tokio::test]
async fn the_scim_connector_pushes_groups_and_members() {
    let sink = Sink::start(1, 1).expect("sink");
    let c = connector(&sink, 1, sink.token(), json!({}));
    let mut members = Vec::new();
    for n in 0..3 {
        let u = UserRecord::new(format!("id-{n}"), format!("user-{n}"));
        members.push(c.create_user(&u).await.expect("user"));
    }
    let record = GroupRecord::new("group-id", "Engineering");
    let id = c.create_group(&record, &members[..1]).await.expect("group");
    c.add_members(&id, &members[1..]).await.expect("added");
    c.add_members(&id, &members[1..])
        .await
        .expect("added again");
    c.remove_members(&id, &members[..2]).await.expect("removed");
    let found = c.find_group(&record).await.expect("lookup").expect("found");
    assert_eq!(found.id, id);
    let doc: Value = reqwest::Client::new()
        .get(format!("{}/Groups/{id}", sink.base_url(1)))
        .bearer_auth(sink.token())
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    assert_eq!(doc["members"], json!([{"value": members[2].as_str()}]));
    let mut renamed = record.clone();
    renamed.display_name = "Research".into();
    c.update_group(&id, &renamed, Some(&record))
        .await
        .expect("renamed");
    assert!(c.find_group(&renamed).await.expect("lookup").is_some());
    c.delete_group(&id).await.expect("deleted");
    c.delete_group(&id).await.expect("deleted twice");
    sink.stop().await;
}

#[tokio::test]
async fn an_entra_shaped_deactivation_is_recorded_and_a_wrong_token_refused() {
    let sink = Sink::start(1, 1).expect("sink");
    let http = reqwest::Client::new();
    let base = sink.base_url(1);
    let created: Value = http
        .post(format!("{base}/Users"))
        .bearer_auth(sink.token())
        .header("content-type", "application/scim+json")
        .body(json!({"userName": "bob", "externalId": "e-bob"}).to_string())
        .send()
        .await
        .expect("POST")
        .json()
        .await
        .expect("JSON");
    let id = created["id"].as_str().expect("an id");
    assert_eq!(created["active"], true);
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
    });
    let waiter = sink.wait_until(Duration::from_secs(5), |s| {
        s.arrivals(1, "e-bob")
            .is_some_and(|a| a.deactivated.is_some())
    });
    let send = http
        .patch(format!("{base}/Users/{id}"))
        .bearer_auth(sink.token())
        .body(patch.to_string())
        .send();
    let (seen, answer) = tokio::join!(waiter, send);
    assert_eq!(answer.expect("PATCH").status(), 200);
    assert!(seen, "the waiter woke on the deactivation");

    let refused = http
        .get(format!("{base}/Users"))
        .bearer_auth("not-the-token")
        .send()
        .await
        .expect("GET");
    assert_eq!(refused.status(), 401);
    let unknown = http
        .get(format!(
            "{}/app9/v2/Users",
            base.trim_end_matches("/app1/v2")
        ))
        .bearer_auth(sink.token())
        .send()
        .await
        .expect("GET");
    assert_eq!(unknown.status(), 404);
    assert_eq!(sink.stats(1).counts.get(&Op::Unauthorized), Some(&1));
    sink.stop().await;
}
