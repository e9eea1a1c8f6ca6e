//! Groups: create with members, rename, add and remove members in batches,
//! delete.
//!
//! **Members.** The planner names members by usher id; the app knows them by the
//! remote ids of their accounts, which the users' own mappings hold. A member
//! whose account does not exist yet (its job has not run, or failed) cannot be
//! added. The group is then pushed with the members that have accounts, and the
//! job is tried again with backoff, up to [`MEMBER_WAIT_ATTEMPTS`] attempts, so a
//! user created in the same plan joins within seconds. After that the job
//! settles, reporting who was left out; they are added the next time the group is
//! planned (any change to it, or a sync). A user's own job never touches groups:
//! it does not know them, and one writer per remote group keeps the diff right.
//!
//! **What was pushed** is the group record and the set of member remote ids, so
//! the next job sends only the members that joined or left.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use usher_connector::{ErrorKind, GroupRecord, RemoteId};
use usher_core::UserId;
use usher_core::outbound::{Job, ObjectRef, OnRemoteMissing, RemoteObject, RemoteState};

use super::{Delivery, Fault, MEMBER_WAIT_ATTEMPTS, Run, Settled};

/// What usher last pushed for a group, as the mapping stores it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct PushedGroup {
    /// The record (`None`: unknown, as for a group adopted by id alone).
    record: Option<GroupRecord>,
    /// Remote ids of the members usher put in it.
    members: BTreeSet<RemoteId>,
}

