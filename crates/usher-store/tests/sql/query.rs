//! Queries (the core's filter AST on SQL) and the provisioning writes: conditional,
//! audited, atomic with their outbox events.

use std::sync::Arc;

use time::Duration;
use usher_core::ports::{AuditLog, Directory, ScimClients};
use usher_core::query::{
    CompareOp, EmailField, Filter, GroupLeaf, GroupQuery, Leaf, MAX_FILTER_TERMS, Query, UserField,
    UserFilter, UserLeaf, UserQuery, UserSort, Value,
};
use usher_core::{
    Email, Error, GroupChange, GroupUpdate, LifecycleEvent, NewGroup, NewUser, UniqueKey,
    UserUpdate,
};
use usher_store::Database;

use super::harness::{START, clocked, take_events};

fn cmp(field: UserField, op: CompareOp, v: &str) -> UserFilter {
    Filter::Leaf(UserLeaf::Field(Leaf::Compare(
        field,
        op,
        Value::Text(v.into()),
    )))
}

fn all(filter: Option<UserFilter>) -> UserQuery {
    Query {
        filter,
        owner: None,
        sort: Some(UserSort::Username),
        descending: false,
        offset: 0,
        limit: 100,
    }
}

async fn names(store: &usher_store::SqlStore, filter: UserFilter) -> Vec<String> {
    store
        .query_users(&all(Some(filter)))
        .await
        .expect("query runs")
        .items
        .into_iter()
        .map(|u| u.username)
        .collect()
}

async fn seed(store: &usher_store::SqlStore) {
    let mut alice = NewUser::named("Alice");
    alice.emails = vec![
        Email::new("alice@work.example", true, true).with_kind(Some("work".into())),
        Email::new("alice@home.example", true, false).with_kind(Some("home".into())),
    ];
    alice.given_name = Some("Alice".into());
    alice.external_id = Some("EXT-1".into());
    alice
        .attributes
        .insert("title".into(), serde_json::json!("Engineer"));
    alice.attributes.insert(
        "manager".into(),
        serde_json::json!({"value": "boss-id", "displayName": "Boss"}),
    );
    alice.provisioned_by = Some("entra".into());
    store
        .provision_user(alice, "scim:entra")
        .await
        .expect("alice");
    let mut bob = NewUser::named("bob");
    bob.emails = vec![Email::new("bob@home.example", true, true).with_kind(Some("work".into()))];
    bob.active = false;
    bob.provisioned_by = Some("okta".into());
    store.provision_user(bob, "scim:okta").await.expect("bob");
    let mut pct = NewUser::named("100%_done");
    pct.display_name = Some("O'Brien \"quoted\"".into());
    store.create_user(pct).await.expect("pct");
}

pub async fn filters_translate_to_bound_sql(db: Database) {
    let (store, _) = clocked(&db);
    seed(&store).await;

    // Case-insensitive username, case-exact external id.
    assert_eq!(
        names(&store, cmp(UserField::Username, CompareOp::Eq, "ALICE")).await,
        ["Alice"]
    );
    assert!(
        names(&store, cmp(UserField::ExternalId, CompareOp::Eq, "ext-1"))
            .await
            .is_empty()
    );
    assert_eq!(
        names(&store, cmp(UserField::ExternalId, CompareOp::Eq, "EXT-1")).await,
        ["Alice"]
    );
    // LIKE metacharacters in values are literal.
    assert_eq!(
        names(&store, cmp(UserField::Username, CompareOp::Co, "%_")).await,
        ["100%_done"]
    );
    assert!(
        names(&store, cmp(UserField::Username, CompareOp::Sw, "_"))
            .await
            .is_empty()
    );
    assert_eq!(
        names(&store, cmp(UserField::Username, CompareOp::Ew, "CE")).await,
        ["Alice"]
    );
    // Quotes are data.
    assert_eq!(
        names(
            &store,
            cmp(UserField::DisplayName, CompareOp::Co, "o'brien \"q")
        )
        .await,
        ["100%_done"]
    );
    // ne and not match users without the attribute (two-valued leaves).
    assert_eq!(
        names(&store, cmp(UserField::GivenName, CompareOp::Ne, "alice")).await,
        ["100%_done", "bob"]
    );
    assert_eq!(
        names(
            &store,
            Filter::Not(Box::new(cmp(UserField::GivenName, CompareOp::Eq, "alice")))
        )
        .await,
        ["100%_done", "bob"]
    );
    // Booleans.
    let inactive = Filter::Leaf(UserLeaf::Field(Leaf::Compare(
        UserField::Active,
        CompareOp::Eq,
        Value::Bool(false),
    )));
    assert_eq!(names(&store, inactive).await, ["bob"]);
    // Value path: one address must be both work and contain "@work".
    let same_row = Filter::Leaf(UserLeaf::AnyEmail(Filter::And(vec![
        Filter::Leaf(Leaf::Compare(
            EmailField::Kind,
            CompareOp::Eq,
            Value::Text("WORK".into()),
        )),
        Filter::Leaf(Leaf::Compare(
            EmailField::Address,
            CompareOp::Co,
            Value::Text("@home".into()),
        )),
    ])));
    assert_eq!(names(&store, same_row).await, ["bob"]);
    // JSON attributes, nested too.
    let title = UserField::Attribute {
        path: vec!["title".into()],
        case_exact: false,
    };
    assert_eq!(
        names(&store, cmp(title.clone(), CompareOp::Eq, "engineer")).await,
        ["Alice"]
    );
    assert_eq!(
        names(&store, Filter::Leaf(UserLeaf::Field(Leaf::Present(title)))).await,
        ["Alice"]
    );
    let manager = UserField::Attribute {
        path: vec!["manager".into(), "value".into()],
        case_exact: true,
    };
    assert_eq!(
        names(&store, cmp(manager, CompareOp::Eq, "boss-id")).await,
        ["Alice"]
    );
    // Times, rounded to stored seconds.
    let created = |op, t| {
        Filter::Leaf(UserLeaf::Field(Leaf::Compare(
            UserField::Created,
            op,
            Value::Time(t),
        )))
    };
    assert_eq!(names(&store, created(CompareOp::Ge, START)).await.len(), 3);
    assert!(
        names(&store, created(CompareOp::Gt, START))
            .await
            .is_empty()
    );
    assert!(
        names(
            &store,
            created(CompareOp::Eq, START + Duration::milliseconds(500))
        )
        .await
        .is_empty()
    );
    // An id that is no UUID matches nothing instead of failing.
    assert!(
        names(&store, cmp(UserField::Id, CompareOp::Eq, "x' OR 1=1 --"))
            .await
            .is_empty()
    );
    // A wrongly typed comparison is Invalid, not a database error.
    let err = store
        .query_users(&all(Some(cmp(UserField::Active, CompareOp::Gt, "x"))))
        .await
        .expect_err("typed");
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
}

