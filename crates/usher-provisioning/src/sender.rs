//! One app's sender: the only place jobs of that app are delivered from.
//!
//! **One sender per app, across instances.** A sender sends only while its
//! instance holds the app's `app:<id>` lease ([`APP_LEASE_TTL`], renewed every
//! third of it while it sends, and on every round while the app is paused, so a
//! `Retry-After` or a failing app's wait holds for every instance). An instance
//! that finds the lease taken leaves the app alone; one that loses it stops
//! claiming at once (deliveries under way finish: their job leases are still
//! theirs). When the holder dies or goes idle, another instance takes the app over
//! within a lease period. That is what makes the app's [`Pace`] hold across
//! instances without a shared bucket.
//!
//! **Claims.** Jobs are claimed in batches up to the app's concurrency cap,
//! topped up when half the slots are free, each under a job lease
//! ([`JOB_LEASE`], renewed every third of it while the call runs) owned by
//! `<instance>/<app id>`, so the sender can give back exactly its own jobs.
//! Every outcome is written through `Jobs::complete`, `retry` or `park` as soon as
//! it is known; a `false` there means the job lease was lost (another instance
//! took the job over): the result is dropped and logged, and the job runs again
//! there, which is safe because delivery is idempotent.
//!
//! **A target-wide error** (rate limited, unauthorized, fatal) stops claiming;
//! jobs not yet started and the ones that hit the error go back to pending
//! uncounted (`Jobs::release_all` of the sender's own jobs), and the app waits: a
//! rate limit until its `Retry-After`, refused credentials or an unusable target
//! for 30 s doubling to 30 min ([`app_probe_delay`]), shown failing with the
//! reason. After such a wait, the first claim is a single job (a probe); a success
//! clears the failure. No report row is written for a job given back this way
//! (the report records what happened to each object; a refused token happened to
//! the app, and [`AppStatus`] says so).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinSet;
use usher_core::outbound::{AttemptResult, Job};
use usher_core::ports::{Applications, Clock, Jobs, Leases, RemoteObjects};
use usher_core::{Application, ApplicationId};

use crate::ConnectorSource;
use crate::backoff::{Backoff, app_probe_delay};
use crate::deliver::{Delivered, Delivery, Outcome, TargetTrouble, deliver};
use crate::rate::{Limits, Pace, PacedConnector};

/// How long an app's lease lasts; renewed every third of it.
pub const APP_LEASE_TTL: Duration = Duration::from_secs(15);

/// How long a job's lease lasts; renewed every third of it while it runs.
pub const JOB_LEASE: Duration = Duration::from_secs(60);

/// What every sender works with.
#[derive(Clone)]
pub(crate) struct Ports {
    pub jobs: Arc<dyn Jobs>,
    pub remote: Arc<dyn RemoteObjects>,
    pub leases: Arc<dyn Leases>,
    pub apps: Arc<dyn Applications>,
    pub connectors: Arc<dyn ConnectorSource>,
    pub clock: Arc<dyn Clock>,
    pub backoff: Arc<Backoff>,
    pub app_lease_ttl: Duration,
    pub job_lease: Duration,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports")
            .field("app_lease_ttl", &self.app_lease_ttl)
            .field("job_lease", &self.job_lease)
            .finish_non_exhaustive()
    }
}

/// One app's health, as `usher provisioning status` shows it (this instance's
/// view: the instance holding the app's lease has the current one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppStatus {
    /// The application.
    pub app: Option<ApplicationId>,
    /// This instance holds the app's lease and is sending.
    pub sending: bool,
    /// When a job last succeeded.
    pub last_success: Option<OffsetDateTime>,
    /// When a job last failed, and why.
    pub last_error: Option<(OffsetDateTime, String)>,
    /// Why the whole app fails (refused credentials, an unusable target), until a
    /// job succeeds again.
    pub failing: Option<String>,
    /// Nothing is sent before this (a `Retry-After`, or the wait of a failing app).
    pub paused_until: Option<OffsetDateTime>,
}

#[derive(Debug, Default)]
struct Health {
    status: AppStatus,
    /// Target-wide failures in a row (the probe delay grows with them).
    failures: u32,
    /// After a pause, claim one job until one succeeds.
    probing: bool,
}

