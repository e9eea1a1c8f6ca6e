//! Outbound provisioning in the binary: the concrete ports behind the planner and
//! the senders, the leaver's session step, and the `sync` command's planning.

use std::sync::Arc;

use async_trait::async_trait;
use usher_core::ports::SystemClock;
use usher_core::{Application, Result, UserId};
use usher_provisioning::{
    Handle, Planner, PlannerPorts, Provisioning, RegistrySource, SessionEnder, SessionsEnder,
    instance_id,
};
use usher_store::{Database, SqlStore};

/// Starts this instance's planner and senders over `store` (which must hold the
/// master key: connector settings are sealed), woken at once by PostgreSQL
/// `NOTIFY` when another instance enqueues, otherwise every second.
pub fn start(
    database: &Database,
    store: &Arc<SqlStore>,
    sessions: SessionsEnder,
) -> anyhow::Result<Handle> {
    let connectors = Arc::new(RegistrySource::new(crate::connectors::registry()?));
    let instance = instance_id();
    let planner = Planner::new(planner_ports(store, Arc::new(sessions)), instance.clone());
    let handle = Provisioning::builder(
        store.clone(),
        store.clone(),
        store.clone(),
        store.clone(),
        connectors,
    )
    .instance(instance)
    .planner(Arc::new(planner))
    .build()
    .spawn();
    let waker = handle.waker();
    database.listen_for_jobs(move || waker.wake());
    Ok(handle)
}

/// The planner's ports, all on one SQL store.
pub fn planner_ports(store: &Arc<SqlStore>, sessions: Arc<dyn SessionEnder>) -> PlannerPorts {
    let store = store.clone();
    PlannerPorts {
        directory: store.clone(),
        applications: store.clone(),
        outbox: store.clone(),
        jobs: store.clone(),
        remotes: store.clone(),
        leases: store,
        sessions,
        clock: Arc::new(SystemClock),
    }
}

/// Sessions need not end for a sync: it plans no deactivation events.
struct NoSessions;

#[async_trait]
impl SessionEnder for NoSessions {
    async fn end_sessions(&self, _user: UserId) -> Result<()> {
        Ok(())
    }
}

/// `usher provisioning sync`: plans every assigned (and every provisioned) user and
/// group of `app` and enqueues the jobs; a running usher compares and pushes.
pub async fn sync_app(store: &SqlStore, app: &Application) -> Result<usize> {
    let store = Arc::new(store.clone());
    let planner = Planner::new(planner_ports(&store, Arc::new(NoSessions)), "cli");
    let jobs = planner.plan_app(app).await?;
    let n = jobs.len();
    planner.enqueue(jobs, &[]).await?;
    Ok(n)
}
