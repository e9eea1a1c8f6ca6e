//! The planner: lifecycle events in, one job per affected (app, object) out.
//!
//! One instance plans at a time (the `planner` lease), so plans are enqueued in the
//! order they were computed. Desired states are computed from the directory as it
//! is *now*, which is at least as new as the events being planned: a burst of
//! changes to one person becomes one job carrying the latest state. The jobs and
//! the marks on the events are written in one transaction ([`Jobs::enqueue`]);
//! a crash in between plans the events again, which coalesces into the same jobs.
//!
//! The decisions themselves are pure functions in [`rules`]; this module reads
//! what they need through the ports.

pub mod rules;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use time::OffsetDateTime;
use usher_core::outbound::{Job, NewJob, ObjectRef, RemoteState};
use usher_core::ports::{
    Applications, Clock, Directory, Jobs, Leases, Outbox, OutboxRow, RemoteObjects,
};
use usher_core::query::{CompareOp, Filter, Leaf, UserField, UserLeaf, UserQuery, Value};
use usher_core::{Application, ApplicationId, Error, GroupId, OutboxEvent, Result, UserId};

use self::rules::{Target, Touch, deleted_label, desired_for, leaver, needs_job, touches};
use crate::{Desired, SessionEnder};

/// The lease the planning instance holds.
pub const PLANNER_LEASE: &str = "planner";
/// How long it holds it without renewing (each round renews).
const LEASE_TTL: Duration = Duration::from_secs(10);
/// Outbox rows read per round.
const BATCH: u32 = 500;
/// Jobs per enqueue call in a full sync (each call is one transaction).
const SYNC_CHUNK: usize = 1_000;
/// Members read for one group's desired state.
const MAX_GROUP_MEMBERS: u32 = 50_000;
/// Ids per page when a sync walks an app's assigned and mapped users.
const PAGE: u32 = 1_000;
/// Queued jobs a sync looks at besides the assigned and mapped users (a create
/// still pending for someone unassigned since must be superseded).
const SYNC_JOB_SCAN: u32 = usher_core::PageRequest::MAX_LIMIT;

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
    unreadable: AtomicU64,
}

impl std::fmt::Debug for Planner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Planner")
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// The (app, object) pairs one batch touches, with the cause and the earliest
/// change time of each.
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

/// The provisioning apps of one round, by id.
type Targets = HashMap<ApplicationId, Target>;
/// How the report names objects deleted since (from the delete events' snapshots).
type Labels = HashMap<ObjectRef, String>;

impl Planner {
    /// A planner for this instance (`owner` names it in the lease).
    pub fn new(ports: PlannerPorts, owner: impl Into<String>) -> Self {
        Self {
            ports,
            owner: owner.into(),
            unreadable: AtomicU64::new(0),
        }
    }

    /// Outbox rows this planner found unreadable and marked processed, since it
    /// started (for metrics: anything but 0 deserves a look).
    pub fn unreadable_events(&self) -> u64 {
        self.unreadable.load(Ordering::Relaxed)
    }

    /// One round: plans up to one batch of events. Returns how many outbox rows
    /// were handled (0: nothing to do, or another instance plans).
    ///
    /// A leaver's sessions are ended before anything is marked: when that fails
    /// the round fails and the whole batch is planned again next round.
    pub async fn run_once(&self) -> Result<usize> {
        let p = &self.ports;
        if !p
            .leases
            .acquire(PLANNER_LEASE, &self.owner, LEASE_TTL)
            .await?
        {
            return Ok(0);
        }
        let (events, mut handled) = self.read_batch().await?;
        if events.is_empty() && handled.is_empty() {
            return Ok(0);
        }
        for e in &events {
            if let Some(user) = leaver(&e.event)
                && let Err(err) = p.sessions.end_sessions(user).await
            {
                tracing::error!(
                    event = e.id, user = %user, error = %err,
                    "ending a leaver's sessions failed; the batch stays unprocessed and is retried"
                );
                return Err(err);
            }
        }
        let targets = self.targets().await?;
        let labels: Labels = events
            .iter()
            .filter_map(|e| deleted_label(&e.event))
            .collect();
        let mut affected = Affected::default();
        let mut syncs = BTreeMap::new();
        for e in &events {
            let cause = e.event.kind();
            match touches(&e.event) {
                Touch::App(app) => {
                    let at = syncs.entry(app).or_insert(e.occurred_at);
                    *at = (*at).min(e.occurred_at);
                }
                touch => {
                    self.affected_by(touch, cause, e.occurred_at, &targets, &mut affected)
                        .await?;
                }
            }
        }
        let mut jobs = Vec::with_capacity(affected.pairs.len());
        for ((app, object), (cause, at)) in affected.pairs {
            // A full sync of the same app in this batch plans the pair anyway.
            if syncs.contains_key(&app) {
                continue;
            }
            if let Some(target) = targets.get(&app)
                && let Some(job) = self.job(target, object, &cause, at, None, &labels).await?
            {
                jobs.push(job);
            }
        }
        for (app, at) in syncs {
            match targets.get(&app) {
                Some(target) => jobs.extend(
                    self.plan_target(target, "application_changed", at, &labels)
                        .await?,
                ),
                // Switched off, disabled, removed or never provisioning: usher
                // stops sending and leaves the app's accounts as they are (as
                // Entra ID does); its queued jobs stay until it provisions again.
                None => {
                    tracing::info!(app = %app, "application changed; nothing is provisioned into it")
                }
            }
        }
        handled.extend(events.iter().map(|e| e.id));
        self.enqueue(jobs, &handled).await?;
        Ok(handled.len())
    }

