//! The runtime on real storage: jobs enqueued in SQL, sent by the runtime's
//! sender through the SCIM connector (built from the app's settings by the
//! factory registry) into scim2-server; a refused token keeps every job.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use time::OffsetDateTime;
use usher_connector::Registry;
use usher_connector_scim::ScimFactory;
use usher_core::outbound::{NewJob, ObjectRef, RemoteState};
use usher_core::ports::{Applications, Jobs, RemoteObjects};
use usher_core::{Application, ApplicationSpec};
use usher_provisioning::{Provisioning, RegistrySource};
use usher_store::{MasterKey, SqlStore};

use crate::db::Fresh;
use crate::support::{Peer, TOKEN, account, user};

async fn app(store: &SqlStore, base: &str, token: &str) -> Application {
    let spec: ApplicationSpec = serde_json::from_value(json!({
        "name": "crm",
        "provisioning": {
            "connector": "scim",
            "settings": {"base_url": base, "auth": {"type": "bearer", "token": token}},
        },
    }))
    .expect("a valid app");
    store
        .sync_config_applications(vec![spec])
        .await
        .expect("app stored")
        .remove(0)
}

fn runtime(store: &SqlStore) -> Provisioning {
    let mut registry = Registry::new();
    registry.register(ScimFactory).expect("scim registers");
    let store = Arc::new(store.clone());
    Provisioning::builder(
        store.clone(),
        store.clone(),
        store.clone(),
        store,
        Arc::new(RegistrySource::new(registry)),
    )
    .poll_interval(Duration::from_millis(50))
    .build()
}

/// Enqueues one create per name; returns the objects.
async fn enqueue(store: &SqlStore, app: &Application, names: &[String]) -> Vec<ObjectRef> {
    let mut objects = Vec::new();
    let mut jobs = Vec::new();
    for name in names {
        let (object, record) = user(name);
        objects.push(object);
        jobs.push(NewJob {
            app: app.id,
            object,
            desired: account(&record).to_json(),
            label: name.clone(),
            cause: "test".into(),
            changed_at: OffsetDateTime::now_utc(),
        });
    }
    store.enqueue(jobs, &[]).await.expect("enqueued");
    objects
}

async fn until(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sends_every_job_once(fresh: Fresh) {
    let Some(peer) = Peer::start() else {
        return;
    };
    let store = fresh.db.store().with_master_key(MasterKey::generate());
    let app = app(&store, &peer.base, TOKEN).await;
    let names: Vec<String> = (0..25).map(|n| format!("person{n:02}")).collect();
    let objects = enqueue(&store, &app, &names).await;
    let handle = runtime(&store).spawn();
    handle.wake();
    until("every job done", async || {
        let s = store.status(app.id).await.expect("status");
        s.pending == 0 && s.in_flight == 0 && s.parked == 0
    })
    .await;
    for (object, name) in objects.iter().zip(&names) {
        let mapping = store
            .remote_object(app.id, *object)
            .await
            .expect("reads")
            .expect("mapped");
        assert_eq!(mapping.state, RemoteState::Active);
        assert_eq!(peer.count(&format!("userName eq \"{name}\"")).await, 1);
    }
    let status = handle.status();
    assert_eq!(status.len(), 1);
    assert!(status[0].last_success.is_some(), "{status:?}");
    assert!(status[0].failing.is_none());
    handle.shutdown().await;
}

async fn refused_token_keeps_the_jobs(fresh: Fresh) {
    let Some(peer) = Peer::start() else {
        return;
    };
    let store = fresh.db.store().with_master_key(MasterKey::generate());
    let app = app(&store, &peer.base, "not-the-token").await;
    let names: Vec<String> = (0..5).map(|n| format!("kept{n}")).collect();
    enqueue(&store, &app, &names).await;
    let handle = runtime(&store).spawn();
    handle.wake();
    until("the app shown failing", async || {
        handle
            .status()
            .first()
            .is_some_and(|s| s.failing.is_some() && s.paused_until.is_some())
    })
    .await;
    let status = handle.status().remove(0);
    let reason = status.failing.expect("failing");
    assert!(
        reason.contains("token"),
        "the reason says what to fix: {reason}"
    );
    until("the jobs given back", async || {
        store.status(app.id).await.expect("status").in_flight == 0
    })
    .await;
    let queue = store.status(app.id).await.expect("status");
    assert_eq!(
        (queue.pending, queue.parked),
        (5, 0),
        "nothing lost, nothing parked"
    );
    for job in store.list_jobs(app.id, 10).await.expect("jobs") {
        assert_eq!(job.attempts, 0, "a refused app does not use up attempts");
    }
    for name in &names {
        assert_eq!(peer.count(&format!("userName eq \"{name}\"")).await, 0);
    }
    handle.shutdown().await;
}

#[tokio::test]
async fn the_runtime_sends_every_job_once_on_sqlite() {
    sends_every_job_once(Fresh::sqlite().await).await;
}

#[tokio::test]
async fn the_runtime_sends_every_job_once_on_postgres() {
    if let Some(fresh) = Fresh::postgres().await {
        sends_every_job_once(fresh).await;
    }
}

#[tokio::test]
async fn refused_credentials_mark_the_app_failing_and_keep_its_jobs_on_sqlite() {
    refused_token_keeps_the_jobs(Fresh::sqlite().await).await;
}

#[tokio::test]
async fn refused_credentials_mark_the_app_failing_and_keep_its_jobs_on_postgres() {
    if let Some(fresh) = Fresh::postgres().await {
        refused_token_keeps_the_jobs(fresh).await;
    }
}
