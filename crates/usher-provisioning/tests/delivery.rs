//! Delivery end to end: jobs pushed through the real SCIM connector into
//! scim2-server, and what the server then holds.

use reqwest::Method;
use serde_json::json;
use usher_connector::{Connector, GroupRecord};
use usher_core::GroupId;
use usher_core::outbound::{AttemptResult, DeprovisionAction, ObjectRef, RemoteState};
use usher_provisioning::{Desired, MEMBER_WAIT_ATTEMPTS, Outcome};

use crate::support::{App, Peer, account, settings, user};

macro_rules! peer {
    () => {
        match Peer::start() {
            Some(p) => p,
            None => return,
        }
    };
}

#[tokio::test]
async fn an_assigned_user_is_created_once_and_a_second_run_sends_nothing() {
    let peer = peer!();
    let app = App::new(peer.connector(), settings(json!({})));
    let (object, record) = user("ada");
    let first = app.deliver(object, &account(&record)).await;
    assert_eq!(first.outcome, Outcome::Complete, "{first:?}");
    assert_eq!(first.report.operation, "create");
    assert_eq!(first.report.result, AttemptResult::Success);
    let mapping = app.mapping(object).expect("mapped");
    assert_eq!(mapping.state, RemoteState::Active);
    let held = peer
        .get(&format!("/Users/{}", mapping.remote_id))
        .await
        .expect("on the server");
    assert_eq!(held["userName"], "ada");
    assert_eq!(held["externalId"], record.external_id.as_str());
    assert_eq!(held["emails"][0]["value"], "ada@example.com");

    let again = app.deliver(object, &account(&record)).await;
    assert_eq!(again.outcome, Outcome::Complete);
    assert_eq!(again.report.result, AttemptResult::NoChange, "{again:?}");
    assert_eq!(peer.count("userName eq \"ada\"").await, 1);
}

#[tokio::test]
async fn an_account_the_app_already_has_is_adopted_not_duplicated() {
    let peer = peer!();
    let (object, record) = user("grace");
    // Someone made the account before usher knew the app (or an earlier attempt
    // made it and died before recording it).
    let mut seeded = record.clone();
    seeded.display_name = Some("G. Hopper".into());
    let existing = peer.connector().create_user(&seeded).await.expect("seeded");

    let app = App::new(peer.connector(), settings(json!({})));
    let done = app.deliver(object, &account(&record)).await;
    assert_eq!(done.outcome, Outcome::Complete, "{done:?}");
    assert_eq!(done.report.operation, "adopt+update");
    assert_eq!(
        app.mapping(object).expect("mapped").remote_id,
        existing.as_str()
    );
    assert_eq!(peer.count("userName eq \"grace\"").await, 1);
    let held = peer
        .get(&format!("/Users/{existing}"))
        .await
        .expect("still there");
    assert_eq!(
        held["displayName"], "grace Lovelace",
        "brought to the record"
    );
}

#[tokio::test]
async fn a_conflicting_create_is_answered_by_adopting() {
    let peer = peer!();
    let (object, record) = user("linus");
    // Matching by email only: the lookup misses the account (another address),
    // so the create meets scim2-server's unique userName and gets a 409.
    let mut seeded = record.clone();
    seeded.external_id = "made-elsewhere".into();
    seeded.emails = vec![usher_connector::Email::new("other@example.com", true)];
    let existing = peer.connector().create_user(&seeded).await.expect("seeded");

    let app = App::new(peer.connector(), settings(json!({"match_keys": ["email"]})));
    let done = app.deliver(object, &account(&record)).await;
    assert_eq!(done.outcome, Outcome::Complete, "{done:?}");
    assert!(
        done.report.operation.starts_with("create+adopt"),
        "{:?}",
        done.report
    );
    assert_eq!(
        app.mapping(object).expect("mapped").remote_id,
        existing.as_str()
    );
    assert_eq!(
        peer.count("userName eq \"linus\"").await,
        1,
        "never a second account"
    );
}

#[tokio::test]
async fn an_update_sends_only_what_changed() {
    let peer = peer!();
    let app = App::new(peer.connector(), settings(json!({})));
    let (object, mut record) = user("ken");
    app.deliver(object, &account(&record)).await;
    let id = app.mapping(object).expect("mapped").remote_id;
    // Someone else sets an attribute usher does not map; a whole-resource PUT
    // would wipe it, a PATCH of the changed fields keeps it.
    let status = peer
        .send(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "title", "value": "Hacker"}],
            })),
        )
        .await;
    assert!((200..300).contains(&status), "{status}");

    record.display_name = Some("Ken Thompson".into());
    let done = app.deliver(object, &account(&record)).await;
    assert_eq!(done.report.operation, "update", "{done:?}");
    assert_eq!(done.report.result, AttemptResult::Success);
    let held = peer.get(&format!("/Users/{id}")).await.expect("there");
    assert_eq!(held["displayName"], "Ken Thompson");
    assert_eq!(held["title"], "Hacker", "only the changed field was sent");
    assert_eq!(app.mapping(object).expect("mapped").remote_id, id);
}

