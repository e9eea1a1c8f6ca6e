//! Applications: the configuration sync (stable ids, updates, removals, conflicts,
//! events and audit), and the fixtures `app_sealing` and `app_assignments` share.

use std::collections::BTreeSet;

use serde_json::json;
use time::Duration;
use usher_core::outbound::ProvisioningSettings;
use usher_core::ports::{Applications, AuditLog, Directory};
use usher_core::{
    Application, ApplicationId, ApplicationSettings, ApplicationSpec, Assignment, AuditEntry,
    Error, GroupId, LifecycleEvent, ManagedBy, NewGroup, NewUser, SignIn, UniqueKey, UserId,
};
use usher_store::{Database, MasterKey, SqlStore};

use super::harness::{START, clocked, raw_execute, take_events};

pub const TOKEN: &str = "s3cr3t-bearer-token-4711";

pub fn oidc(client_id: &str) -> Option<SignIn> {
    Some(SignIn::Oidc {
        client_id: client_id.into(),
    })
}

pub fn scim(token: &str) -> Option<ProvisioningSettings> {
    Some(
        serde_json::from_value(json!({
            "connector": "scim",
            "settings": {"base_url": "https://scim.example.test/v2", "token": token},
        }))
        .expect("provisioning settings"),
    )
}

pub fn spec(
    name: &str,
    sign_in: Option<SignIn>,
    provisioning: Option<ProvisioningSettings>,
    assignment: Assignment,
) -> ApplicationSpec {
    ApplicationSpec::new(ApplicationSettings {
        name: name.into(),
        display_name: None,
        enabled: true,
        sign_in,
        provisioning,
        assignment,
    })
    .expect("valid spec")
}

fn with_display_name(spec: &ApplicationSpec, display_name: &str) -> ApplicationSpec {
    let mut settings = ApplicationSettings::from(spec.clone());
    settings.display_name = Some(display_name.into());
    ApplicationSpec::new(settings).expect("valid spec")
}

pub fn everyone() -> Assignment {
    Assignment {
        everyone: true,
        ..Assignment::default()
    }
}

pub fn groups(ids: &[GroupId]) -> Assignment {
    Assignment {
        groups: ids.iter().copied().collect(),
        ..Assignment::default()
    }
}

pub fn users(ids: &[UserId]) -> Assignment {
    Assignment {
        users: ids.iter().copied().collect(),
        ..Assignment::default()
    }
}

/// A clocked store sealing with a fresh master key, and that key.
pub fn store(
    db: &Database,
) -> (
    SqlStore,
    std::sync::Arc<usher_core::ports::ManualClock>,
    MasterKey,
) {
    let master = MasterKey::generate();
    let (store, clock) = clocked(db);
    (store.with_master_key(master.clone()), clock, master)
}

fn changed(apps: &[&Application]) -> BTreeSet<ApplicationId> {
    apps.iter().map(|a| a.id).collect()
}

fn changed_in(events: &[LifecycleEvent]) -> BTreeSet<ApplicationId> {
    events
        .iter()
        .map(|e| match e {
            LifecycleEvent::ApplicationChanged { application_id } => *application_id,
            other => panic!("unexpected event {other:?}"),
        })
        .collect()
}

async fn config_audit(store: &SqlStore) -> Vec<AuditEntry> {
    store
        .between(START - Duration::days(1), START + Duration::days(30), 1000)
        .await
        .expect("audit reads")
        .into_iter()
        .filter(|e| e.action.starts_with("application."))
        .collect()
}

pub fn named<'a>(apps: &'a [Application], name: &str) -> &'a Application {
    apps.iter()
        .find(|a| a.spec.name() == name)
        .unwrap_or_else(|| panic!("no app {name}"))
}