    /// Every job a full sync of `app` needs: each assigned user, each user the app
    /// holds an account for, each object with a job queued, and its assigned
    /// groups when it pushes groups. Empty when nothing is provisioned into it.
    pub async fn plan_app(&self, app: &Application) -> Result<Vec<NewJob>> {
        match Target::new(app.clone()) {
            Some(target) => {
                self.plan_target(&target, "sync", self.ports.clock.now(), &Labels::new())
                    .await
            }
            None => Ok(Vec::new()),
        }
    }

    /// Enqueues `jobs` in bounded transactions; `events` are marked with the last
    /// one, so a crash in between plans them again (and coalesces).
    pub async fn enqueue(&self, jobs: Vec<NewJob>, events: &[i64]) -> Result<()> {
        let mut rest = jobs;
        while rest.len() > SYNC_CHUNK {
            let tail = rest.split_off(SYNC_CHUNK);
            self.ports.jobs.enqueue(rest, &[]).await?;
            rest = tail;
        }
        self.ports.jobs.enqueue(rest, events).await
    }

    /// The oldest unprocessed events, and the ids of unreadable rows to mark with
    /// them. A corrupt row is logged, counted and marked, so it cannot stop the
    /// planner forever; a row from a newer usher is left for an instance that
    /// reads it (a rolling upgrade).
    async fn read_batch(&self) -> Result<(Vec<OutboxEvent>, Vec<i64>)> {
        let mut events = Vec::new();
        let mut corrupt = Vec::new();
        let mut after = 0;
        // Rows left for a newer usher would fill every batch: page past them, a
        // bounded number of times.
        for _ in 0..10 {
            let rows = self.ports.outbox.unprocessed_rows(after, BATCH).await?;
            let Some(last) = rows.last().map(OutboxRow::id) else {
                break;
            };
            after = last;
            let mut left = 0;
            for row in rows {
                match row {
                    OutboxRow::Event(e) => events.push(e),
                    OutboxRow::Unreadable(u) if u.newer => {
                        left += 1;
                        tracing::warn!(event = u.id, reason = %u.reason, "outbox event written by a newer usher; left for it");
                    }
                    OutboxRow::Unreadable(u) => {
                        self.unreadable.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(
                            event = u.id, reason = %u.reason,
                            "outbox event is unreadable: marked processed without planning it; run `usher provisioning sync` for the apps it may concern"
                        );
                        corrupt.push(u.id);
                    }
                }
            }
            if !events.is_empty() || !corrupt.is_empty() || left == 0 {
                break;
            }
        }
        Ok((events, corrupt))
    }

    /// The apps provisioning is on for, by id.
    async fn targets(&self) -> Result<Targets> {
        Ok(self
            .ports
            .applications
            .list_applications()
            .await?
            .into_iter()
            .filter_map(Target::new)
            .map(|t| (t.app.id, t))
            .collect())
    }