#[tokio::test]
async fn deactivate_then_reactivate_keeps_the_same_account() {
    let peer = peer!();
    let app = App::new(peer.connector(), settings(json!({})));
    let (object, mut record) = user("barbara");
    app.deliver(object, &account(&record)).await;
    let id = app.mapping(object).expect("mapped").remote_id;

    // Unassigned: the app's deprovision action (deactivate by default).
    let gone = Desired::Absent {
        action: DeprovisionAction::Deactivate,
    };
    let done = app.deliver(object, &gone).await;
    assert_eq!(done.report.operation, "deactivate", "{done:?}");
    assert_eq!(
        app.mapping(object).expect("kept").state,
        RemoteState::Deactivated
    );
    let held = peer.get(&format!("/Users/{id}")).await.expect("kept");
    assert_eq!(held["active"], false);
    let twice = app.deliver(object, &gone).await;
    assert_eq!(twice.report.result, AttemptResult::NoChange);

    // Assigned again, with a new title: reactivated, then updated, same id.
    record.attributes.insert("title".into(), "Professor".into());
    let back = app.deliver(object, &account(&record)).await;
    assert_eq!(back.report.operation, "reactivate+update", "{back:?}");
    let mapping = app.mapping(object).expect("mapped");
    assert_eq!(mapping.remote_id, id, "the same remote account");
    assert_eq!(mapping.state, RemoteState::Active);
    let held = peer.get(&format!("/Users/{id}")).await.expect("there");
    assert_eq!(held["active"], true);
    assert_eq!(held["title"], "Professor");

    // Deactivated in usher while still assigned: deactivated, never deleted.
    record.active = false;
    let off = app.deliver(object, &account(&record)).await;
    assert_eq!(off.report.operation, "deactivate", "{off:?}");
    let held = peer.get(&format!("/Users/{id}")).await.expect("kept");
    assert_eq!(held["active"], false);
    assert_eq!(peer.count("userName eq \"barbara\"").await, 1);
}

#[tokio::test]
async fn delete_removes_the_account_and_coming_back_makes_a_new_one() {
    let peer = peer!();
    let app = App::new(peer.connector(), settings(json!({"deprovision": "delete"})));
    let (object, record) = user("dennis");
    app.deliver(object, &account(&record)).await;
    let first = app.mapping(object).expect("mapped").remote_id;
    let done = app
        .deliver(
            object,
            &Desired::Absent {
                action: DeprovisionAction::Delete,
            },
        )
        .await;
    assert_eq!(done.report.operation, "delete", "{done:?}");
    assert!(
        peer.get(&format!("/Users/{first}")).await.is_none(),
        "deleted"
    );
    assert_eq!(
        app.mapping(object).expect("row kept").state,
        RemoteState::Deleted
    );

    let back = app.deliver(object, &account(&record)).await;
    assert_eq!(back.report.operation, "create", "{back:?}");
    let second = app.mapping(object).expect("mapped").remote_id;
    assert_ne!(second, first);
    assert_eq!(peer.count("userName eq \"dennis\"").await, 1);
}

#[tokio::test]
async fn an_account_deleted_behind_usher_is_recreated_or_reported() {
    let peer = peer!();
    let app = App::new(peer.connector(), settings(json!({})));
    let (object, mut record) = user("margaret");
    app.deliver(object, &account(&record)).await;
    let old = app.mapping(object).expect("mapped").remote_id;
    assert_eq!(
        peer.send(Method::DELETE, &format!("/Users/{old}"), None)
            .await,
        204
    );
    record.display_name = Some("Margaret Hamilton".into());
    let done = app.deliver(object, &account(&record)).await;
    assert_eq!(done.outcome, Outcome::Complete, "{done:?}");
    assert_eq!(done.report.operation, "update+create");
    assert_ne!(app.mapping(object).expect("mapped").remote_id, old);
    assert_eq!(peer.count("userName eq \"margaret\"").await, 1);

    let strict = App::new(peer.connector(), settings(json!({"on_missing": "report"})));
    let (object, mut record) = user("hedy");
    strict.deliver(object, &account(&record)).await;
    let id = strict.mapping(object).expect("mapped").remote_id;
    assert_eq!(
        peer.send(Method::DELETE, &format!("/Users/{id}"), None)
            .await,
        204
    );
    record.display_name = Some("Hedy Lamarr".into());
    let parked = strict.deliver(object, &account(&record)).await;
    let Outcome::Park { error } = &parked.outcome else {
        panic!("parked: {parked:?}");
    };
    assert!(error.contains("no longer in the app"), "{error}");
    assert_eq!(parked.report.result, AttemptResult::Failed);
    assert_eq!(
        peer.count("userName eq \"hedy\"").await,
        0,
        "not re-created"
    );
}

#[tokio::test]
async fn operations_switched_off_are_skipped_and_the_job_completes() {
    let peer = peer!();
    let app = App::new(
        peer.connector(),
        settings(json!({"operations": {"create": false}})),
    );
    let (object, record) = user("alan");
    let done = app.deliver(object, &account(&record)).await;
    assert_eq!(done.outcome, Outcome::Complete);
    assert_eq!(done.report.result, AttemptResult::Skipped, "{done:?}");
    assert!(app.mapping(object).is_none());
    assert_eq!(peer.count("userName eq \"alan\"").await, 0);
}

