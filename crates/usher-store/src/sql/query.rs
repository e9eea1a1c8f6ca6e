//! The core's query AST (`usher_core::query`) as sea-query expressions. Every
//! value of a filter is a bound parameter; the only text this module writes into
//! SQL is its own (column names, operators, the JSON path placeholders), so a
//! filter cannot change the statement's shape, whatever it contains.
//!
//! Leaves are two-valued: a comparison on an absent (NULL) attribute is false, not
//! unknown (`col IS NOT NULL AND col = ?`), so `not` is the exact complement on
//! both backends, and `ne` matches users without the attribute.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, LikeExpr, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, DbBackend, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Select,
};
use usher_core::query::{
    CompareOp, EmailField, Filter, GroupField, GroupLeaf, GroupQuery, GroupSort, Leaf, Slice,
    UserField, UserLeaf, UserQuery, UserSort, Value, check_bounds,
};
use usher_core::{Error, Group, Result, User};
use uuid::Uuid;

use super::SqlStore;
use super::entities::{group_members, groups, user_emails, users};
use super::errors::db_err;
use super::groups::to_group;
use super::timestamps;
use super::users::load_users;

impl SqlStore {
    pub(super) async fn query_users_impl(&self, query: &UserQuery) -> Result<Slice<User>> {
        let backend = self.conn().get_database_backend();
        let mut select = users::Entity::find();
        if let Some(filter) = &query.filter {
            check_bounds(filter)?;
            select = select.filter(user_filter(filter, backend)?);
        }
        if let Some(owner) = &query.owner {
            select = select.filter(users::Column::ProvisionedBy.eq(owner.clone()));
        }
        let total = select.clone().count(self.conn()).await.map_err(db_err)?;
        if query.limit == 0 || query.offset >= total {
            return Ok(Slice {
                items: Vec::new(),
                total,
            });
        }
        let order = if query.descending {
            Order::Desc
        } else {
            Order::Asc
        };
        if let Some(sort) = query.sort {
            let column = match sort {
                UserSort::Username => users::Column::UsernameNormalized,
                UserSort::DisplayName => users::Column::DisplayName,
                UserSort::GivenName => users::Column::GivenName,
                UserSort::FamilyName => users::Column::FamilyName,
                UserSort::ExternalId => users::Column::ExternalId,
                UserSort::Created => users::Column::CreatedAt,
                UserSort::Modified => users::Column::UpdatedAt,
            };
            select = nulls_last(select, column, order.clone());
        }
        let rows = select
            .order_by(users::Column::Id, order)
            .offset(query.offset)
            .limit(u64::from(query.limit))
            .all(self.conn())
            .await
            .map_err(db_err)?;
        Ok(Slice {
            items: load_users(self.conn(), rows).await?,
            total,
        })
    }

    pub(super) async fn query_groups_impl(&self, query: &GroupQuery) -> Result<Slice<Group>> {
        let mut select = groups::Entity::find();
        if let Some(filter) = &query.filter {
            check_bounds(filter)?;
            select = select.filter(group_filter(filter)?);
        }
        if let Some(owner) = &query.owner {
            select = select.filter(groups::Column::ProvisionedBy.eq(owner.clone()));
        }
        let total = select.clone().count(self.conn()).await.map_err(db_err)?;
        if query.limit == 0 || query.offset >= total {
            return Ok(Slice {
                items: Vec::new(),
                total,
            });
        }
        let order = if query.descending {
            Order::Desc
        } else {
            Order::Asc
        };
        if let Some(sort) = query.sort {
            let column = match sort {
                GroupSort::Name => groups::Column::NameNormalized,
                GroupSort::DisplayName => groups::Column::DisplayName,
                GroupSort::ExternalId => groups::Column::ExternalId,
                GroupSort::Created => groups::Column::CreatedAt,
                GroupSort::Modified => groups::Column::UpdatedAt,
            };
            select = nulls_last(select, column, order.clone());
        }
        let rows = select
            .order_by(groups::Column::Id, order)
            .offset(query.offset)
            .limit(u64::from(query.limit))
            .all(self.conn())
            .await
            .map_err(db_err)?;
        Ok(Slice {
            items: rows.into_iter().map(to_group).collect(),
            total,
        })
    }
}

