//! Accounts: create or adopt, update, deactivate and reactivate, deprovision.

use usher_connector::{ErrorKind, MatchKey as Key, MatchKeys, RemoteId, UserRecord};
use usher_core::outbound::{
    DeprovisionAction, Job, MatchKey, OnRemoteMissing, RemoteChange, RemoteObject, RemoteState,
};

use super::{Delivery, Fault, Run, Settled};
use crate::digest;

/// The app's match keys in the connector's terms (the core checked them: at
/// least one, none twice; should that ever not hold, the connector's default
/// order is used rather than failing the job).
pub(super) fn match_keys(keys: &[MatchKey]) -> MatchKeys {
    let keys = keys
        .iter()
        .map(|k| match k {
            MatchKey::ExternalId => Key::ExternalId,
            MatchKey::UserName => Key::UserName,
            MatchKey::Email => Key::Email,
        })
        .collect();
    MatchKeys::new(keys).unwrap_or_default()
}

/// The mapping that still points at an account (a deleted one is as good as none:
/// coming back after a delete creates a new account).
async fn mapping(ctx: &Delivery<'_>, job: &Job) -> Result<Option<RemoteObject>, Fault> {
    let found = ctx
        .remote
        .remote_object(ctx.app, job.object)
        .await
        .map_err(Fault::Store)?;
    Ok(found.filter(|m| m.state != RemoteState::Deleted))
}

fn state_of(active: bool) -> RemoteState {
    if active {
        RemoteState::Active
    } else {
        RemoteState::Deactivated
    }
}

fn to_json(record: &UserRecord) -> serde_json::Value {
    serde_json::to_value(record).unwrap_or(serde_json::Value::Null)
}

/// The user should have this account.
pub(super) async fn present(
    ctx: &Delivery<'_>,
    run: &mut Run,
    job: &Job,
    record: UserRecord,
) -> Result<Settled, Fault> {
    if !ctx.connector.capabilities().users {
        return Ok(Settled::skipped(
            "create",
            "the connector does not provision accounts",
        ));
    }
    match mapping(ctx, job).await? {
        None => unmapped(ctx, run, record).await,
        Some(m) => mapped(ctx, run, record, m).await,
    }
}

/// No account known: adopt one the app already has, else create.
async fn unmapped(ctx: &Delivery<'_>, run: &mut Run, record: UserRecord) -> Result<Settled, Fault> {
    // Look first even for a deactivated user: an earlier attempt may have made
    // the account and not lived to record it, and it must not stay active.
    if let Some((id, seen)) = find(ctx, &record).await? {
        return adopt(ctx, run, record, id, Some(seen)).await;
    }
    if !record.active {
        return Ok(Settled::no_change(
            "create",
            "the user is deactivated and has no account in the app",
        ));
    }
    if !ctx.settings.operations.create {
        return Ok(Settled::skipped(
            "create",
            "creating accounts is switched off for this app",
        ));
    }
    run.op("create");
    match ctx.connector.create_user(&record).await {
        Ok(id) => {
            run.upsert(id.as_str(), RemoteState::Active, to_json(&record));
            Ok(Settled::success())
        }
        Err(e) => match e.kind() {
            // The account exists (an earlier attempt made it, or someone else
            // did): adopt it, never create a second one.
            ErrorKind::Conflict { existing } => {
                let found = match existing {
                    Some(id) => Some((id.clone(), None)),
                    None => find(ctx, &record).await?.map(|(id, seen)| (id, Some(seen))),
                };
                match found {
                    Some((id, seen)) => {
                        run.note("the app already had the account");
                        adopt(ctx, run, record, id, seen).await
                    }
                    None if ctx.connector.capabilities().lookup => Err(Fault::Wait(format!(
                        "the app says the account exists ({}) but usher cannot find it by the \
                         app's match keys yet",
                        e.message()
                    ))),
                    None => Err(Fault::Permanent(format!(
                        "the app says the account exists ({}) and cannot look accounts up: \
                         remove the duplicate in the app or change the mapping",
                        e.message()
                    ))),
                }
            }
            _ => Err(e.into()),
        },
    }
}

/// The account matching `record` by the app's match keys, when the connector can
/// look accounts up.
async fn find(
    ctx: &Delivery<'_>,
    record: &UserRecord,
) -> Result<Option<(RemoteId, UserRecord)>, Fault> {
    if !ctx.connector.capabilities().lookup {
        return Ok(None);
    }
    let keys = match_keys(&ctx.settings.match_keys);
    let found = ctx.connector.find_user(&keys, record).await?;
    Ok(found.map(|r| (r.id, r.user)))
}