impl PushedGroup {
    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

fn groups_unsupported(ctx: &Delivery<'_>) -> Option<Settled> {
    if !ctx.connector.capabilities().groups {
        return Some(Settled::skipped(
            "create_group",
            "the connector does not push groups",
        ));
    }
    None
}

async fn mapping(ctx: &Delivery<'_>, job: &Job) -> Result<Option<RemoteObject>, Fault> {
    let found = ctx
        .remote
        .remote_object(ctx.app, job.object)
        .await
        .map_err(Fault::Store)?;
    Ok(found.filter(|m| m.state != RemoteState::Deleted))
}

/// The group should exist with these members.
pub(super) async fn present(
    ctx: &Delivery<'_>,
    run: &mut Run,
    job: &Job,
    record: GroupRecord,
    members: Vec<UserId>,
) -> Result<Settled, Fault> {
    if let Some(skip) = groups_unsupported(ctx) {
        return Ok(skip);
    }
    if !ctx.settings.group_push {
        return Ok(Settled::skipped(
            "create_group",
            "group push is off for this app",
        ));
    }
    let (want, waiting) = member_ids(ctx, &members).await?;
    let mapped = mapping(ctx, job).await?;
    let mut state = match mapped {
        Some(m) => Current {
            id: RemoteId::new(m.remote_id.clone()),
            pushed: serde_json::from_value(m.pushed.clone()).unwrap_or_default(),
        },
        None => establish(ctx, run, &record, &want).await?,
    };
    match converge(ctx, run, &record, &want, &mut state).await {
        Err(f) if is_missing(&f) => {
            return match ctx.settings.on_missing {
                OnRemoteMissing::Recreate => {
                    run.note(format!(
                        "the group {} was no longer in the app; making it again",
                        state.id
                    ));
                    run.forget();
                    let mut fresh = establish(ctx, run, &record, &want).await?;
                    converge(ctx, run, &record, &want, &mut fresh).await?;
                    settle(run, job, waiting)
                }
                OnRemoteMissing::Report => Err(Fault::Permanent(format!(
                    "the group {} is no longer in the app (on_missing = \"report\": usher does \
                     not re-create it)",
                    state.id
                ))),
            };
        }
        other => other?,
    }
    settle(run, job, waiting)
}

/// A group that everyone's accounts are in is done; one waiting for members'
/// accounts tries again a few times, then settles and says who is missing.
fn settle(run: &mut Run, job: &Job, waiting: usize) -> Result<Settled, Fault> {
    if waiting == 0 {
        return Ok(if run.ops.is_empty() {
            Settled::no_change(
                "update_group",
                "the app already holds this group as it should be",
            )
        } else {
            Settled::success()
        });
    }
    if job.attempts < MEMBER_WAIT_ATTEMPTS {
        return Err(Fault::Wait(format!(
            "{waiting} member(s) have no account in the app yet; the group holds the others \
             and is tried again"
        )));
    }
    run.note(format!(
        "{waiting} member(s) still have no account in the app and were left out; they are \
         added the next time the group is planned"
    ));
    Ok(if run.ops.is_empty() {
        Settled::no_change("update_group", "no member with an account changed")
    } else {
        Settled::success()
    })
}

/// The remote ids of the members whose accounts usher knows, and how many have
/// none yet.
async fn member_ids(
    ctx: &Delivery<'_>,
    members: &[UserId],
) -> Result<(BTreeSet<RemoteId>, usize), Fault> {
    let mut ids = BTreeSet::new();
    let mut waiting = 0;
    for member in members {
        let found = ctx
            .remote
            .remote_object(ctx.app, ObjectRef::User(*member))
            .await
            .map_err(Fault::Store)?;
        match found {
            Some(m) if m.state != RemoteState::Deleted => {
                ids.insert(RemoteId::new(m.remote_id));
            }
            _ => waiting += 1,
        }
    }
    Ok((ids, waiting))
}

/// A remote group and what usher has put in it.
#[derive(Debug)]
struct Current {
    id: RemoteId,
    pushed: PushedGroup,
}

/// No group known: adopt the app's (by external id, then name), else create it
/// with its first batch of members.
async fn establish(
    ctx: &Delivery<'_>,
    run: &mut Run,
    record: &GroupRecord,
    want: &BTreeSet<RemoteId>,
) -> Result<Current, Fault> {
    let caps = ctx.connector.capabilities();
    if caps.lookup
        && let Some(found) = ctx.connector.find_group(record).await?
    {
        return Ok(adopt(run, found.id, Some(found.group)));
    }
    let batch = caps.member_batch_size.max(1) as usize;
    let first: Vec<RemoteId> = want.iter().take(batch).cloned().collect();
    run.op("create_group");
    match ctx.connector.create_group(record, &first).await {
        Ok(id) => {
            let pushed = PushedGroup {
                record: Some(record.clone()),
                members: first.into_iter().collect(),
            };
            run.upsert(id.as_str(), RemoteState::Active, pushed.to_json());
            Ok(Current { id, pushed })
        }
        Err(e) => match e.kind() {
            ErrorKind::Conflict { existing } => {
                let found = match existing {
                    Some(id) => Some((id.clone(), None)),
                    None if caps.lookup => ctx
                        .connector
                        .find_group(record)
                        .await?
                        .map(|g| (g.id, Some(g.group))),
                    None => None,
                };
                match found {
                    Some((id, seen)) => {
                        run.note("the app already had the group");
                        Ok(adopt(run, id, seen))
                    }
                    None => Err(Fault::Wait(format!(
                        "the app says the group exists ({}) but usher cannot find it yet",
                        e.message()
                    ))),
                }
            }
            _ => Err(e.into()),
        },
    }
}

/// Takes over the app's group. Its members are unknown, so every wanted member
/// is added (adding one already there is a success) and nobody is removed.
fn adopt(run: &mut Run, id: RemoteId, seen: Option<GroupRecord>) -> Current {
    run.op("adopt");
    let pushed = PushedGroup {
        record: seen,
        members: BTreeSet::new(),
    };
    run.upsert(id.as_str(), RemoteState::Active, pushed.to_json());
    Current { id, pushed }
}

/// Renames when the record changed, then adds and removes members in batches,
/// recording after every call so a failure keeps what was done.
async fn converge(
    ctx: &Delivery<'_>,
    run: &mut Run,
    record: &GroupRecord,
    want: &BTreeSet<RemoteId>,
    current: &mut Current,
) -> Result<(), Fault> {
    let batch = ctx.connector.capabilities().member_batch_size.max(1) as usize;
    if current.pushed.record.as_ref() != Some(record) {
        run.op("update_group");
        ctx.connector
            .update_group(&current.id, record, current.pushed.record.as_ref())
            .await?;
        current.pushed.record = Some(record.clone());
        save(run, current);
    }
    let add: Vec<RemoteId> = want.difference(&current.pushed.members).cloned().collect();
    let remove: Vec<RemoteId> = current.pushed.members.difference(want).cloned().collect();
    for chunk in add.chunks(batch) {
        run.op("add_members");
        ctx.connector.add_members(&current.id, chunk).await?;
        current.pushed.members.extend(chunk.iter().cloned());
        save(run, current);
    }
    for chunk in remove.chunks(batch) {
        run.op("remove_members");
        ctx.connector.remove_members(&current.id, chunk).await?;
        for id in chunk {
            current.pushed.members.remove(id);
        }
        save(run, current);
    }
    if !add.is_empty() || !remove.is_empty() {
        run.note(format!(
            "{} member(s) added, {} removed",
            add.len(),
            remove.len()
        ));
    }
    Ok(())
}

fn save(run: &mut Run, current: &Current) {
    run.upsert(
        current.id.as_str(),
        RemoteState::Active,
        current.pushed.to_json(),
    );
}

fn is_missing(fault: &Fault) -> bool {
    matches!(fault, Fault::Connector(e) if e.kind() == &ErrorKind::NotFound)
}

/// The group should not be in the app: delete it. Delivered whether or not group
/// push is still on (the planner decides a group goes), as long as the connector
/// holds groups.
pub(super) async fn absent(ctx: &Delivery<'_>, run: &mut Run, job: &Job) -> Result<Settled, Fault> {
    if let Some(skip) = groups_unsupported(ctx) {
        return Ok(skip);
    }
    let Some(m) = mapping(ctx, job).await? else {
        return Ok(Settled::no_change(
            "delete_group",
            "the app holds no group usher knows of",
        ));
    };
    run.op("delete_group");
    match ctx
        .connector
        .delete_group(&RemoteId::new(m.remote_id.clone()))
        .await
    {
        Ok(()) => {}
        Err(e) if e.kind() == &ErrorKind::NotFound => {}
        Err(e) => return Err(e.into()),
    }
    run.restate(&m, RemoteState::Deleted);
    Ok(Settled::success())
}