/// Orders by `column` with NULLs last on both backends (PostgreSQL puts them last
/// ascending, SQLite first), so pages do not reshuffle between databases.
fn nulls_last<E: EntityTrait, C: ColumnTrait>(
    select: Select<E>,
    column: C,
    order: Order,
) -> Select<E> {
    select
        .order_by_asc(column.into_expr().is_null())
        .order_by(column, order)
}

fn combine<L>(
    filter: &Filter<L>,
    leaf: &mut dyn FnMut(&L) -> Result<SimpleExpr>,
) -> Result<SimpleExpr> {
    Ok(match filter {
        Filter::And(children) => {
            let mut acc: Option<SimpleExpr> = None;
            for child in children {
                let e = combine(child, leaf)?;
                acc = Some(match acc {
                    Some(a) => a.and(e),
                    None => e,
                });
            }
            acc.unwrap_or_else(always)
        }
        Filter::Or(children) => {
            let mut acc: Option<SimpleExpr> = None;
            for child in children {
                let e = combine(child, leaf)?;
                acc = Some(match acc {
                    Some(a) => a.or(e),
                    None => e,
                });
            }
            acc.unwrap_or_else(never)
        }
        Filter::Not(child) => combine(child, leaf)?.not(),
        Filter::Leaf(l) => leaf(l)?,
    })
}

fn always() -> SimpleExpr {
    Expr::cust("1 = 1")
}

fn never() -> SimpleExpr {
    Expr::cust("1 = 0")
}

/// How a text column compares.
#[derive(Clone, Copy)]
enum Case {
    /// The column holds the lowercased form; the value is lowercased here.
    Normalized,
    /// Compared through `LOWER()` on both sides.
    Insensitive,
    /// Compared as is.
    Exact,
}

fn text(value: &Value, what: &str) -> Result<String> {
    match value {
        Value::Text(s) => Ok(s.clone()),
        _ => Err(Error::Invalid(format!("{what} takes a string"))),
    }
}

/// `%`, `_` and the escape character itself are literal in a SCIM value.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn text_compare(
    col: SimpleExpr,
    case: Case,
    op: CompareOp,
    value: &Value,
    what: &str,
) -> Result<SimpleExpr> {
    let raw = text(value, what)?;
    let (lhs, v) = match case {
        Case::Normalized => (col.clone(), raw.to_lowercase()),
        Case::Insensitive => (Func::lower(col.clone()).into(), raw.to_lowercase()),
        Case::Exact => (col.clone(), raw),
    };
    let like = |pattern: String| lhs.clone().like(LikeExpr::new(pattern).escape('\\'));
    let cmp = match op {
        CompareOp::Eq => lhs.clone().eq(v),
        CompareOp::Ne => return Ok(text_compare(col, case, CompareOp::Eq, value, what)?.not()),
        CompareOp::Co => like(format!("%{}%", like_escape(&v))),
        CompareOp::Sw => like(format!("{}%", like_escape(&v))),
        CompareOp::Ew => like(format!("%{}", like_escape(&v))),
        CompareOp::Gt => lhs.clone().gt(v),
        CompareOp::Ge => lhs.clone().gte(v),
        CompareOp::Lt => lhs.clone().lt(v),
        CompareOp::Le => lhs.clone().lte(v),
    };
    Ok(col.is_not_null().and(cmp))
}

fn bool_compare(col: SimpleExpr, op: CompareOp, value: &Value, what: &str) -> Result<SimpleExpr> {
    let Value::Bool(b) = value else {
        return Err(Error::Invalid(format!("{what} takes true or false")));
    };
    let eq = col.clone().is_not_null().and(col.eq(*b));
    match op {
        CompareOp::Eq => Ok(eq),
        CompareOp::Ne => Ok(eq.not()),
        _ => Err(Error::Invalid(format!(
            "{what} is a boolean: only eq, ne and pr apply"
        ))),
    }
}