/// Takes over an account the app already holds; `seen` is how it looks there
/// (`None`: only its id is known).
async fn adopt(
    ctx: &Delivery<'_>,
    run: &mut Run,
    record: UserRecord,
    id: RemoteId,
    seen: Option<UserRecord>,
) -> Result<Settled, Fault> {
    run.op("adopt");
    let seen_active = seen.as_ref().is_none_or(|s| s.active);
    // Record the adoption first: if a later step fails, the retry starts from the
    // account instead of looking it up again.
    let pushed = seen.as_ref().map_or(serde_json::Value::Null, to_json);
    run.upsert(id.as_str(), state_of(seen_active), pushed);
    if seen.as_ref() != Some(&record) {
        if ctx.settings.operations.update {
            run.op("update");
            // The full record: what the app holds is not what usher pushed.
            ctx.connector.update_user(&id, &record, None).await?;
            // `update_user` makes the account match the record, `active` included.
            run.upsert(id.as_str(), state_of(record.active), to_json(&record));
            return Ok(Settled::success());
        }
        run.note("updates are switched off for this app; the adopted account was left as it is");
    }
    if set_active(ctx, run, &id, seen_active, record.active).await?
        && let Some(RemoteChange::Upsert { state, .. }) = &mut run.remote
    {
        *state = state_of(record.active);
    }
    Ok(Settled::success())
}

/// Reactivates or deactivates when the state differs and that is allowed;
/// whether it did.
async fn set_active(
    ctx: &Delivery<'_>,
    run: &mut Run,
    id: &RemoteId,
    was: bool,
    want: bool,
) -> Result<bool, Fault> {
    if was == want {
        return Ok(false);
    }
    if !ctx.connector.capabilities().deactivate {
        run.note("the connector cannot deactivate or reactivate accounts");
        return Ok(false);
    }
    if !ctx.settings.operations.deactivate {
        run.note("deactivating and reactivating accounts is switched off for this app");
        return Ok(false);
    }
    if want {
        run.op("reactivate");
        ctx.connector.reactivate_user(id).await?;
    } else {
        run.op("deactivate");
        ctx.connector.deactivate_user(id).await?;
    }
    Ok(true)
}

/// Whether a fault is the app saying the account is gone.
fn is_missing(fault: &Fault) -> bool {
    matches!(fault, Fault::Connector(e) if e.kind() == &ErrorKind::NotFound)
}

/// An account is known: bring it to `record`.
async fn mapped(
    ctx: &Delivery<'_>,
    run: &mut Run,
    record: UserRecord,
    m: RemoteObject,
) -> Result<Settled, Fault> {
    let id = RemoteId::new(m.remote_id.clone());
    // What the account is now: its state, and its content when the last push is
    // readable (with the active flag aligned: that has its own calls).
    let mut active = m.state == RemoteState::Active;
    let mut holds: Option<UserRecord> = serde_json::from_value::<UserRecord>(m.pushed.clone())
        .ok()
        .map(|mut l| {
            l.active = record.active;
            l
        });
    let content_differs = match &holds {
        Some(l) => *l != record,
        None => digest(&record) != m.digest,
    };
    if !content_differs && active == record.active {
        return Ok(Settled::no_change(
            "update",
            "the app already holds this account as it should be",
        ));
    }
    let save = |run: &mut Run, active: bool, holds: &Option<UserRecord>| match holds {
        Some(h) => {
            let mut h = h.clone();
            h.active = active;
            run.upsert(&m.remote_id, state_of(active), to_json(&h));
        }
        None => run.restate(&m, state_of(active)),
    };

    // Reactivate first, so the update lands on a live account; deactivate last,
    // so the account's final attributes are in place when it is closed.
    if record.active && !active {
        match set_active(ctx, run, &id, false, true).await {
            Err(f) if is_missing(&f) => return missing(ctx, run, record, &m).await,
            Err(f) => return Err(f),
            Ok(true) => {
                active = true;
                save(run, active, &holds);
            }
            Ok(false) => {}
        }
    }
    if content_differs {
        if ctx.settings.operations.update {
            run.op("update");
            match ctx
                .connector
                .update_user(&id, &record, holds.as_ref())
                .await
            {
                Err(e) if e.kind() == &ErrorKind::NotFound => {
                    return missing(ctx, run, record, &m).await;
                }
                Err(e) => return Err(e.into()),
                Ok(()) => {
                    holds = Some(record.clone());
                    save(run, active, &holds);
                }
            }
        } else {
            run.note("updates are switched off for this app");
        }
    }
    if !record.active && active {
        match set_active(ctx, run, &id, true, false).await {
            Err(f) if is_missing(&f) => return missing(ctx, run, record, &m).await,
            Err(f) => return Err(f),
            Ok(true) => save(run, false, &holds),
            Ok(false) => {}
        }
    }
    if run.ops.is_empty() {
        return Ok(Settled::skipped(
            "update",
            "every operation this change needs is switched off",
        ));
    }
    Ok(Settled::success())
}