pub async fn queries_page_count_and_scope(db: Database) {
    let (store, _) = clocked(&db);
    seed(&store).await;
    let mut q = all(None);
    q.limit = 1;
    q.offset = 1;
    let slice = store.query_users(&q).await.expect("page");
    assert_eq!(slice.total, 3);
    assert_eq!(slice.items.len(), 1);
    assert_eq!(slice.items[0].username, "Alice");
    q.descending = true;
    q.offset = 0;
    assert_eq!(
        store.query_users(&q).await.expect("page").items[0].username,
        "bob"
    );
    let mut q = all(None);
    q.owner = Some("entra".into());
    let slice = store.query_users(&q).await.expect("owned");
    assert_eq!(slice.total, 1);
    assert_eq!(slice.items[0].provisioned_by.as_deref(), Some("entra"));
    let mut q = all(None);
    q.offset = 10;
    assert!(
        store
            .query_users(&q)
            .await
            .expect("past the end")
            .items
            .is_empty()
    );
}

pub async fn oversized_filters_are_refused(db: Database) {
    let (store, _) = clocked(&db);
    let many = Filter::Or(vec![
        cmp(UserField::Username, CompareOp::Eq, "x");
        MAX_FILTER_TERMS + 1
    ]);
    let err = store
        .query_users(&all(Some(many)))
        .await
        .expect_err("too many");
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    let mut deep = cmp(UserField::Username, CompareOp::Eq, "x");
    for _ in 0..100 {
        deep = Filter::Not(Box::new(deep));
    }
    let err = store
        .query_users(&all(Some(deep)))
        .await
        .expect_err("too deep");
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
}

pub async fn conditional_writes_and_audit(db: Database) {
    let (store, _) = clocked(&db);
    let user = store
        .provision_user(NewUser::named("carol"), "scim:entra")
        .await
        .expect("carol");
    assert_eq!(user.version, 1);
    take_events(&store).await;
    let update = UserUpdate {
        active: Some(false),
        ..UserUpdate::default()
    };
    let err = store
        .replace_user(user.id, update.clone(), Some(7), "scim:entra")
        .await
        .expect_err("stale");
    assert!(
        matches!(err, Error::VersionMismatch { current: 1, .. }),
        "{err:?}"
    );
    assert!(
        take_events(&store).await.is_empty(),
        "a stale write emits nothing"
    );
    let changed = store
        .replace_user(user.id, update, Some(1), "scim:entra")
        .await
        .expect("fresh");
    assert_eq!(changed.version, 2);
    assert_eq!(
        take_events(&store).await,
        [LifecycleEvent::UserDeactivated { user_id: user.id }]
    );
    let err = store
        .remove_user(user.id, Some(1), "scim:entra")
        .await
        .expect_err("stale delete");
    assert!(matches!(err, Error::VersionMismatch { .. }), "{err:?}");
    store.get_user(user.id).await.expect("still there");
    let audit = store
        .between(START - Duration::hours(1), START + Duration::hours(1), 100)
        .await
        .expect("audit");
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["user.create", "user.deactivate"]);
    assert!(audit.iter().all(|a| a.actor == "scim:entra"));
    // A conflicting create leaves no audit record behind either.
    let err = store
        .provision_user(NewUser::named("CAROL"), "scim:entra")
        .await
        .expect_err("dup");
    assert!(
        matches!(err, Error::Conflict(UniqueKey::Username)),
        "{err:?}"
    );
    let audit = store
        .between(START - Duration::hours(1), START + Duration::hours(1), 100)
        .await
        .expect("audit");
    assert_eq!(audit.len(), 2);
}