/// Stored times are whole seconds (see `timestamps`): bounds are rounded so that
/// `gt`/`ge`/`lt`/`le` stay exact against a value with a fraction.
fn time_compare(col: SimpleExpr, op: CompareOp, value: &Value, what: &str) -> Result<SimpleExpr> {
    let Value::Time(t) = value else {
        return Err(Error::Invalid(format!("{what} takes a date-time")));
    };
    let floor = timestamps::stored(*t);
    let ceil = timestamps::ceil(*t);
    let cmp = match op {
        CompareOp::Eq => col.clone().gte(ceil).and(col.clone().lte(floor)),
        CompareOp::Ne => {
            return Ok(time_compare(col, CompareOp::Eq, value, what)?.not());
        }
        CompareOp::Gt => col.clone().gt(floor),
        CompareOp::Ge => col.clone().gte(ceil),
        CompareOp::Lt => col.clone().lt(ceil),
        CompareOp::Le => col.clone().lte(floor),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
            return Err(Error::Invalid(format!(
                "{what} is a date-time: co, sw and ew do not apply"
            )));
        }
    };
    Ok(col.is_not_null().and(cmp))
}

fn id_compare(col: SimpleExpr, op: CompareOp, value: &Value, what: &str) -> Result<SimpleExpr> {
    let raw = text(value, what)?;
    match (op, Uuid::parse_str(&raw)) {
        (CompareOp::Eq, Ok(id)) => Ok(col.eq(id)),
        (CompareOp::Ne, Ok(id)) => Ok(col.eq(id).not()),
        // An id that is not a UUID names no row.
        (CompareOp::Eq, Err(_)) => Ok(never()),
        (CompareOp::Ne, Err(_)) => Ok(always()),
        _ => Err(Error::Invalid(format!("{what} takes only eq and ne"))),
    }
}

fn users_col(c: users::Column) -> SimpleExpr {
    Expr::col((users::Entity, c))
}