/// How a run ended, for the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ran {
    /// Jobs were claimed: there may be more right away.
    Worked,
    /// Nothing to do, paused, or another instance sends.
    Idle,
}

/// One app's sender; lives as long as the runtime, so its pace and health
/// survive between runs.
#[derive(Debug)]
pub struct Sender {
    app: ApplicationId,
    instance: String,
    owner: String,
    ports: Arc<Ports>,
    health: Mutex<Health>,
    pace: Mutex<Option<Arc<Pace>>>,
}

impl Sender {
    pub(crate) fn new(app: ApplicationId, instance: &str, ports: Arc<Ports>) -> Self {
        let mut health = Health::default();
        health.status.app = Some(app);
        Self {
            app,
            instance: instance.to_owned(),
            owner: format!("{instance}/{app}"),
            ports,
            health: Mutex::new(health),
            pace: Mutex::new(None),
        }
    }

    /// The lease name of an app's sender.
    pub fn lease_name(app: ApplicationId) -> String {
        format!("app:{app}")
    }

    /// Who owns this sender's job leases.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The app's health as this instance sees it.
    pub fn status(&self) -> AppStatus {
        self.lock().status.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> OffsetDateTime {
        self.ports.clock.now()
    }

    /// Gives up the app: its lease and every job lease of this sender (shutdown).
    pub(crate) async fn release(&self) {
        if let Err(e) = self.ports.jobs.release_all(&self.owner).await {
            tracing::warn!(app = %self.app, error = %e, "could not give back the app's jobs");
        }
        let lease = Self::lease_name(self.app);
        if let Err(e) = self.ports.leases.release(&lease, &self.instance).await {
            tracing::warn!(app = %self.app, error = %e, "could not release the app's lease");
        }
        self.lock().status.sending = false;
    }

    async fn hold_lease(&self) -> bool {
        let lease = Self::lease_name(self.app);
        match self
            .ports
            .leases
            .acquire(&lease, &self.instance, self.ports.app_lease_ttl)
            .await
        {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(app = %self.app, error = %e, "could not take the app's lease");
                false
            }
        }
    }

    /// Pauses the app for `wait`, failing with `reason` when given.
    fn pause(&self, wait: Duration, failing: Option<String>) {
        let until = self.now() + wait;
        let mut h = self.lock();
        h.status.paused_until = Some(until);
        if let Some(reason) = failing {
            h.failures = h.failures.saturating_add(1);
            h.status.failing = Some(reason);
        }
        h.probing = true;
        h.status.sending = false;
    }

    /// A failure of the app before any job (no connector, disabled, unknown).
    fn app_failing(&self, reason: String) {
        let failures = self.lock().failures.saturating_add(1);
        tracing::warn!(app = %self.app, %reason, "provisioning paused for the app");
        self.pause(app_probe_delay(failures), Some(reason));
    }

    fn paused(&self) -> bool {
        let now = self.now();
        let mut h = self.lock();
        match h.status.paused_until {
            Some(t) if t > now => true,
            Some(_) => {
                h.status.paused_until = None;
                false
            }
            None => false,
        }
    }

    /// Sends the app's due jobs until none is left, the lease is lost, the app
    /// must wait, or `stop` turns true.
    pub(crate) async fn run(self: &Arc<Self>, stop: watch::Receiver<bool>) -> Ran {
        if self.paused() {
            // Keep the lease through the wait, so no other instance sends early.
            self.hold_lease().await;
            return Ran::Idle;
        }
        if !self.hold_lease().await {
            self.lock().status.sending = false;
            return Ran::Idle;
        }
        let app = match self.ports.apps.get_application(self.app).await {
            Ok(app) => app,
            Err(e) => {
                self.app_failing(format!("the application cannot be read: {e}"));
                return Ran::Idle;
            }
        };
        let Some(settings) = app.spec.provisioning() else {
            self.app_failing(format!("{} has no provisioning side", app.spec.name()));
            return Ran::Idle;
        };
        if !app.spec.enabled() {
            self.app_failing(format!(
                "{} is disabled; its jobs wait until it is enabled",
                app.spec.name()
            ));
            return Ran::Idle;
        }
        let connector = match self.ports.connectors.connector(&app) {
            Ok(c) => c,
            Err(reason) => {
                self.app_failing(reason);
                return Ran::Idle;
            }
        };
        let limits = Limits::for_app(settings, &connector.capabilities());
        let pace = {
            let mut slot = self.pace.lock().unwrap_or_else(|e| e.into_inner());
            match &*slot {
                Some(p) if p.limits() == limits => p.clone(),
                _ => {
                    let p = Arc::new(Pace::new(limits));
                    *slot = Some(p.clone());
                    p
                }
            }
        };
        let connector = Arc::new(PacedConnector::new(connector, pace.clone()));
        self.lock().status.sending = true;
        let batch = Batch {
            sender: self.clone(),
            app: Arc::new(app),
            connector,
            pace,
            trouble: Arc::new(Mutex::new(None)),
        };
        batch.run(stop).await
    }
}

