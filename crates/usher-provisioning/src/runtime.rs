//! The loops every usher instance runs: the planner's and the senders'.
//!
//! [`Provisioning::spawn`] starts two tasks:
//!
//! - **The planner loop** runs a [`PlanStep`] (the [`Planner`], which plans only
//!   while it holds the `planner` lease), again at once while a step finds work,
//!   and otherwise every poll interval or when woken. After a step that handled
//!   events it wakes the senders.
//! - **The sender loop** asks `Jobs::apps_with_due_jobs` and runs each such
//!   app's [`Sender`], at most [`ProvisioningBuilder::max_concurrent_apps`] at
//!   once, every poll interval (1 s by default) or as soon as it is woken. Idle
//!   apps cost one query per round, for all of them together.
//!
//! **Waking.** [`Handle::wake`] wakes both loops in this instance: the planner's
//! runner and the sign-in gate call it after enqueuing, and the binary may call
//! it after any change to the directory. Other instances learn of new work by
//! polling, which is the fallback that always works; a binary that wants them to
//! react at once can listen on PostgreSQL `LISTEN/NOTIFY` or Redis pub/sub and call
//! `wake()` on each notification. Neither is implemented yet: with a 1 s poll the
//! propagation goal (5 s p95) holds without them.
//!
//! **Shutdown.** [`Handle::shutdown`] stops claiming, waits for deliveries under
//! way up to a bound (10 s by default), then gives back every job lease this
//! instance's senders hold (`Jobs::release_all`, uncounted, so another instance
//! takes them at once) and its `app:<id>` and `planner` leases.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Notify, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use usher_core::ApplicationId;
use usher_core::ports::{Applications, Clock, Jobs, Leases, RemoteObjects, SystemClock};

use crate::ConnectorSource;
use crate::backoff::Backoff;
use crate::planner::{PLANNER_LEASE, Planner};
use crate::sender::{APP_LEASE_TTL, AppStatus, JOB_LEASE, Ports, Ran, Sender};

/// One round of planning: read what changed, enqueue jobs, say how many events
/// it handled (0: nothing to do, or another instance plans). The step takes the
/// `planner` lease itself ([`Planner`] does, named by its owner); build it with
/// this instance's [`Provisioning::instance`] as the owner, so shutdown releases
/// that lease.
#[async_trait]
pub trait PlanStep: Send + Sync {
    /// Runs one round.
    async fn run_once(&self) -> usher_core::Result<usize>;
}

#[async_trait]
impl PlanStep for Planner {
    async fn run_once(&self) -> usher_core::Result<usize> {
        Planner::run_once(self).await
    }
}

/// The provisioning runtime of one instance, before it starts.
#[derive(Debug)]
pub struct Provisioning {
    ports: Arc<Ports>,
    instance: String,
    poll: Duration,
    max_apps: usize,
    grace: Duration,
    planner: Option<Arc<dyn PlanStep>>,
}

/// Builds a [`Provisioning`] over the ports.
pub struct ProvisioningBuilder {
    ports: Ports,
    instance: Option<String>,
    poll: Duration,
    max_apps: usize,
    grace: Duration,
    planner: Option<Arc<dyn PlanStep>>,
}

impl std::fmt::Debug for ProvisioningBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvisioningBuilder")
            .field("instance", &self.instance)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for dyn PlanStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlanStep")
    }
}

impl Provisioning {
    /// A builder over the jobs, the remote mapping, the leases, the applications
    /// and the connectors.
    pub fn builder(
        jobs: Arc<dyn Jobs>,
        remote: Arc<dyn RemoteObjects>,
        leases: Arc<dyn Leases>,
        apps: Arc<dyn Applications>,
        connectors: Arc<dyn ConnectorSource>,
    ) -> ProvisioningBuilder {
        ProvisioningBuilder {
            ports: Ports {
                jobs,
                remote,
                leases,
                apps,
                connectors,
                clock: Arc::new(SystemClock),
                backoff: Arc::new(Backoff::new()),
                app_lease_ttl: APP_LEASE_TTL,
                job_lease: JOB_LEASE,
            },
            instance: None,
            poll: Duration::from_secs(1),
            max_apps: 16,
            grace: Duration::from_secs(10),
            planner: None,
        }
    }