pub async fn sync_creates_keeps_ids_updates_and_removes(db: Database) {
    let (store, clock, _) = store(&db);
    let alice = store
        .create_user(NewUser::named("alice"))
        .await
        .expect("user");
    let bob = store
        .create_user(NewUser::named("bob"))
        .await
        .expect("user");
    let eng = store
        .create_group(NewGroup::named("eng"))
        .await
        .expect("group");
    take_events(&store).await;

    let wiki = spec("wiki", oidc("wiki"), None, everyone());
    let slack = spec(
        "slack",
        Some(SignIn::Saml {
            entity_id: "https://slack.example.test".into(),
        }),
        scim(TOKEN),
        Assignment {
            everyone: false,
            groups: [eng.id].into(),
            users: [bob.id].into(),
        },
    );
    let synced = store
        .sync_config_applications(vec![wiki.clone(), slack.clone()])
        .await
        .expect("synced");
    let names: Vec<&str> = synced.iter().map(|a| a.spec.name()).collect();
    assert_eq!(names, ["slack", "wiki"], "returned in name order");
    for app in &synced {
        assert_eq!(app.managed_by, ManagedBy::Config);
        assert_eq!((app.created_at, app.updated_at), (START, START));
        assert_eq!(&store.get_application(app.id).await.expect("reads"), app);
    }
    assert_eq!(
        named(&synced, "slack").spec,
        slack,
        "spec round-trips, settings unsealed"
    );
    assert_eq!(store.list_applications().await.expect("lists"), synced);
    let found = store.find_application_by_name("wiki").await.expect("finds");
    assert_eq!(found.as_ref(), Some(named(&synced, "wiki")));
    let by_client = store
        .find_application_by_sign_in(&SignIn::Oidc {
            client_id: "wiki".into(),
        })
        .await
        .expect("finds");
    assert_eq!(by_client.as_ref(), Some(named(&synced, "wiki")));
    let other_protocol = SignIn::Saml {
        entity_id: "wiki".into(),
    };
    assert!(
        store
            .find_application_by_sign_in(&other_protocol)
            .await
            .expect("q")
            .is_none()
    );
    let all: Vec<&Application> = synced.iter().collect();
    assert_eq!(changed_in(&take_events(&store).await), changed(&all));
    let audit = config_audit(&store).await;
    assert_eq!(audit.len(), 2);
    assert!(
        audit
            .iter()
            .all(|e| e.actor == "config" && e.action == "application.create")
    );

    // The same file at the next start: same ids, nothing written, nothing announced.
    clock.advance(Duration::hours(1));
    let again = store
        .sync_config_applications(vec![slack.clone(), wiki.clone()])
        .await
        .expect("synced");
    assert_eq!(again, synced, "ids and timestamps kept");
    assert!(take_events(&store).await.is_empty());
    assert_eq!(config_audit(&store).await.len(), 2);

    // A cosmetic change is written and audited, but the planner has nothing to do.
    let wiki_renamed = with_display_name(&wiki, "The Wiki");
    let updated = store
        .sync_config_applications(vec![slack.clone(), wiki_renamed.clone()])
        .await
        .expect("synced");
    let w = named(&updated, "wiki");
    assert_eq!(w.id, named(&synced, "wiki").id);
    assert_eq!(w.spec.display_name(), "The Wiki");
    assert_eq!(
        (w.created_at, w.updated_at),
        (START, START + Duration::hours(1))
    );
    assert_eq!(&store.get_application(w.id).await.expect("reads"), w);
    assert!(take_events(&store).await.is_empty());
    let audit = config_audit(&store).await;
    assert_eq!(audit.len(), 3);
    assert_eq!(audit[2].action, "application.update");
    assert_eq!(audit[2].target.as_deref(), Some(w.id.to_string().as_str()));

    // An assignment and a token change: announced, once per app.
    let slack_id = named(&synced, "slack").id;
    let slack2 = spec(
        "slack",
        slack.sign_in().cloned(),
        scim("rotated-token"),
        groups(&[eng.id]),
    );
    let updated = store
        .sync_config_applications(vec![slack2.clone(), wiki_renamed.clone()])
        .await
        .expect("synced");
    assert_eq!(named(&updated, "slack").id, slack_id);
    assert_eq!(
        take_events(&store).await,
        [LifecycleEvent::ApplicationChanged {
            application_id: slack_id
        }]
    );
    let read = store.get_application(slack_id).await.expect("reads");
    assert_eq!(read.spec, slack2);
    assert_eq!(
        read.spec.provisioning().expect("side").settings["token"],
        "rotated-token"
    );
    assert!(!store.is_assigned(slack_id, bob.id).await.expect("q"));
    assert!(!store.is_assigned(slack_id, alice.id).await.expect("q"));
    store.add_member(eng.id, alice.id).await.expect("joins");
    assert!(store.is_assigned(slack_id, alice.id).await.expect("q"));
    take_events(&store).await;

    // Switching an app off deprovisions, so the planner hears of it.
    let mut off = ApplicationSettings::from(wiki_renamed.clone());
    off.enabled = false;
    let off = ApplicationSpec::new(off).expect("valid spec");
    store
        .sync_config_applications(vec![slack2.clone(), off])
        .await
        .expect("synced");
    assert_eq!(
        take_events(&store).await,
        [LifecycleEvent::ApplicationChanged {
            application_id: named(&synced, "wiki").id
        }]
    );

    // Gone from the file: removed, announced and audited; its client id is free.
    let wiki_id = named(&synced, "wiki").id;
    let left = store
        .sync_config_applications(vec![slack2.clone()])
        .await
        .expect("synced");
    assert_eq!(left.len(), 1);
    let err = store.get_application(wiki_id).await.expect_err("gone");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert_eq!(
        take_events(&store).await,
        [LifecycleEvent::ApplicationChanged {
            application_id: wiki_id
        }]
    );
    assert_eq!(
        config_audit(&store).await.last().expect("row").action,
        "application.delete"
    );
    let back = store
        .sync_config_applications(vec![slack2.clone(), wiki.clone()])
        .await
        .expect("synced");
    assert_ne!(named(&back, "wiki").id, wiki_id, "a new app, a new id");
}

