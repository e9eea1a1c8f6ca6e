//! Applications: connector settings sealed at rest under the master key.

use sea_orm::{ConnectionTrait, Statement};
use usher_core::Error;
use usher_core::ports::Applications;
use usher_store::{Database, MasterKey};

use super::applications::{TOKEN, everyone, named, scim, spec, store};
use super::harness::{raw, raw_execute};

/// The stored bytes of `name`'s sealed settings and spec column.
async fn stored_columns(db: &Database, name: &str) -> (Vec<u8>, String, String) {
    let conn = raw(db).await;
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            format!(
                "SELECT connector_settings_sealed, spec, master_key_id FROM applications \
                 WHERE name = '{name}'"
            ),
        ))
        .await
        .expect("query")
        .expect("row");
    let sealed: Vec<u8> = row
        .try_get("", "connector_settings_sealed")
        .expect("sealed");
    let spec: serde_json::Value = row.try_get("", "spec").expect("spec");
    let key_id: String = row.try_get("", "master_key_id").expect("key id");
    (sealed, spec.to_string(), key_id)
}

pub async fn connector_settings_are_sealed_under_the_master_key(db: Database) {
    let (store, _, master) = store(&db);
    let slack = spec("slack", None, scim(TOKEN), everyone());
    let app = store
        .sync_config_applications(vec![slack.clone()])
        .await
        .expect("synced")
        .remove(0);

    let (sealed, spec_text, key_id) = stored_columns(&db, "slack").await;
    let token = TOKEN.as_bytes();
    assert!(
        !sealed.windows(token.len()).any(|w| w == token),
        "token sealed"
    );
    assert!(
        !spec_text.contains(TOKEN),
        "token not in the spec column: {spec_text}"
    );
    assert!(
        !spec_text.contains("scim.example.test"),
        "settings not in the spec column"
    );
    assert!(spec_text.contains("\"connector\":\"scim\""), "{spec_text}");
    assert_eq!(key_id, master.fingerprint());

    // A restart with the same key reads it; with another key it fails, naming both.
    let again = db
        .store()
        .with_master_key(MasterKey::from_base64(&master.to_base64()).expect("key"));
    assert_eq!(again.get_application(app.id).await.expect("reads"), app);
    let wrong = MasterKey::generate();
    let err = db
        .store()
        .with_master_key(wrong.clone())
        .get_application(app.id)
        .await
        .expect_err("wrong key");
    match &err {
        Error::MasterKeyMismatch { stored, configured } => {
            assert_eq!(stored, &master.fingerprint());
            assert_eq!(configured, &wrong.fingerprint());
        }
        other => panic!("expected MasterKeyMismatch, got {other:?}"),
    }
    assert!(err.to_string().contains("connector settings"), "{err}");
    let err = db.store().list_applications().await.expect_err("no key");
    assert!(err.to_string().contains("no master key"), "{err}");
    // A wrong key also stops the sync before it writes anything.
    let err = db
        .store()
        .with_master_key(wrong)
        .sync_config_applications(vec![])
        .await
        .expect_err("wrong key");
    assert!(matches!(err, Error::MasterKeyMismatch { .. }), "{err:?}");
    assert_eq!(
        store.get_application(app.id).await.expect("still there"),
        app
    );

    // A provisioning side taken out of the file takes its sealed settings along.
    store
        .sync_config_applications(vec![spec("slack", None, None, everyone())])
        .await
        .expect("synced");
    let conn = raw(&db).await;
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT connector_settings_sealed, master_key_id FROM applications",
        ))
        .await
        .expect("query")
        .expect("row");
    let sealed: Option<Vec<u8>> = row.try_get("", "connector_settings_sealed").expect("col");
    let key_id: Option<String> = row.try_get("", "master_key_id").expect("col");
    assert_eq!((sealed, key_id), (None, None));
}

pub async fn sealed_settings_copied_to_another_app_do_not_open(db: Database) {
    let (store, _, _) = store(&db);
    let apps = store
        .sync_config_applications(vec![
            spec("victim", None, scim(TOKEN), everyone()),
            spec("attacker", None, scim("attacker-token"), everyone()),
        ])
        .await
        .expect("synced");
    // Someone with write access to the table copies the victim's sealed token
    // into their own app, hoping usher sends it to their target.
    raw_execute(
        &db,
        "UPDATE applications SET connector_settings_sealed = \
         (SELECT connector_settings_sealed FROM applications WHERE name = 'victim') \
         WHERE name = 'attacker'",
    )
    .await;
    let err = store
        .get_application(named(&apps, "attacker").id)
        .await
        .expect_err("bound to the victim's id");
    assert!(
        matches!(&err, Error::Internal(m) if m.contains("attacker") && !m.contains(TOKEN)),
        "{err:?}"
    );
    assert_eq!(
        store
            .get_application(named(&apps, "victim").id)
            .await
            .expect("reads")
            .spec,
        named(&apps, "victim").spec
    );
}