    /// Who this instance is in leases and job owners.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Starts the loops.
    pub fn spawn(self) -> Handle {
        let (stop, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            ports: self.ports,
            instance: self.instance,
            wake_senders: Notify::new(),
            wake_planner: Notify::new(),
            stop,
            senders: Mutex::new(HashMap::new()),
        });
        let senders = tokio::spawn(sender_loop(shared.clone(), self.poll, self.max_apps.max(1)));
        let planner = self
            .planner
            .map(|step| tokio::spawn(planner_loop(shared.clone(), step, self.poll)));
        Handle {
            shared,
            senders,
            planner,
            grace: self.grace,
        }
    }
}

impl ProvisioningBuilder {
    /// The clock (default: the system's).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.ports.clock = clock;
        self
    }

    /// The backoff (default: base 1 s, cap 30 min, OS jitter).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.ports.backoff = Arc::new(backoff);
        self
    }

    /// This instance's name (default: host, process id and a random suffix).
    pub fn instance(mut self, instance: impl Into<String>) -> Self {
        self.instance = Some(instance.into());
        self
    }

    /// How often to look for due jobs when not woken (default 1 s; at least 10 ms).
    pub fn poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll.max(Duration::from_millis(10));
        self
    }

    /// How many apps send at once from this instance (default 16).
    pub fn max_concurrent_apps(mut self, n: usize) -> Self {
        self.max_apps = n.max(1);
        self
    }

    /// How long shutdown waits for deliveries under way (default 10 s).
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The app lease's and the job lease's lengths (defaults 15 s and 60 s; tests
    /// shorten them to see takeovers).
    pub fn lease_times(mut self, app: Duration, job: Duration) -> Self {
        self.ports.app_lease_ttl = app.max(Duration::from_millis(300));
        self.ports.job_lease = job.max(Duration::from_millis(300));
        self
    }

    /// The planner's step (default none: this instance only sends).
    pub fn planner(mut self, step: Arc<dyn PlanStep>) -> Self {
        self.planner = Some(step);
        self
    }

    /// The runtime, not started.
    pub fn build(self) -> Provisioning {
        Provisioning {
            ports: Arc::new(self.ports),
            instance: self.instance.unwrap_or_else(instance_id),
            poll: self.poll,
            max_apps: self.max_apps,
            grace: self.grace,
            planner: self.planner,
        }
    }
}

/// `host:pid:random`: unique per process, readable in leases and logs.
pub fn instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let mut bytes = [0u8; 4];
    let _ = getrandom::fill(&mut bytes);
    let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{host}:{}:{suffix}", std::process::id())
}

#[derive(Debug)]
struct Shared {
    ports: Arc<Ports>,
    instance: String,
    wake_senders: Notify,
    wake_planner: Notify,
    stop: watch::Sender<bool>,
    senders: Mutex<HashMap<ApplicationId, Arc<Sender>>>,
}

impl Shared {
    fn sender(&self, app: ApplicationId) -> Arc<Sender> {
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        senders
            .entry(app)
            .or_insert_with(|| Arc::new(Sender::new(app, &self.instance, self.ports.clone())))
            .clone()
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }
}

/// The running runtime.
#[derive(Debug)]
pub struct Handle {
    shared: Arc<Shared>,
    senders: JoinHandle<()>,
    planner: Option<JoinHandle<()>>,
    grace: Duration,
}

impl Handle {
    /// Looks for work now rather than at the next poll (after an enqueue).
    pub fn wake(&self) {
        // `notify_one` keeps a permit when the loop is busy, so a wake that
        // arrives mid-round is not lost.
        self.shared.wake_senders.notify_one();
        self.shared.wake_planner.notify_one();
    }

    /// A waker to hand to whatever enqueues (the gate, the planner's runner).
    pub fn waker(&self) -> Waker {
        Waker(self.shared.clone())
    }

    /// This instance's name.
    pub fn instance(&self) -> &str {
        &self.shared.instance
    }

    /// Every app this instance has sent for, with its health.
    pub fn status(&self) -> Vec<AppStatus> {
        let senders = self
            .shared
            .senders
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<AppStatus> = senders.values().map(|s| s.status()).collect();
        all.sort_by_key(|s| s.app);
        all
    }