    async fn plan_target(
        &self,
        target: &Target,
        cause: &str,
        at: OffsetDateTime,
        labels: &Labels,
    ) -> Result<Vec<NewJob>> {
        let p = &self.ports;
        let app = target.app.id;
        let mut assigned = BTreeSet::new();
        let mut after = None;
        loop {
            let page = p.applications.assigned_users(app, after, PAGE).await?;
            let Some(last) = page.last().copied() else {
                break;
            };
            assigned.extend(page);
            after = Some(last);
        }
        let mut others = BTreeSet::new();
        let mut after = None;
        loop {
            let page = p.remotes.mapped_users(app, after, PAGE).await?;
            let Some(last) = page.last().copied() else {
                break;
            };
            others.extend(page.into_iter().filter(|u| !assigned.contains(u)));
            after = Some(last);
        }
        let mut groups: BTreeSet<GroupId> = BTreeSet::new();
        for job in p.jobs.list_jobs(app, SYNC_JOB_SCAN).await? {
            match job.object {
                ObjectRef::User(u) if !assigned.contains(&u) => {
                    others.insert(u);
                }
                ObjectRef::Group(g) => {
                    groups.insert(g);
                }
                ObjectRef::User(_) => {}
            }
        }
        let mut jobs = Vec::new();
        for user in &assigned {
            if let Some(job) = self
                .job(
                    target,
                    ObjectRef::User(*user),
                    cause,
                    at,
                    Some(true),
                    labels,
                )
                .await?
            {
                jobs.push(job);
            }
        }
        for user in others {
            if let Some(job) = self
                .job(target, ObjectRef::User(user), cause, at, None, labels)
                .await?
            {
                jobs.push(job);
            }
        }
        if target.group_push() {
            groups.extend(target.app.spec.assignment().groups.iter().copied());
        }
        for group in groups {
            if let Some(job) = self
                .job(target, ObjectRef::Group(group), cause, at, None, labels)
                .await?
            {
                jobs.push(job);
            }
        }
        Ok(jobs)
    }

    /// Adds the (app, object) pairs one event touches.
    async fn affected_by(
        &self,
        touch: Touch,
        cause: &str,
        at: OffsetDateTime,
        targets: &Targets,
        out: &mut Affected,
    ) -> Result<()> {
        match touch {
            Touch::User(user) => {
                for app in self.apps_of_user(user, targets).await? {
                    out.add(app, ObjectRef::User(user), cause, at);
                }
            }
            Touch::Membership { user, group } => {
                // The apps that assign the group, and those already holding an
                // account (the group may be gone, and its assignment with it).
                for app in self.apps_of_user(user, targets).await? {
                    out.add(app, ObjectRef::User(user), cause, at);
                }
                for app in self.apps_of_group(group, targets).await? {
                    out.add(app, ObjectRef::User(user), cause, at);
                    if targets.get(&app).is_some_and(Target::group_push) {
                        out.add(app, ObjectRef::Group(group), cause, at);
                    }
                }
            }
            Touch::Group(group) => {
                for app in self.apps_of_group(group, targets).await? {
                    if targets.get(&app).is_some_and(Target::group_push) {
                        out.add(app, ObjectRef::Group(group), cause, at);
                    }
                }
            }
            Touch::App(_) => {}
        }
        Ok(())
    }

