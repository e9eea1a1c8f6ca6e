//! `Directory::provision`: a JIT plan applied in one transaction (user, link,
//! groups, memberships, report row, lifecycle events), and the provisioning report.

use async_trait::async_trait;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use time::OffsetDateTime;
use usher_core::jit::{JitOutcome, NewReportEntry, PlanAction, ReportEntry, ReportQuery};
use usher_core::ports::{Provision, ProvisioningReport};
use usher_core::{Error, PageRequest, Result, UpstreamId, User, UserId, UserUpdate, jit_actor};

use super::SqlStore;
use super::entities::{provisioning_report, users};
use super::errors::db_err;
use super::groups::{add_member_in, ensure_group, find_group_id, remove_member_in};
use super::links::{MAX_SUBJECT_LEN, insert_link, touch_link_in};
use super::store::finish;
use super::timestamps;
use super::users::{find_user, insert_user, update_user_in};

/// Longest reason kept in a report row.
const MAX_REASON_LEN: usize = 2048;

impl SqlStore {
    pub(super) async fn provision_impl(
        &self,
        request: Provision,
    ) -> Result<Option<(User, JitOutcome)>> {
        let now = self.now();
        let txn = self.begin().await?;
        let result = provision_in(&txn, request, now).await;
        match result {
            // Nothing to store for a user deactivated meanwhile: roll back.
            Ok(None) => {
                txn.rollback().await.map_err(db_err)?;
                Ok(None)
            }
            other => finish(txn, other).await,
        }
    }
}

async fn provision_in(
    txn: &impl ConnectionTrait,
    request: Provision,
    now: OffsetDateTime,
) -> Result<Option<(User, JitOutcome)>> {
    let Provision {
        upstream,
        subject,
        plan,
        client_ip,
    } = request;
    let nothing = plan.changes_nothing();
    let actor = &jit_actor(&upstream);
    let (user, outcome, update) = match plan.action {
        PlanAction::Create(new) => {
            new.validate()?;
            let user = User {
                id: UserId::new(),
                username: new.username,
                emails: new.emails,
                display_name: new.display_name,
                given_name: new.given_name,
                family_name: new.family_name,
                active: new.active,
                external_id: new.external_id,
                attributes: new.attributes,
                created_at: now,
                updated_at: now,
                version: 1,
                provisioned_by: None,
            };
            let user = insert_user(txn, user, actor, now).await?;
            insert_link(txn, &upstream, &subject, user.id, now).await?;
            (user.id, JitOutcome::Created, UserUpdate::default())
        }
        PlanAction::Link { user, update } => {
            if !lock_active(txn, user).await? {
                return Ok(None);
            }
            insert_link(txn, &upstream, &subject, user, now).await?;
            (user, JitOutcome::Linked, update)
        }
        PlanAction::SignIn { user, update } => {
            if !lock_active(txn, user).await? {
                return Ok(None);
            }
            // The link was removed (or moved) since the lookup: start again.
            if !touch_link_in(txn, &upstream, &subject, user, now).await? {
                return Err(Error::Conflict(usher_core::UniqueKey::IdentityLink));
            }
            let outcome = if nothing {
                JitOutcome::SignedIn
            } else {
                JitOutcome::Updated
            };
            (user, outcome, update)
        }
    };
    if update != UserUpdate::default() {
        update.validate()?;
        update_user_in(txn, user, update, None, actor, now).await?;
    }
    let mut changes = Vec::new();
    for name in &plan.add_groups {
        let group = ensure_group(txn, name, actor, now).await?;
        if add_member_in(txn, group, user, actor, now).await? {
            changes.push(format!("+{name}"));
        }
    }
    for name in &plan.remove_groups {
        if let Some(group) = find_group_id(txn, name).await?
            && remove_member_in(txn, group, user, actor, now).await?
        {
            changes.push(format!("-{name}"));
        }
    }
    let reason = (!changes.is_empty()).then(|| format!("groups {}", changes.join(" ")));
    insert_row(
        txn,
        NewReportEntry {
            upstream,
            subject,
            user_id: Some(user),
            outcome,
            reason,
            client_ip,
        },
        now,
    )
    .await?;
    let user = find_user(txn, user)
        .await?
        .ok_or(Error::not_found("user"))?;
    Ok(Some((user, outcome)))
}