    /// Stops claiming, waits for deliveries under way (up to the grace period),
    /// then gives back this instance's job leases and leases.
    pub async fn shutdown(self) {
        let _ = self.shared.stop.send(true);
        self.shared.wake_senders.notify_one();
        self.shared.wake_planner.notify_one();
        let deadline = Instant::now() + self.grace;
        let mut senders = self.senders;
        if tokio::time::timeout_at(deadline, &mut senders)
            .await
            .is_err()
        {
            tracing::warn!("provisioning: deliveries still running at shutdown were stopped");
            senders.abort();
            let _ = senders.await;
        }
        if let Some(mut planner) = self.planner
            && tokio::time::timeout_at(deadline, &mut planner)
                .await
                .is_err()
        {
            planner.abort();
            let _ = planner.await;
        }
        let all: Vec<Arc<Sender>> = {
            let senders = self
                .shared
                .senders
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            senders.values().cloned().collect()
        };
        for sender in all {
            sender.release().await;
        }
        if let Err(e) = self
            .shared
            .ports
            .leases
            .release(PLANNER_LEASE, &self.shared.instance)
            .await
        {
            tracing::warn!(error = %e, "could not release the planner lease");
        }
    }
}

/// Wakes a running runtime; cheap to clone.
#[derive(Debug, Clone)]
pub struct Waker(Arc<Shared>);

impl Waker {
    /// As [`Handle::wake`].
    pub fn wake(&self) {
        self.0.wake_senders.notify_one();
        self.0.wake_planner.notify_one();
    }
}

async fn sender_loop(shared: Arc<Shared>, poll: Duration, max_apps: usize) {
    let mut stop = shared.stop.subscribe();
    let mut running: JoinSet<Ran> = JoinSet::new();
    let mut busy: HashMap<tokio::task::Id, ApplicationId> = HashMap::new();
    let mut next_round = Instant::now();
    loop {
        if shared.stopping() {
            break;
        }
        if Instant::now() >= next_round {
            next_round = Instant::now() + poll;
            match shared.ports.jobs.apps_with_due_jobs().await {
                Ok(apps) => {
                    for app in apps {
                        if busy.len() >= max_apps {
                            break;
                        }
                        if busy.values().any(|a| *a == app) {
                            continue;
                        }
                        let sender = shared.sender(app);
                        let stop = shared.stop.subscribe();
                        let task = running.spawn(async move { sender.run(stop).await });
                        busy.insert(task.id(), app);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "provisioning: cannot list apps with due jobs")
                }
            }
        }
        tokio::select! {
            _ = stop.changed() => {}
            _ = shared.wake_senders.notified() => next_round = Instant::now(),
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                match done {
                    Ok((id, ran)) => {
                        busy.remove(&id);
                        // An app that had work may have more (or retries due now);
                        // an idle or paused one waits for the next round.
                        if ran == Ran::Worked {
                            next_round = Instant::now();
                        }
                    }
                    Err(e) => {
                        // A sender cannot panic by design; if one did, its jobs'
                        // leases run out and another round picks the app up.
                        tracing::error!(error = %e, "provisioning: a sender failed");
                        busy.remove(&e.id());
                    }
                }
            }
            _ = tokio::time::sleep_until(next_round) => {}
        }
    }
    // Stopping: the senders stop claiming and finish what they started.
    while running.join_next().await.is_some() {}
}

async fn planner_loop(shared: Arc<Shared>, step: Arc<dyn PlanStep>, poll: Duration) {
    let mut stop = shared.stop.subscribe();
    loop {
        if shared.stopping() {
            break;
        }
        let mut again = false;
        match step.run_once().await {
            Ok(0) => {}
            Ok(_) => {
                shared.wake_senders.notify_one();
                again = true;
            }
            Err(e) => tracing::warn!(error = %e, "provisioning: the planner failed; trying again"),
        }
        if again {
            continue;
        }
        tokio::select! {
            _ = stop.changed() => {}
            _ = shared.wake_planner.notified() => {}
            _ = tokio::time::sleep(poll) => {}
        }
    }
}
