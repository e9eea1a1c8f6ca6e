//! The planner: lifecycle events in, one job per affected (app, object) out.
//!
//! One instance plans at a time (the `planner` lease), so plans are enqueued in the
//! order they were computed. Desired states are computed from the directory as it
//! is *now*, which is at least as new as the events being planned: a burst of
//! changes to one person becomes one job carrying the latest state. The jobs and
//! the marks on the events are written in one transaction ([`Jobs::enqueue`]);
//! a crash in between plans the events again, which coalesces into the same jobs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use usher_core::outbound::{NewJob, ObjectRef};
use usher_core::ports::{Applications, Clock, Directory, Jobs, Leases, Outbox, RemoteObjects};
use usher_core::{Application, ApplicationId, Error, GroupId, LifecycleEvent, Result, UserId};

use crate::mapping::Mapping;
use crate::{Desired, SessionEnder};

/// The lease the planning instance holds.
pub const PLANNER_LEASE: &str = "planner";
/// How long it holds it without renewing (each round renews).
const LEASE_TTL: Duration = Duration::from_secs(30);
/// Events read per round.
const BATCH: u32 = 500;
/// Jobs per enqueue call in a full sync (each call is one transaction).
const SYNC_CHUNK: usize = 1_000;
/// Members read for one group's desired state.
const MAX_GROUP_MEMBERS: u32 = 50_000;

/// What the planner reads and writes.
#[derive(Clone)]
#[allow(missing_debug_implementations)] // trait objects all the way down
pub struct PlannerPorts {
    /// Users, groups and memberships.
    pub directory: Arc<dyn Directory>,
    /// Applications and assignments.
    pub applications: Arc<dyn Applications>,
    /// Lifecycle events.
    pub outbox: Arc<dyn Outbox>,
    /// The job queue.
    pub jobs: Arc<dyn Jobs>,
    /// The remote mapping.
    pub remotes: Arc<dyn RemoteObjects>,
    /// Shared leases.
    pub leases: Arc<dyn Leases>,
    /// Ends a leaver's sessions.
    pub sessions: Arc<dyn SessionEnder>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

/// Turns events into jobs; see the module documentation.
pub struct Planner {
    ports: PlannerPorts,
    owner: String,
}

impl std::fmt::Debug for Planner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Planner")
            .field("owner", &self.owner)
            .finish()
    }
}

/// The (app, object) pairs one batch of events touches, with why and since when.
#[derive(Debug, Default)]
struct Affected {
    pairs: BTreeMap<(ApplicationId, ObjectRef), (String, OffsetDateTime)>,
}

impl Affected {
    fn add(&mut self, app: ApplicationId, object: ObjectRef, cause: &str, at: OffsetDateTime) {
        self.pairs
            .entry((app, object))
            .and_modify(|(c, t)| {
                // The latest cause names the job; the earliest time measures it.
                cause.clone_into(c);
                *t = (*t).min(at);
            })
            .or_insert_with(|| (cause.to_owned(), at));
    }
}

impl Planner {
    /// A planner for this instance (`owner` names it in the lease).
    pub fn new(ports: PlannerPorts, owner: impl Into<String>) -> Self {
        Self {
            ports,
            owner: owner.into(),
        }
    }

    /// One round: plans up to one batch of events. Returns how many events were
    /// handled (0: nothing to do, or another instance plans).
    pub async fn run_once(&self) -> Result<usize> {
        let p = &self.ports;
        if !p
            .leases
            .acquire(PLANNER_LEASE, &self.owner, LEASE_TTL)
            .await?
        {
            return Ok(0);
        }
        let events = p.outbox.unprocessed(0, BATCH).await?;
        if events.is_empty() {
            return Ok(0);
        }
        let apps = self.provisioning_apps().await?;
        let mut affected = Affected::default();
        let mut syncs = Vec::new();
        for e in &events {
            // The leaver's sessions end before the event is marked: a failure
            // leaves the whole batch to the next round, so it is retried, never lost.
            if let LifecycleEvent::UserDeactivated { user_id }
            | LifecycleEvent::UserDeleted { user_id, .. } = &e.event
            {
                p.sessions.end_sessions(*user_id).await?;
            }
            match &e.event {
                LifecycleEvent::ApplicationChanged { application_id } => {
                    syncs.push((*application_id, e.occurred_at));
                }
                event => {
                    self.affected_by(event, e.occurred_at, &apps, &mut affected)
                        .await?;
                }
            }
        }
        let mut jobs = Vec::with_capacity(affected.pairs.len());
        for ((app_id, object), (cause, at)) in affected.pairs {
            let Some(app) = apps.get(&app_id) else {
                continue;
            };
            if let Some(job) = self.job(app, object, &cause, at).await? {
                jobs.push(job);
            }
        }
        for (app_id, at) in syncs {
            if let Some(app) = apps.get(&app_id) {
                jobs.extend(self.plan_app_at(app, "application_changed", at).await?);
            }
        }
        let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
        self.enqueue(jobs, &ids).await?;
        Ok(events.len())
    }

