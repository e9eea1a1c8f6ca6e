//! Hostile and edge-case inputs, and timestamp precision.

use serde_json::json;
use time::Duration;
use time::macros::datetime;
use usher_core::ports::{AuditLog, Directory, ManualClock};
use usher_core::{
    Error, NewAuditEntry, NewGroup, NewIdentityLink, NewUser, UpstreamId, UserUpdate,
};
use usher_store::Database;

use super::harness::{clocked, take_events, user_count};

const INJECTION: &str = "'; DROP TABLE users; --";

/// SQL injection: every value is bound, so SQL-looking text is stored and matched
/// verbatim and no table goes anywhere.
pub async fn sql_injection_strings_are_data(db: Database) {
    let (store, _) = clocked(&db);
    let mut new = NewUser::named(INJECTION).with_email("o'brien+x@example.test", true);
    new.display_name = Some("Robert'); DROP TABLE groups;--".into());
    new.external_id = Some("\" OR 1=1 --".into());
    new.attributes = json!({"note": "a\"b'c\\d", "nested": {"k": [INJECTION]}})
        .as_object()
        .expect("object")
        .clone();
    let user = store.create_user(new).await.expect("created");

    let by_name = store.find_user_by_username(INJECTION).await.expect("q");
    assert_eq!(by_name.as_ref(), Some(&user));
    let by_email = store
        .find_user_by_email("O'Brien+X@example.test")
        .await
        .expect("q");
    assert_eq!(by_email.map(|u| u.id), Some(user.id));
    let by_ext = store
        .find_user_by_external_id("\" OR 1=1 --")
        .await
        .expect("q");
    assert_eq!(by_ext.map(|u| u.id), Some(user.id));
    assert!(
        store
            .find_user_by_username("' OR '1'='1")
            .await
            .expect("q")
            .is_none()
    );
    assert!(
        store
            .find_user_by_external_id("%")
            .await
            .expect("q")
            .is_none()
    );

    let group = store
        .create_group(NewGroup::named("x'); DELETE FROM group_members; --"))
        .await
        .expect("group");
    assert!(store.add_member(group.id, user.id).await.expect("added"));
    let corp = UpstreamId::parse("corp").expect("id");
    store
        .link_identity(NewIdentityLink {
            upstream: corp.clone(),
            subject: INJECTION.into(),
            user_id: user.id,
        })
        .await
        .expect("linked");
    let linked = store.find_user_by_link(&corp, INJECTION).await.expect("q");
    assert_eq!(linked.map(|u| u.id), Some(user.id));

    // Unicode round-trips and folds case for lookups.
    let u2 = store
        .create_user(NewUser::named("Ünïcødé-ß"))
        .await
        .expect("unicode");
    let found = store.find_user_by_username("üNÏCØDÉ-ß").await.expect("q");
    assert_eq!(found.map(|u| u.id), Some(u2.id));

    assert_eq!(
        user_count(&store).await,
        2,
        "the tables are all still there"
    );
    // Joining bumped the group's version; the rest is as created.
    let groups = store.groups_of(user.id).await.expect("q");
    assert_eq!(groups.len(), 1);
    assert_eq!((&groups[0].id, &groups[0].name), (&group.id, &group.name));
}

pub async fn oversized_and_malformed_inputs_are_invalid(db: Database) {
    let (store, _) = clocked(&db);
    let bad_users = [
        NewUser::named("a".repeat(257)),
        NewUser::named(""),
        NewUser::named(" padded"),
        NewUser::named("nul\0byte"),
        NewUser::named("x").with_email("not-an-address", true),
        NewUser::named("x").with_email(format!("{}@example.test", "a".repeat(320)), true),
    ];
    for user in bad_users {
        let err = store.create_user(user).await.expect_err("invalid");
        assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    }
    let ok = store
        .create_user(NewUser::named("a".repeat(256)))
        .await
        .expect("max length");
    let err = store
        .update_user(
            ok.id,
            UserUpdate {
                username: Some("b".repeat(257)),
                ..UserUpdate::default()
            },
        )
        .await
        .expect_err("invalid");
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    let err = store
        .create_group(NewGroup::named("g".repeat(257)))
        .await
        .expect_err("long");
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    let err = store
        .link_identity(NewIdentityLink {
            upstream: UpstreamId::parse("corp").expect("id"),
            subject: String::new(),
            user_id: ok.id,
        })
        .await
        .expect_err("empty subject");
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    assert_eq!(user_count(&store).await, 1);
    assert_eq!(
        take_events(&store).await.len(),
        1,
        "only the valid user's creation"
    );
}

pub async fn timestamps_round_trip(db: Database) {
    // Sub-second and non-UTC input: stored as the same instant, to the second.
    let clock = std::sync::Arc::new(ManualClock::at(
        datetime!(2026-03-29 02:30:15.987654321 +02:00),
    ));
    let store = db.store_with_clock(clock.clone());
    let expected = datetime!(2026-03-29 00:30:15 UTC);
    let user = store
        .create_user(NewUser::named("t"))
        .await
        .expect("created");
    assert_eq!(user.created_at, expected);
    let read = store.get_user(user.id).await.expect("read");
    assert_eq!(read.created_at, expected);
    assert_eq!(read.updated_at, expected);

    clock.advance(Duration::milliseconds(20));
    let entry = store
        .record(NewAuditEntry {
            actor: "cli".into(),
            action: "test".into(),
            target: None,
            details: json!({}),
        })
        .await
        .expect("recorded");
    assert_eq!(entry.at, datetime!(2026-03-29 00:30:16 UTC));
    let back = store
        .between(expected, expected + Duration::hours(1), 10)
        .await
        .expect("read");
    assert_eq!(back, [entry]);
}