/// Locks the user's row (FOR UPDATE on PostgreSQL) and tells whether it may sign in.
async fn lock_active(txn: &impl ConnectionTrait, user: UserId) -> Result<bool> {
    let row = users::Entity::find_by_id(user.0)
        .lock_exclusive()
        .one(txn)
        .await
        .map_err(db_err)?;
    Ok(row.is_some_and(|r| r.active))
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub(super) fn cut(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

async fn insert_row(
    conn: &impl ConnectionTrait,
    entry: NewReportEntry,
    at: OffsetDateTime,
) -> Result<ReportEntry> {
    // Denials are recorded for whatever subject an upstream sent: cut, never refused.
    let subject = cut(entry.subject, MAX_SUBJECT_LEN);
    let reason = entry.reason.map(|r| cut(r, MAX_REASON_LEN));
    let client_ip = entry.client_ip.map(|ip| cut(ip, 64));
    let inserted = provisioning_report::Entity::insert(provisioning_report::ActiveModel {
        id: NotSet,
        at: Set(at),
        upstream_id: Set(entry.upstream.as_str().to_owned()),
        subject: Set(subject.clone()),
        user_id: Set(entry.user_id.map(|u| u.0)),
        decision: Set(entry.outcome.as_str().to_owned()),
        reason: Set(reason.clone()),
        client_ip: Set(client_ip.clone()),
    })
    .exec(conn)
    .await
    .map_err(db_err)?;
    Ok(ReportEntry {
        id: inserted.last_insert_id,
        at,
        upstream: entry.upstream,
        subject,
        user_id: entry.user_id,
        outcome: entry.outcome,
        reason,
        client_ip,
    })
}

fn to_entry(row: provisioning_report::Model) -> Result<ReportEntry> {
    let corrupt = |what: &str| Error::Internal(format!("report row {}: bad {what}", row.id));
    Ok(ReportEntry {
        id: row.id,
        at: row.at,
        upstream: UpstreamId::parse(&row.upstream_id).map_err(|_| corrupt("upstream"))?,
        subject: row.subject.clone(),
        user_id: row.user_id.map(UserId),
        outcome: JitOutcome::parse(&row.decision).ok_or_else(|| corrupt("decision"))?,
        reason: row.reason.clone(),
        client_ip: row.client_ip.clone(),
    })
}

#[async_trait]
impl ProvisioningReport for SqlStore {
    async fn record(&self, entry: NewReportEntry) -> Result<ReportEntry> {
        insert_row(self.conn(), entry, self.now()).await
    }

    async fn query(&self, query: &ReportQuery) -> Result<Vec<ReportEntry>> {
        let limit = PageRequest::first(query.limit).effective_limit();
        let mut select = provisioning_report::Entity::find();
        if let Some(user) = query.user {
            select = select.filter(provisioning_report::Column::UserId.eq(user.0));
        }
        if let Some(upstream) = &query.upstream {
            select = select.filter(provisioning_report::Column::UpstreamId.eq(upstream.as_str()));
        }
        // Whole seconds, rounded up: `[since, until)` exact (see `timestamps`).
        if let Some(since) = query.since {
            select = select.filter(provisioning_report::Column::At.gte(timestamps::ceil(since)));
        }
        if let Some(until) = query.until {
            select = select.filter(provisioning_report::Column::At.lt(timestamps::ceil(until)));
        }
        select
            .order_by_asc(provisioning_report::Column::At)
            .order_by_asc(provisioning_report::Column::Id)
            .limit(u64::from(limit))
            .all(self.conn())
            .await
            .map_err(db_err)?
            .into_iter()
            .map(to_entry)
            .collect()
    }
}
