//! Who is assigned to an application: the rows of `application_assignments`, how
//! they are written, and the one predicate every assignment query is built on.

use std::collections::BTreeSet;

use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SimpleExpr};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use usher_core::{ApplicationId, Assignment, Error, GroupId, PageRequest, Result, UserId};
use uuid::Uuid;

use super::SqlStore;
use super::applications::{EVERYONE, GROUP, ID_CHUNK, USER};
use super::entities::{application_assignments, applications, group_members, groups, users};
use super::errors::db_err;

/// True when `user` is assigned to `app` (both SQL expressions, so the predicate
/// works for one pair and correlated with an outer `users` or `applications` row):
/// one of the app's assignment rows is `everyone`, names the user, or names a group
/// the user is a member of. One `EXISTS` over the app's rows, found through the
/// `(application_id, ...)` unique indexes; membership through `pk_group_members`.
fn assigned(app: SimpleExpr, user: SimpleExpr) -> SimpleExpr {
    use application_assignments::Column as A;
    let a = Alias::new("aa");
    let m = Alias::new("gm");
    let member = Query::select()
        .expr(Expr::val(1))
        .from_as(group_members::Entity, m.clone())
        .and_where(
            Expr::col((m.clone(), group_members::Column::GroupId)).equals((a.clone(), A::GroupId)),
        )
        .and_where(Expr::col((m, group_members::Column::UserId)).eq(user.clone()))
        .to_owned();
    let row = Query::select()
        .expr(Expr::val(1))
        .from_as(application_assignments::Entity, a.clone())
        .and_where(Expr::col((a.clone(), A::ApplicationId)).eq(app))
        .and_where(
            Expr::col((a.clone(), A::PrincipalKind))
                .eq(EVERYONE)
                .or(Expr::col((a, A::UserId)).eq(user))
                .or(Expr::exists(member)),
        )
        .to_owned();
    Expr::exists(row)
}

impl SqlStore {
    pub(super) async fn is_assigned_impl(&self, app: ApplicationId, user: UserId) -> Result<bool> {
        // Through the user's row, so a user that does not exist is not assigned,
        // even to an app that assigns everyone.
        let found: Option<Uuid> = users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .filter(users::Column::Id.eq(user.0))
            .filter(assigned(
                Expr::val(app.0),
                Expr::col((users::Entity, users::Column::Id)),
            ))
            .into_tuple()
            .one(self.conn())
            .await
            .map_err(db_err)?;
        Ok(found.is_some())
    }

    pub(super) async fn applications_of_user_impl(
        &self,
        user: UserId,
    ) -> Result<Vec<ApplicationId>> {
        let ids: Vec<Uuid> = applications::Entity::find()
            .select_only()
            .column(applications::Column::Id)
            .filter(assigned(
                Expr::col((applications::Entity, applications::Column::Id)),
                Expr::val(user.0),
            ))
            .order_by_asc(applications::Column::Name)
            .into_tuple()
            .all(self.conn())
            .await
            .map_err(db_err)?;
        Ok(ids.into_iter().map(ApplicationId).collect())
    }

    pub(super) async fn applications_of_group_impl(
        &self,
        group: GroupId,
    ) -> Result<Vec<ApplicationId>> {
        let ids: Vec<Uuid> = application_assignments::Entity::find()
            .select_only()
            .column(application_assignments::Column::ApplicationId)
            .filter(application_assignments::Column::GroupId.eq(group.0))
            .order_by_asc(application_assignments::Column::ApplicationId)
            .into_tuple()
            .all(self.conn())
            .await
            .map_err(db_err)?;
        Ok(ids.into_iter().map(ApplicationId).collect())
    }

    pub(super) async fn assigned_users_impl(
        &self,
        app: ApplicationId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<UserId>> {
        let limit = PageRequest::first(limit).effective_limit();
        // Walks users in id order and keeps the assigned ones: the order and the
        // cursor are the users' primary key, so pages neither skip nor repeat
        // anyone however the assignment reaches them (everyone, directly, groups).
        let mut select = users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .filter(assigned(
                Expr::val(app.0),
                Expr::col((users::Entity, users::Column::Id)),
            ));
        if let Some(after) = after {
            select = select.filter(users::Column::Id.gt(after.0));
        }
        let ids: Vec<Uuid> = select
            .order_by_asc(users::Column::Id)
            .limit(u64::from(limit))
            .into_tuple()
            .all(self.conn())
            .await
            .map_err(db_err)?;
        Ok(ids.into_iter().map(UserId).collect())
    }
}

/// Makes `app`'s assignment rows exactly `assignment` on `conn` (the transaction
/// that writes the app), after checking that every group and user it names exists.
pub(super) async fn replace_assignment(
    conn: &impl ConnectionTrait,
    app: ApplicationId,
    assignment: &Assignment,
) -> Result<()> {
    check_exist(conn, assignment).await?;
    application_assignments::Entity::delete_many()
        .filter(application_assignments::Column::ApplicationId.eq(app.0))
        .exec(conn)
        .await
        .map_err(db_err)?;
    let row = |kind: &str, group: Option<Uuid>, user: Option<Uuid>| {
        application_assignments::ActiveModel {
            id: NotSet,
            application_id: Set(app.0),
            principal_kind: Set(kind.to_owned()),
            group_id: Set(group),
            user_id: Set(user),
        }
    };
    let mut rows = Vec::new();
    if assignment.everyone {
        rows.push(row(EVERYONE, None, None));
    }
    rows.extend(
        assignment
            .groups
            .iter()
            .map(|g| row(GROUP, Some(g.0), None)),
    );
    rows.extend(assignment.users.iter().map(|u| row(USER, None, Some(u.0))));
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(ID_CHUNK).collect();
        application_assignments::Entity::insert_many(chunk)
            .exec_without_returning(conn)
            .await
            .map_err(|e| {
                // The check above ran in this transaction; a group or user deleted
                // since by another one is still refused, by the foreign key.
                if super::errors::is_foreign_key_violation(&e) {
                    Error::not_found("assigned group or user")
                } else {
                    db_err(e)
                }
            })?;
    }
    Ok(())
}

/// The store never keeps an assignment to a group or user that does not exist
/// (the binary resolves names to ids first; this is the backstop).
async fn check_exist(conn: &impl ConnectionTrait, assignment: &Assignment) -> Result<()> {
    let wanted: Vec<Uuid> = assignment.groups.iter().map(|g| g.0).collect();
    for chunk in wanted.chunks(ID_CHUNK) {
        let found: BTreeSet<Uuid> = groups::Entity::find()
            .select_only()
            .column(groups::Column::Id)
            .filter(groups::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple::<Uuid>()
            .all(conn)
            .await
            .map_err(db_err)?
            .into_iter()
            .collect();
        if chunk.iter().any(|id| !found.contains(id)) {
            return Err(Error::not_found("assigned group"));
        }
    }
    let wanted: Vec<Uuid> = assignment.users.iter().map(|u| u.0).collect();
    for chunk in wanted.chunks(ID_CHUNK) {
        let found: BTreeSet<Uuid> = users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .filter(users::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple::<Uuid>()
            .all(conn)
            .await
            .map_err(db_err)?
            .into_iter()
            .collect();
        if chunk.iter().any(|id| !found.contains(id)) {
            return Err(Error::not_found("assigned user"));
        }
    }
    Ok(())
}