    /// Every job a full sync of `app` needs: each assigned user, each user the app
    /// holds an account for, and its assigned groups when it pushes groups.
    pub async fn plan_app(&self, app: &Application) -> Result<Vec<NewJob>> {
        self.plan_app_at(app, "sync", self.ports.clock.now()).await
    }

    /// Enqueues a sync's jobs in bounded transactions; `events` are marked with
    /// the last one.
    pub async fn enqueue(&self, jobs: Vec<NewJob>, events: &[i64]) -> Result<()> {
        let mut chunks: Vec<Vec<NewJob>> = Vec::new();
        let mut rest = jobs;
        while rest.len() > SYNC_CHUNK {
            let tail = rest.split_off(SYNC_CHUNK);
            chunks.push(rest);
            rest = tail;
        }
        for chunk in chunks {
            self.ports.jobs.enqueue(chunk, &[]).await?;
        }
        self.ports.jobs.enqueue(rest, events).await
    }

    async fn plan_app_at(
        &self,
        app: &Application,
        cause: &str,
        at: OffsetDateTime,
    ) -> Result<Vec<NewJob>> {
        if !app.provisions() {
            return Ok(Vec::new());
        }
        let p = &self.ports;
        let mut users = BTreeSet::new();
        let mut after = None;
        loop {
            let page = p.applications.assigned_users(app.id, after, 1_000).await?;
            let Some(last) = page.last().copied() else {
                break;
            };
            users.extend(page);
            after = Some(last);
        }
        let mut after = None;
        loop {
            let page = p.remotes.mapped_users(app.id, after, 1_000).await?;
            let Some(last) = page.last().copied() else {
                break;
            };
            users.extend(page);
            after = Some(last);
        }
        let mut jobs = Vec::with_capacity(users.len());
        for user in users {
            if let Some(job) = self.job(app, ObjectRef::User(user), cause, at).await? {
                jobs.push(job);
            }
        }
        if group_push(app) {
            for group in &app.spec.assignment().groups {
                if let Some(job) = self.job(app, ObjectRef::Group(*group), cause, at).await? {
                    jobs.push(job);
                }
            }
        }
        Ok(jobs)
    }

    /// The apps provisioning is on for, by id.
    async fn provisioning_apps(&self) -> Result<HashMap<ApplicationId, Application>> {
        Ok(self
            .ports
            .applications
            .list_applications()
            .await?
            .into_iter()
            .filter(Application::provisions)
            .map(|a| (a.id, a))
            .collect())
    }

    /// Which (app, object) pairs one event touches.
    async fn affected_by(
        &self,
        event: &LifecycleEvent,
        at: OffsetDateTime,
        apps: &HashMap<ApplicationId, Application>,
        out: &mut Affected,
    ) -> Result<()> {
        let cause = event.kind();
        match event {
            LifecycleEvent::UserCreated { user_id }
            | LifecycleEvent::UserUpdated { user_id }
            | LifecycleEvent::UserDeactivated { user_id }
            | LifecycleEvent::UserReactivated { user_id }
            | LifecycleEvent::UserDeleted { user_id, .. } => {
                for app in self.apps_of_user(*user_id, apps).await? {
                    out.add(app, ObjectRef::User(*user_id), cause, at);
                }
            }
            LifecycleEvent::MembershipAdded { group_id, user_id }
            | LifecycleEvent::MembershipRemoved { group_id, user_id } => {
                // The apps that assign the group, and those already holding an
                // account (the group may be gone, and its assignment with it).
                for app in self.apps_of_user(*user_id, apps).await? {
                    out.add(app, ObjectRef::User(*user_id), cause, at);
                }
                for app in self.apps_of_group(*group_id, apps).await? {
                    out.add(app, ObjectRef::User(*user_id), cause, at);
                    if apps.get(&app).is_some_and(group_push) {
                        out.add(app, ObjectRef::Group(*group_id), cause, at);
                    }
                }
            }
            LifecycleEvent::GroupCreated { group_id }
            | LifecycleEvent::GroupUpdated { group_id }
            | LifecycleEvent::GroupDeleted { group_id, .. } => {
                for app in self.apps_of_group(*group_id, apps).await? {
                    if apps.get(&app).is_some_and(group_push) {
                        out.add(app, ObjectRef::Group(*group_id), cause, at);
                    }
                }
            }
            LifecycleEvent::ApplicationChanged { .. } => {}
        }
        Ok(())
    }