    /// Provisioning apps that assign `user`, hold an account for it, or have a
    /// job queued for it.
    async fn apps_of_user(
        &self,
        user: UserId,
        targets: &Targets,
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
                .filter(|r| r.state != RemoteState::Deleted)
                .map(|r| r.app),
        );
        out.extend(
            p.jobs
                .jobs_of(ObjectRef::User(user))
                .await?
                .into_iter()
                .map(|j| j.app),
        );
        out.retain(|a| targets.contains_key(a));
        Ok(out)
    }

    /// Provisioning apps that assign `group`, or push groups and hold it or have
    /// a job queued for it.
    async fn apps_of_group(
        &self,
        group: GroupId,
        targets: &Targets,
    ) -> Result<BTreeSet<ApplicationId>> {
        let p = &self.ports;
        let mut out: BTreeSet<ApplicationId> = p
            .applications
            .applications_of_group(group)
            .await?
            .into_iter()
            .collect();
        let queued: BTreeSet<ApplicationId> = p
            .jobs
            .jobs_of(ObjectRef::Group(group))
            .await?
            .into_iter()
            .map(|j| j.app)
            .collect();
        for target in targets.values().filter(|t| t.group_push()) {
            let held = p
                .remotes
                .remote_object(target.app.id, ObjectRef::Group(group))
                .await?
                .is_some_and(|r| r.state != RemoteState::Deleted);
            if held || queued.contains(&target.app.id) {
                out.insert(target.app.id);
            }
        }
        out.retain(|a| targets.contains_key(a));
        Ok(out)
    }

    /// The job for one pair, or `None` when it would change nothing in the app
    /// ([`rules::needs_job`]). `assigned`: already known (a sync's assigned users).
    async fn job(
        &self,
        target: &Target,
        object: ObjectRef,
        cause: &str,
        at: OffsetDateTime,
        assigned: Option<bool>,
        labels: &Labels,
    ) -> Result<Option<NewJob>> {
        let p = &self.ports;
        let app = target.app.id;
        let (desired, label) = match object {
            ObjectRef::User(id) => self.desired_user(target, id, assigned).await?,
            ObjectRef::Group(id) => self.desired_group(target, id).await?,
        };
        // Deleted since: the snapshot names it; else its id, and the
        // deprovisioning still goes out.
        let label = label.unwrap_or_else(|| {
            labels
                .get(&object)
                .cloned()
                .unwrap_or_else(|| object.id_string())
        });
        let remote = p.remotes.remote_object(app, object).await?.map(|r| r.state);
        let queued = p
            .jobs
            .jobs_of(object)
            .await?
            .iter()
            .any(|j: &Job| j.app == app);
        if !needs_job(target, &desired, remote, queued) {
            return Ok(None);
        }
        Ok(Some(NewJob {
            app,
            object,
            desired: desired.to_json(),
            label,
            cause: cause.to_owned(),
            changed_at: at,
        }))
    }

    async fn desired_user(
        &self,
        target: &Target,
        id: UserId,
        assigned: Option<bool>,
    ) -> Result<(Desired, Option<String>)> {
        let p = &self.ports;
        let Some(user) = found(p.directory.get_user(id).await)? else {
            // Deleted since: the account goes.
            return Ok((desired_for(target, None, &[], false), None));
        };
        let assigned = match assigned {
            Some(known) => known,
            None => p.applications.is_assigned(target.app.id, id).await?,
        };
        let groups: Vec<String> = if assigned {
            p.directory
                .groups_of(id)
                .await?
                .into_iter()
                .map(|g| g.name)
                .collect()
        } else {
            Vec::new()
        };
        let desired = desired_for(target, Some(&user), &groups, assigned);
        Ok((desired, Some(user.username)))
    }

    async fn desired_group(
        &self,
        target: &Target,
        id: GroupId,
    ) -> Result<(Desired, Option<String>)> {
        let p = &self.ports;
        let Some(group) = found(p.directory.get_group(id).await)? else {
            return Ok((target.absent(), None));
        };
        if !(target.group_push() && target.assigns_group(id)) {
            return Ok((target.absent(), Some(group.name)));
        }
        let members = self.active_members(id).await?;
        let record = target.mapping.group(&group);
        Ok((Desired::Group { record, members }, Some(group.name)))
    }

    /// The group's members that are active (its members are all assigned: the
    /// app assigns the group). Deactivated members are few, so they are the ones
    /// queried.
    async fn active_members(&self, group: GroupId) -> Result<Vec<UserId>> {
        let p = &self.ports;
        let members = p.directory.member_ids(group, MAX_GROUP_MEMBERS).await?;
        let filter = Filter::And(vec![
            Filter::Leaf(UserLeaf::MemberOf(
                CompareOp::Eq,
                Value::Text(group.to_string()),
            )),
            Filter::Leaf(UserLeaf::Field(Leaf::Compare(
                UserField::Active,
                CompareOp::Eq,
                Value::Bool(false),
            ))),
        ]);
        let mut inactive = BTreeSet::new();
        let mut offset = 0;
        loop {
            let query = UserQuery {
                filter: Some(filter.clone()),
                owner: None,
                sort: None,
                descending: false,
                offset,
                limit: PAGE,
            };
            let slice = p.directory.query_users(&query).await?;
            let n = slice.items.len() as u64;
            inactive.extend(slice.items.into_iter().map(|u| u.id));
            offset += n;
            if n == 0 || offset >= slice.total {
                break;
            }
        }
        Ok(members
            .into_iter()
            .filter(|m| !inactive.contains(m))
            .collect())
    }
}

/// `Ok(None)` for a user or group deleted since the event.
fn found<T>(r: Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