#[tokio::test]
async fn a_pushed_group_gets_its_members_in_batches_and_follows_changes() {
    let peer = peer!();
    let app = App::new(peer.connector(), settings(json!({})));
    let mut members = Vec::new();
    let mut remote = Vec::new();
    for n in 0..130 {
        let (object, record) = user(&format!("member{n:03}"));
        let done = app.deliver(object, &account(&record)).await;
        assert_eq!(done.outcome, Outcome::Complete, "{done:?}");
        let ObjectRef::User(id) = object else {
            unreachable!()
        };
        members.push(id);
        remote.push(app.mapping(object).expect("mapped").remote_id);
    }
    let gid = GroupId::new();
    let object = ObjectRef::Group(gid);
    let record = GroupRecord::new(gid.to_string(), "engineering");
    let desired = Desired::Group {
        record: record.clone(),
        members: members.clone(),
    };
    let done = app.deliver(object, &desired).await;
    assert_eq!(done.outcome, Outcome::Complete, "{done:?}");
    // 100 members per call for SCIM: the first hundred with the create, the
    // rest in one more call.
    assert_eq!(done.report.operation, "create_group+add_members");
    let gid_remote = app.mapping(object).expect("mapped").remote_id;
    let held = peer
        .get(&format!("/Groups/{gid_remote}"))
        .await
        .expect("group");
    assert_eq!(held["displayName"], "engineering");
    assert_eq!(held["members"].as_array().map(Vec::len), Some(130));

    // 30 leave, the group is renamed.
    let renamed = GroupRecord::new(gid.to_string(), "platform");
    let desired = Desired::Group {
        record: renamed,
        members: members[30..].to_vec(),
    };
    let done = app.deliver(object, &desired).await;
    assert_eq!(
        done.report.operation, "update_group+remove_members",
        "{done:?}"
    );
    let held = peer
        .get(&format!("/Groups/{gid_remote}"))
        .await
        .expect("group");
    assert_eq!(held["displayName"], "platform");
    let ids: Vec<&str> = held["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["value"].as_str())
        .collect();
    assert_eq!(ids.len(), 100);
    assert!(!ids.contains(&remote[0].as_str()));
    assert!(ids.contains(&remote[129].as_str()));

    // Nothing changed: nothing sent.
    let again = app.deliver(object, &desired).await;
    assert_eq!(again.report.result, AttemptResult::NoChange, "{again:?}");

    // No longer assigned: deleted.
    let done = app
        .deliver(
            object,
            &Desired::Absent {
                action: DeprovisionAction::Deactivate,
            },
        )
        .await;
    assert_eq!(done.report.operation, "delete_group");
    assert!(peer.get(&format!("/Groups/{gid_remote}")).await.is_none());
}

#[tokio::test]
async fn a_member_without_an_account_yet_is_waited_for_then_left_out() {
    let peer = peer!();
    let app = App::new(peer.connector(), settings(json!({})));
    let (pushed, record) = user("early");
    app.deliver(pushed, &account(&record)).await;
    let (late, late_record) = user("late");
    let ids = [pushed, late].map(|o| match o {
        ObjectRef::User(id) => id,
        ObjectRef::Group(_) => unreachable!(),
    });
    let gid = GroupId::new();
    let object = ObjectRef::Group(gid);
    let desired = Desired::Group {
        record: GroupRecord::new(gid.to_string(), "waiting"),
        members: ids.to_vec(),
    };
    let first = app.deliver(object, &desired).await;
    let Outcome::Retry { error, .. } = &first.outcome else {
        panic!("waits for the late member: {first:?}");
    };
    assert!(error.contains("no account in the app yet"), "{error}");
    let remote = app.mapping(object).expect("the group exists").remote_id;
    let held = peer.get(&format!("/Groups/{remote}")).await.expect("group");
    assert_eq!(held["members"].as_array().map(Vec::len), Some(1));

    // The late member's job runs; the group's retry adds them.
    app.deliver(late, &account(&late_record)).await;
    let second = app.deliver_as(object, &desired, 2).await;
    assert_eq!(second.outcome, Outcome::Complete, "{second:?}");
    assert_eq!(second.report.operation, "add_members");
    let held = peer.get(&format!("/Groups/{remote}")).await.expect("group");
    assert_eq!(held["members"].as_array().map(Vec::len), Some(2));

    // One who never gets an account is left out after the last wait.
    let (never, _) = user("never");
    let ObjectRef::User(never) = never else {
        unreachable!()
    };
    let desired = Desired::Group {
        record: GroupRecord::new(gid.to_string(), "waiting"),
        members: vec![ids[0], ids[1], never],
    };
    let last = app.deliver_as(object, &desired, MEMBER_WAIT_ATTEMPTS).await;
    assert_eq!(last.outcome, Outcome::Complete, "{last:?}");
    assert!(
        last.report
            .message
            .as_deref()
            .is_some_and(|m| m.contains("left out")),
        "{last:?}"
    );
}