    /// Provisioning apps that assign `user` or hold an account for it.
    async fn apps_of_user(
        &self,
        user: UserId,
        apps: &HashMap<ApplicationId, Application>,
    ) -> Result<BTreeSet<ApplicationId>> {
        let p = &self.ports;
        let mut out: BTreeSet<ApplicationId> = p
            .applications
            .applications_of_user(user)
            .await?
            .into_iter()
            .collect();
        out.extend(
            p.remotes
                .remote_objects_of_user(user)
                .await?
                .into_iter()
                .map(|r| r.app),
        );
        out.retain(|a| apps.contains_key(a));
        Ok(out)
    }

    /// Provisioning apps that assign `group` or hold it (pushed groups).
    async fn apps_of_group(
        &self,
        group: GroupId,
        apps: &HashMap<ApplicationId, Application>,
    ) -> Result<BTreeSet<ApplicationId>> {
        let p = &self.ports;
        let mut out: BTreeSet<ApplicationId> = p
            .applications
            .applications_of_group(group)
            .await?
            .into_iter()
            .collect();
        for app in apps.values().filter(|a| group_push(a)) {
            if p.remotes
                .remote_object(app.id, ObjectRef::Group(group))
                .await?
                .is_some()
            {
                out.insert(app.id);
            }
        }
        out.retain(|a| apps.contains_key(a));
        Ok(out)
    }

    /// The job for one pair, or `None` when there is nothing to do (not assigned
    /// and never pushed).
    async fn job(
        &self,
        app: &Application,
        object: ObjectRef,
        cause: &str,
        at: OffsetDateTime,
    ) -> Result<Option<NewJob>> {
        let Some(side) = app.spec.provisioning() else {
            return Ok(None);
        };
        let p = &self.ports;
        let mapping = Mapping::new(side).map_err(Error::Internal)?;
        let known = p.remotes.remote_object(app.id, object).await?.is_some();
        let absent = Desired::Absent {
            action: side.deprovision,
        };
        let (desired, label) = match object {
            ObjectRef::User(id) => match found(p.directory.get_user(id).await)? {
                None => (absent, id.to_string()),
                Some(user) => {
                    let assigned = p.applications.is_assigned(app.id, id).await?;
                    if assigned {
                        let groups: Vec<String> = p
                            .directory
                            .groups_of(id)
                            .await?
                            .into_iter()
                            .map(|g| g.name)
                            .collect();
                        let record = mapping.user(&user, &groups);
                        (Desired::User { record }, user.username)
                    } else {
                        (absent, user.username)
                    }
                }
            },
            ObjectRef::Group(id) => match found(p.directory.get_group(id).await)? {
                None => (absent, id.to_string()),
                Some(group) => {
                    if app.spec.assignment().groups.contains(&id) {
                        let members = p.directory.member_ids(id, MAX_GROUP_MEMBERS).await?;
                        let record = mapping.group(&group);
                        (Desired::Group { record, members }, group.name)
                    } else {
                        (absent, group.name)
                    }
                }
            },
        };
        if matches!(desired, Desired::Absent { .. }) && !known {
            return Ok(None);
        }
        Ok(Some(NewJob {
            app: app.id,
            object,
            desired: desired.to_json(),
            label,
            cause: cause.to_owned(),
            changed_at: at,
        }))
    }
}

fn group_push(app: &Application) -> bool {
    app.spec.provisioning().is_some_and(|p| p.group_push)
}

/// `Ok(None)` for a user or group deleted since the event.
fn found<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