fn user_attribute(path: &[String], backend: DbBackend) -> Result<SimpleExpr> {
    let valid = !path.is_empty()
        && path.len() <= 2
        && path
            .iter()
            .all(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !valid {
        return Err(Error::Invalid("unsupported attribute path".into()));
    }
    Ok(match backend {
        DbBackend::Postgres => {
            let sql = if path.len() == 1 {
                r#"("users"."attributes" ->> $1)"#
            } else {
                r#"("users"."attributes" -> $1 ->> $2)"#
            };
            Expr::cust_with_values(sql, path.iter().cloned())
        }
        _ => {
            let json_path = format!("$.{}", path.join("."));
            Expr::cust_with_values(r#"json_extract("users"."attributes", ?)"#, [json_path])
        }
    })
}

fn user_field(field: &UserField, backend: DbBackend) -> Result<(SimpleExpr, Kind)> {
    use users::Column as C;
    Ok(match field {
        UserField::Id => (users_col(C::Id), Kind::Id),
        UserField::Username => (
            users_col(C::UsernameNormalized),
            Kind::Text(Case::Normalized),
        ),
        UserField::ExternalId => (users_col(C::ExternalId), Kind::Text(Case::Exact)),
        UserField::DisplayName => (users_col(C::DisplayName), Kind::Text(Case::Insensitive)),
        UserField::GivenName => (users_col(C::GivenName), Kind::Text(Case::Insensitive)),
        UserField::FamilyName => (users_col(C::FamilyName), Kind::Text(Case::Insensitive)),
        UserField::Active => (users_col(C::Active), Kind::Bool),
        UserField::Created => (users_col(C::CreatedAt), Kind::Time),
        UserField::Modified => (users_col(C::UpdatedAt), Kind::Time),
        UserField::Attribute { path, case_exact } => (
            user_attribute(path, backend)?,
            Kind::Text(if *case_exact {
                Case::Exact
            } else {
                Case::Insensitive
            }),
        ),
    })
}

#[derive(Clone, Copy)]
enum Kind {
    Id,
    Text(Case),
    Bool,
    Time,
}

fn compare(col: SimpleExpr, kind: Kind, op: CompareOp, value: &Value) -> Result<SimpleExpr> {
    match kind {
        Kind::Id => id_compare(col, op, value, "id"),
        Kind::Text(case) => text_compare(col, case, op, value, "this attribute"),
        Kind::Bool => bool_compare(col, op, value, "this attribute"),
        Kind::Time => time_compare(col, op, value, "this attribute"),
    }
}

fn present(col: SimpleExpr, kind: Kind) -> SimpleExpr {
    match kind {
        // RFC 7644 §3.4.2.2 `pr`: "has a non-empty value".
        Kind::Text(_) => col.clone().is_not_null().and(col.ne("")),
        _ => col.is_not_null(),
    }
}

fn leaf<F>(l: &Leaf<F>, field: impl Fn(&F) -> Result<(SimpleExpr, Kind)>) -> Result<SimpleExpr> {
    match l {
        Leaf::Compare(f, op, v) => {
            let (col, kind) = field(f)?;
            compare(col, kind, *op, v)
        }
        Leaf::Present(f) => {
            let (col, kind) = field(f)?;
            Ok(present(col, kind))
        }
    }
}

fn email_field(f: &EmailField) -> Result<(SimpleExpr, Kind)> {
    let col = |c: user_emails::Column| Expr::col((Alias::new("e"), c));
    Ok(match f {
        EmailField::Address => (
            col(user_emails::Column::AddressNormalized),
            Kind::Text(Case::Normalized),
        ),
        EmailField::Kind => (
            col(user_emails::Column::Kind),
            Kind::Text(Case::Insensitive),
        ),
        EmailField::Primary => (col(user_emails::Column::IsPrimary), Kind::Bool),
    })
}

fn user_filter(filter: &Filter<UserLeaf>, backend: DbBackend) -> Result<SimpleExpr> {
    combine(filter, &mut |l: &UserLeaf| match l {
        UserLeaf::Field(f) => leaf(f, |f| user_field(f, backend)),
        UserLeaf::AnyEmail(inner) => {
            // EXISTS over one address row: every part of a value path must hold for
            // the same address (RFC 7644 §3.4.2.2, valuePath).
            let inner = combine(inner, &mut |l| leaf(l, email_field))?;
            let sub = Query::select()
                .expr(Expr::val(1))
                .from_as(user_emails::Entity, Alias::new("e"))
                .and_where(
                    Expr::col((Alias::new("e"), user_emails::Column::UserId))
                        .equals((users::Entity, users::Column::Id)),
                )
                .and_where(inner)
                .to_owned();
            Ok(Expr::exists(sub))
        }
        UserLeaf::MemberOf(op, value) => {
            let cmp = id_compare(
                Expr::col((Alias::new("m"), group_members::Column::GroupId)),
                *op,
                value,
                "groups.value",
            )?;
            let sub = Query::select()
                .expr(Expr::val(1))
                .from_as(group_members::Entity, Alias::new("m"))
                .and_where(
                    Expr::col((Alias::new("m"), group_members::Column::UserId))
                        .equals((users::Entity, users::Column::Id)),
                )
                .and_where(cmp)
                .to_owned();
            Ok(Expr::exists(sub))
        }
    })
}

fn group_field(f: &GroupField) -> Result<(SimpleExpr, Kind)> {
    use groups::Column as C;
    let col = |c: C| Expr::col((groups::Entity, c));
    Ok(match f {
        GroupField::Id => (col(C::Id), Kind::Id),
        GroupField::Name => (col(C::NameNormalized), Kind::Text(Case::Normalized)),
        GroupField::DisplayName => (col(C::DisplayName), Kind::Text(Case::Insensitive)),
        GroupField::ExternalId => (col(C::ExternalId), Kind::Text(Case::Exact)),
        GroupField::Created => (col(C::CreatedAt), Kind::Time),
        GroupField::Modified => (col(C::UpdatedAt), Kind::Time),
    })
}

fn group_filter(filter: &Filter<GroupLeaf>) -> Result<SimpleExpr> {
    combine(filter, &mut |l: &GroupLeaf| match l {
        GroupLeaf::Field(f) => leaf(f, group_field),
        GroupLeaf::Member(op, value) => {
            let cmp = id_compare(
                Expr::col((Alias::new("m"), group_members::Column::UserId)),
                *op,
                value,
                "members.value",
            )?;
            let sub = Query::select()
                .expr(Expr::val(1))
                .from_as(group_members::Entity, Alias::new("m"))
                .and_where(
                    Expr::col((Alias::new("m"), group_members::Column::GroupId))
                        .equals((groups::Entity, groups::Column::Id)),
                )
                .and_where(cmp)
                .to_owned();
            Ok(Expr::exists(sub))
        }
    })
}