/// One run's shared parts, handed to every delivery task.
#[derive(Clone)]
struct Batch {
    sender: Arc<Sender>,
    app: Arc<Application>,
    connector: Arc<PacedConnector>,
    pace: Arc<Pace>,
    /// The first target-wide error of this run: once set, nothing new starts.
    trouble: Arc<Mutex<Option<(TargetTrouble, String)>>>,
}

impl Batch {
    fn troubled(&self) -> bool {
        self.trouble
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    async fn run(self, mut stop: watch::Receiver<bool>) -> Ran {
        let sender = &self.sender;
        let ports = &sender.ports;
        let cap = self.pace.limits().concurrency.max(1) as usize;
        let mut tasks: JoinSet<i64> = JoinSet::new();
        let mut in_flight: HashSet<i64> = HashSet::new();
        let mut exhausted = false;
        let mut lease_lost = false;
        let mut worked = false;
        let renew_every = (ports.app_lease_ttl / 3).min(ports.job_lease / 3);
        let mut renew = tokio::time::interval(renew_every.max(Duration::from_millis(100)));
        renew.tick().await;
        loop {
            let stopping = *stop.borrow();
            let can_claim = !stopping && !exhausted && !lease_lost && !self.troubled();
            if can_claim && tasks.len() <= cap / 2 {
                let probing = sender.lock().probing;
                let room = if probing {
                    usize::from(tasks.is_empty())
                } else {
                    cap - tasks.len()
                };
                if room > 0 {
                    let limit = u32::try_from(room).unwrap_or(u32::MAX);
                    match ports
                        .jobs
                        .claim(sender.app, &sender.owner, ports.job_lease, limit)
                        .await
                    {
                        Ok(jobs) if jobs.is_empty() => exhausted = true,
                        Ok(jobs) => {
                            worked = true;
                            for job in jobs {
                                in_flight.insert(job.id);
                                let batch = self.clone();
                                tasks.spawn(async move { batch.one(job).await });
                            }
                        }
                        Err(e) => {
                            tracing::warn!(app = %sender.app, error = %e, "could not claim jobs");
                            exhausted = true;
                        }
                    }
                }
            }
            if tasks.is_empty() {
                break;
            }
            tokio::select! {
                done = tasks.join_next() => {
                    match done {
                        Some(Ok(id)) => { in_flight.remove(&id); }
                        // A delivery task cannot panic by design; if one ever did,
                        // its job lease runs out and the job is tried again.
                        Some(Err(e)) => tracing::error!(app = %sender.app, error = %e, "a delivery task failed"),
                        None => {}
                    }
                }
                _ = renew.tick() => {
                    if !sender.hold_lease().await && !lease_lost {
                        lease_lost = true;
                        tracing::warn!(app = %sender.app, "lost the app's lease; no more jobs are claimed here");
                    }
                    if !in_flight.is_empty() {
                        let ids: Vec<i64> = in_flight.iter().copied().collect();
                        if let Err(e) = ports.jobs.renew(&ids, &sender.owner, ports.job_lease).await {
                            tracing::warn!(app = %sender.app, error = %e, "could not renew job leases");
                        }
                    }
                }
                _ = stop.changed() => {}
            }
        }
        let trouble = self
            .trouble
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some((trouble, error)) = trouble {
            // Every job this sender still holds goes back uncounted.
            if let Err(e) = ports.jobs.release_all(&sender.owner).await {
                tracing::warn!(app = %sender.app, error = %e, "could not give back the app's jobs");
            }
            match trouble {
                TargetTrouble::RateLimited { retry_after } => {
                    tracing::info!(app = %sender.app, wait = ?retry_after, "the app asked to slow down");
                    sender.pause(retry_after, None);
                }
                TargetTrouble::Failing { reason } => {
                    let failures = sender.lock().failures.saturating_add(1);
                    tracing::warn!(app = %sender.app, %reason, "the app refuses usher; its jobs wait");
                    sender.pause(app_probe_delay(failures), Some(reason));
                    let now = sender.now();
                    sender.lock().status.last_error = Some((now, error));
                }
            }
            return Ran::Idle;
        }
        if lease_lost {
            sender.lock().status.sending = false;
        }
        if worked { Ran::Worked } else { Ran::Idle }
    }

    /// Delivers one job and writes its outcome; returns its id.
    async fn one(self, job: Job) -> i64 {
        let id = job.id;
        let Some(_slot) = self.pace.slot().await else {
            return id;
        };
        if self.troubled() {
            // Left in flight: given back uncounted once the run ends.
            return id;
        }
        let ports = &self.sender.ports;
        let Some(ctx) = Delivery::for_app(
            &self.app,
            &*self.connector,
            &*ports.remote,
            &ports.backoff,
            &*ports.clock,
        ) else {
            return id;
        };
        let delivered = deliver(&ctx, &job).await;
        self.write(&job, delivered).await;
        id
    }

    async fn write(&self, job: &Job, delivered: Delivered) {
        let sender = &self.sender;
        let ports = &sender.ports;
        let owner = sender.owner.as_str();
        let Delivered {
            outcome,
            remote,
            report,
        } = delivered;
        let result = report.result;
        let now = sender.now();
        let written = match outcome {
            Outcome::Complete => ports.jobs.complete(job.id, owner, remote, report).await,
            Outcome::Retry { at, error } => {
                sender.lock().status.last_error = Some((now, format!("{}: {error}", job.label)));
                ports
                    .jobs
                    .retry(job.id, owner, at, &error, remote, report)
                    .await
            }
            Outcome::Park { error } => {
                sender.lock().status.last_error = Some((now, format!("{}: {error}", job.label)));
                ports.jobs.park(job.id, owner, &error, remote, report).await
            }
            Outcome::Pause { trouble, error } => {
                let wait = match &trouble {
                    TargetTrouble::RateLimited { retry_after } => *retry_after,
                    TargetTrouble::Failing { .. } => {
                        app_probe_delay(sender.lock().failures.saturating_add(1))
                    }
                };
                {
                    let mut first = self.trouble.lock().unwrap_or_else(|e| e.into_inner());
                    // Refused credentials say more than a rate limit.
                    let replace = match &*first {
                        None => true,
                        Some((TargetTrouble::RateLimited { .. }, _)) => {
                            matches!(trouble, TargetTrouble::Failing { .. })
                        }
                        Some(_) => false,
                    };
                    if replace {
                        *first = Some((trouble, error.clone()));
                    }
                }
                if remote.is_none() {
                    // Nothing done: the job goes back uncounted with the others.
                    return;
                }
                // Progress was made before the app refused (a create before a
                // member batch): record it, at the cost of counting the attempt.
                let at = now + wait;
                ports
                    .jobs
                    .retry(job.id, owner, at, &error, remote, report)
                    .await
            }
        };
        match written {
            Ok(true) => {
                let mut h = sender.lock();
                if matches!(result, AttemptResult::Success | AttemptResult::NoChange) {
                    h.status.last_success = Some(now);
                }
                // The app answered about an object (even to refuse it): its
                // credentials work again, so it is no longer failing.
                if result != AttemptResult::Retry {
                    h.status.failing = None;
                    h.failures = 0;
                    h.probing = false;
                }
            }
            Ok(false) => tracing::warn!(
                app = %sender.app, job = job.id,
                "the job's lease was lost before its outcome was written; another instance runs it again"
            ),
            Err(e) => {
                tracing::warn!(app = %sender.app, job = job.id, error = %e, "could not record a job's outcome; it runs again when its lease expires");
                sender.lock().status.last_error =
                    Some((now, format!("recording {}: {e}", job.label)));
            }
        }
    }
}