pub async fn group_changes_are_atomic(db: Database) {
    let (store, _) = clocked(&db);
    let a = store.create_user(NewUser::named("a")).await.expect("a");
    let b = store.create_user(NewUser::named("b")).await.expect("b");
    let group = store
        .provision_group(
            NewGroup {
                provisioned_by: Some("entra".into()),
                ..NewGroup::named("g")
            },
            &[a.id],
            "scim:entra",
        )
        .await
        .expect("group");
    assert_eq!(
        store.member_ids(group.id, 10).await.expect("members"),
        [a.id]
    );
    take_events(&store).await;
    // An unknown member makes the whole change fail: no rename, no add.
    let change = GroupChange {
        update: GroupUpdate {
            name: Some("renamed".into()),
            ..GroupUpdate::default()
        },
        add: vec![b.id, usher_core::UserId::new()],
        remove: vec![a.id],
    };
    let err = store
        .change_group(group.id, change, None, "scim:entra")
        .await
        .expect_err("unknown member");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let same = store.get_group(group.id).await.expect("group");
    assert_eq!(same.name, "g");
    assert_eq!(same.version, group.version);
    assert_eq!(
        store.member_ids(group.id, 10).await.expect("members"),
        [a.id]
    );
    assert!(take_events(&store).await.is_empty());
    // Stale If-Match.
    let err = store
        .change_group(group.id, GroupChange::default(), Some(99), "scim:entra")
        .await
        .expect_err("stale");
    assert!(matches!(err, Error::VersionMismatch { .. }), "{err:?}");
    // Two concurrent changes adding different members both land.
    let users: Vec<_> = futures_join(&store, group.id).await;
    let mut members = store.member_ids(group.id, 100).await.expect("members");
    members.sort();
    let mut expected = users;
    expected.push(a.id);
    expected.sort();
    assert_eq!(members, expected);
    let after = store.get_group(group.id).await.expect("group");
    assert_eq!(after.version, group.version + 8);
    // Membership filter.
    let q: GroupQuery = Query {
        filter: Some(Filter::Leaf(GroupLeaf::Member(
            CompareOp::Eq,
            Value::Text(a.id.to_string()),
        ))),
        owner: Some("entra".into()),
        sort: None,
        descending: false,
        offset: 0,
        limit: 10,
    };
    assert_eq!(store.query_groups(&q).await.expect("query").total, 1);
}

async fn futures_join(
    store: &usher_store::SqlStore,
    group: usher_core::GroupId,
) -> Vec<usher_core::UserId> {
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(
            store
                .create_user(NewUser::named(format!("c{i}")))
                .await
                .expect("user")
                .id,
        );
    }
    let store = Arc::new(store.clone());
    let mut tasks = Vec::new();
    for id in ids.clone() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let change = GroupChange {
                add: vec![id],
                ..GroupChange::default()
            };
            store
                .change_group(group, change, None, "scim:entra")
                .await
                .expect("concurrent add");
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    ids
}

pub async fn scim_client_tokens(db: Database) {
    let (store, _) = clocked(&db);
    store
        .create_scim_client("entra", "digest-1")
        .await
        .expect("create");
    let err = store
        .create_scim_client("entra", "digest-2")
        .await
        .expect_err("dup name");
    assert!(
        matches!(err, Error::Conflict(UniqueKey::ScimClient)),
        "{err:?}"
    );
    let err = store
        .create_scim_client("bad name", "digest-3")
        .await
        .expect_err("bad name");
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    let found = store.scim_client_by_token("digest-1").await.expect("find");
    assert_eq!(found.expect("found").name, "entra");
    store
        .touch_scim_client("entra", START)
        .await
        .expect("touch");
    let listed = store.scim_clients().await.expect("list");
    assert_eq!(listed[0].last_used_at, Some(START));
    store
        .put_config_scim_client("okta", "digest-4", "config")
        .await
        .expect("config");
    store
        .put_config_scim_client("okta", "digest-5", "config")
        .await
        .expect("re-key");
    assert!(
        store
            .scim_client_by_token("digest-4")
            .await
            .expect("old")
            .is_none()
    );
    assert!(store.revoke_scim_client("entra").await.expect("revoke"));
    assert!(!store.revoke_scim_client("entra").await.expect("again"));
    assert!(
        store
            .scim_client_by_token("digest-1")
            .await
            .expect("gone")
            .is_none()
    );
}