/// The app no longer has the account usher made: per the app, make it again
/// (forgetting the old id first, so a failed create does not point back at it) or
/// park the job with the reason.
async fn missing(
    ctx: &Delivery<'_>,
    run: &mut Run,
    record: UserRecord,
    m: &RemoteObject,
) -> Result<Settled, Fault> {
    match ctx.settings.on_missing {
        OnRemoteMissing::Recreate => {
            run.note(format!(
                "the account {} was no longer in the app; making it again",
                m.remote_id
            ));
            run.forget();
            Box::pin(unmapped(ctx, run, record)).await
        }
        OnRemoteMissing::Report => Err(Fault::Permanent(format!(
            "the account {} is no longer in the app (on_missing = \"report\": usher does not \
             re-create it)",
            m.remote_id
        ))),
    }
}

/// The user should have no account: apply the deprovision action.
pub(super) async fn absent(
    ctx: &Delivery<'_>,
    run: &mut Run,
    job: &Job,
    action: DeprovisionAction,
) -> Result<Settled, Fault> {
    let Some(m) = mapping(ctx, job).await? else {
        return Ok(Settled::no_change(
            "deprovision",
            "the app holds no account usher knows of",
        ));
    };
    let caps = ctx.connector.capabilities();
    // What the connector can do decides between the two actions; what the app
    // switched off is then skipped, not swapped for the other.
    let action = match action {
        DeprovisionAction::Delete if !caps.delete && caps.deactivate => {
            run.note("the connector cannot delete accounts, so the account is deactivated");
            DeprovisionAction::Deactivate
        }
        DeprovisionAction::Deactivate if !caps.deactivate && caps.delete => {
            run.note("the connector cannot deactivate accounts, so the account is deleted");
            DeprovisionAction::Delete
        }
        DeprovisionAction::Delete if !caps.delete => {
            return Ok(Settled::skipped(
                "delete",
                "the connector can neither delete nor deactivate accounts",
            ));
        }
        DeprovisionAction::Deactivate if !caps.deactivate => {
            return Ok(Settled::skipped(
                "deactivate",
                "the connector can neither deactivate nor delete accounts",
            ));
        }
        other => other,
    };
    let id = RemoteId::new(m.remote_id.clone());
    match action {
        DeprovisionAction::Delete => {
            if !ctx.settings.operations.delete {
                return Ok(Settled::skipped(
                    "delete",
                    "deleting accounts is switched off for this app",
                ));
            }
            run.op("delete");
            match ctx.connector.delete_user(&id).await {
                Ok(()) => {}
                // Already gone is what a delete wants (connectors say success,
                // but a 404 must not park a leaver either).
                Err(e) if e.kind() == &ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
            // The row stays, marked deleted, so status and report can say so;
            // coming back creates a new account.
            run.restate(&m, RemoteState::Deleted);
            Ok(Settled::success())
        }
        DeprovisionAction::Deactivate => {
            if m.state == RemoteState::Deactivated {
                return Ok(Settled::no_change(
                    "deactivate",
                    "the account is already deactivated",
                ));
            }
            if !ctx.settings.operations.deactivate {
                return Ok(Settled::skipped(
                    "deactivate",
                    "deactivating accounts is switched off for this app",
                ));
            }
            run.op("deactivate");
            match ctx.connector.deactivate_user(&id).await {
                Ok(()) => run.restate(&m, RemoteState::Deactivated),
                Err(e) if e.kind() == &ErrorKind::NotFound => {
                    run.note("the account was already gone from the app");
                    run.restate(&m, RemoteState::Deleted);
                }
                Err(e) => return Err(e.into()),
            }
            Ok(Settled::success())
        }
    }
}