pub async fn sign_in_keys_can_swap_between_apps_in_one_sync(db: Database) {
    let (store, _, _) = store(&db);
    let a = spec("a", oidc("one"), None, Assignment::default());
    let b = spec("b", oidc("two"), None, Assignment::default());
    let first = store
        .sync_config_applications(vec![a, b])
        .await
        .expect("synced");
    // Each update alone would collide with the other's current key.
    let a = spec("a", oidc("two"), None, Assignment::default());
    let b = spec("b", oidc("one"), None, Assignment::default());
    let swapped = store
        .sync_config_applications(vec![a, b])
        .await
        .expect("swapped");
    assert_eq!(named(&swapped, "a").id, named(&first, "a").id);
    let found = store
        .find_application_by_sign_in(&SignIn::Oidc {
            client_id: "one".into(),
        })
        .await
        .expect("q")
        .expect("found");
    assert_eq!(found.spec.name(), "b");
}

pub async fn sync_conflicts_and_dangling_references_change_nothing(db: Database) {
    let (store, _, _) = store(&db);
    let group = store
        .create_group(NewGroup::named("eng"))
        .await
        .expect("group");
    let wiki = spec("wiki", oidc("wiki"), None, groups(&[group.id]));
    let chat = spec("chat", oidc("chat"), None, Assignment::default());
    // Same key text under another protocol is another key.
    let saml_wiki = spec(
        "saml-wiki",
        Some(SignIn::Saml {
            entity_id: "wiki".into(),
        }),
        None,
        Assignment::default(),
    );
    store
        .sync_config_applications(vec![wiki.clone(), chat.clone(), saml_wiki])
        .await
        .expect("oidc and saml keys are apart");
    let before = store.list_applications().await.expect("lists");
    take_events(&store).await;
    let audit_before = config_audit(&store).await.len();

    let expect_nothing_changed = async |what: &str| {
        assert_eq!(
            store.list_applications().await.expect("lists"),
            before,
            "{what}"
        );
        assert!(take_events(&store).await.is_empty(), "{what}: no event");
        assert_eq!(
            config_audit(&store).await.len(),
            audit_before,
            "{what}: no audit"
        );
    };

    let twice = spec("wiki", oidc("other"), None, Assignment::default());
    let err = store
        .sync_config_applications(vec![wiki.clone(), twice])
        .await
        .expect_err("name twice");
    assert!(
        matches!(err, Error::Conflict(UniqueKey::ApplicationName)),
        "{err:?}"
    );
    expect_nothing_changed("a name declared twice").await;

    let thief = spec("thief", oidc("wiki"), None, everyone());
    let err = store
        .sync_config_applications(vec![wiki.clone(), chat.clone(), thief])
        .await
        .expect_err("client id twice");
    assert!(
        matches!(err, Error::Conflict(UniqueKey::ApplicationSignIn)),
        "{err:?}"
    );
    expect_nothing_changed("a client id declared twice").await;

    let ghost_group = spec("ghost", None, None, groups(&[GroupId::new()]));
    let err = store
        .sync_config_applications(vec![wiki.clone(), ghost_group])
        .await
        .expect_err("dangling group");
    assert!(
        matches!(err, Error::NotFound { entity } if entity.contains("group")),
        "{err:?}"
    );
    expect_nothing_changed("an unknown group").await;
    let ghost_user = spec("ghost", None, None, users(&[UserId::new()]));
    let err = store
        .sync_config_applications(vec![wiki.clone(), chat.clone(), ghost_user])
        .await
        .expect_err("dangling user");
    assert!(
        matches!(err, Error::NotFound { entity } if entity.contains("user")),
        "{err:?}"
    );
    expect_nothing_changed("an unknown user").await;

    // Without a master key a provisioning side is refused, not stored in the clear.
    let keyless = clocked(&db).0;
    let slack = spec("slack", None, scim(TOKEN), everyone());
    let err = keyless
        .sync_config_applications(vec![wiki.clone(), chat.clone(), slack])
        .await
        .expect_err("no master key");
    assert!(
        matches!(&err, Error::Invalid(m) if m.contains("master key")),
        "{err:?}"
    );
    expect_nothing_changed("no master key").await;

    // An app the admin API made (here: marked so beneath the port) is neither
    // taken over, nor removed, nor may its name or client id be declared again.
    raw_execute(
        &db,
        "UPDATE applications SET managed_by = 'api' WHERE name = 'chat'",
    )
    .await;
    let api_chat = store
        .find_application_by_name("chat")
        .await
        .expect("q")
        .expect("chat");
    assert_eq!(api_chat.managed_by, ManagedBy::Api);
    let before = store.list_applications().await.expect("lists");
    let err = store
        .sync_config_applications(vec![wiki.clone(), chat.clone()])
        .await
        .expect_err("API app's name");
    assert!(
        matches!(err, Error::Conflict(UniqueKey::ApplicationName)),
        "{err:?}"
    );
    let impostor = spec("chat2", oidc("chat"), None, everyone());
    let err = store
        .sync_config_applications(vec![wiki.clone(), impostor])
        .await
        .expect_err("API app's client id");
    assert!(
        matches!(err, Error::Conflict(UniqueKey::ApplicationSignIn)),
        "{err:?}"
    );
    assert_eq!(store.list_applications().await.expect("lists"), before);
    assert!(take_events(&store).await.is_empty());
    let left = store
        .sync_config_applications(vec![])
        .await
        .expect("synced");
    assert!(left.is_empty(), "only config apps are returned");
    let names: Vec<String> = store
        .list_applications()
        .await
        .expect("lists")
        .into_iter()
        .map(|a| a.spec.name().to_owned())
        .collect();
    assert_eq!(names, ["chat"], "the API app stays");
}

pub async fn concurrent_syncs_of_one_file_create_each_app_once(db: Database) {
    // Two instances starting together with the same file: neither fails on the
    // name the other just inserted, and each app exists once, with one id.
    let master = MasterKey::generate();
    let specs = vec![
        spec("wiki", oidc("wiki"), None, everyone()),
        spec("slack", None, scim(TOKEN), everyone()),
    ];
    let one = db.store().with_master_key(master.clone());
    let two = db.store().with_master_key(master);
    let (a, b) = tokio::join!(
        one.sync_config_applications(specs.clone()),
        two.sync_config_applications(specs)
    );
    let (a, b) = (a.expect("first sync"), b.expect("second sync"));
    assert_eq!(a, b, "the later sync found the earlier one's apps");
    assert_eq!(one.list_applications().await.expect("lists"), a);
    assert_eq!(take_events(&one).await.len(), 2, "created once each");
}
