//! SCIM filters onto the core's storage-neutral query AST. Every attribute path is
//! resolved against the schema here: an unknown attribute, or one usher cannot
//! filter on, is `invalidFilter` naming it; `password` is refused outright (it is
//! not stored, and a filter on it in a URL is the RFC's `sensitive` case).

// Parses network input: an index out of range must be an error, never a panic.
#![warn(clippy::indexing_slicing)]

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use usher_core::query::{
    CompareOp, EmailField, Filter, GroupField, GroupFilter, GroupLeaf, Leaf, UserField, UserFilter,
    UserLeaf, Value,
};

use usher_scim_model::error::{Result, ScimError, ScimType};
use usher_scim_model::filter::{AttrPath, Expr, Literal, Op};
use usher_scim_model::schema::{ENTERPRISE, GROUP, USER, USHER};

/// Where the filter came from: a URL query (`sensitive` applies) or a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Url,
    Body,
}

fn compare_op(op: Op) -> CompareOp {
    match op {
        Op::Eq => CompareOp::Eq,
        Op::Ne => CompareOp::Ne,
        Op::Co => CompareOp::Co,
        Op::Sw => CompareOp::Sw,
        Op::Ew => CompareOp::Ew,
        Op::Gt => CompareOp::Gt,
        Op::Ge => CompareOp::Ge,
        Op::Lt => CompareOp::Lt,
        Op::Le => CompareOp::Le,
    }
}

#[derive(Clone, Copy)]
enum ValueKind {
    Text,
    Bool,
    Time,
}

fn typed(path: &AttrPath, kind: ValueKind, lit: &Literal) -> Result<Value> {
    match (kind, lit) {
        (ValueKind::Text, Literal::Str(s)) => Ok(Value::Text(s.clone())),
        (ValueKind::Bool, Literal::Bool(b)) => Ok(Value::Bool(*b)),
        (ValueKind::Time, Literal::Str(s)) => OffsetDateTime::parse(s, &Rfc3339)
            .map(Value::Time)
            .map_err(|_| ScimError::filter(format!("{path}: {s:?} is not an RFC 3339 date-time"))),
        (ValueKind::Text, _) => Err(ScimError::filter(format!("{path} takes a quoted string"))),
        (ValueKind::Bool, _) => Err(ScimError::filter(format!("{path} takes true or false"))),
        (ValueKind::Time, _) => Err(ScimError::filter(format!(
            "{path} takes a quoted RFC 3339 date-time"
        ))),
    }
}

fn check_op(path: &AttrPath, kind: ValueKind, op: Op) -> Result<()> {
    let ok = match kind {
        ValueKind::Text => true,
        ValueKind::Bool => matches!(op, Op::Eq | Op::Ne),
        ValueKind::Time => !matches!(op, Op::Co | Op::Sw | Op::Ew),
    };
    if ok {
        Ok(())
    } else {
        Err(ScimError::filter(format!(
            "{path}: operator {op:?} does not apply to this attribute's type"
        )))
    }
}

/// A leaf: `path op value`, `path pr`, or `eq null` / `ne null`.
fn leaf<F: Clone>(
    path: &AttrPath,
    field: F,
    kind: ValueKind,
    op: Option<(Op, &Literal)>,
) -> Result<Filter<Leaf<F>>> {
    let Some((op, lit)) = op else {
        return Ok(Filter::Leaf(Leaf::Present(field)));
    };
    if *lit == Literal::Null {
        // RFC 7644 §3.4.2.2 allows null: `eq null` is "absent", `ne null` "present".
        let present = Filter::Leaf(Leaf::Present(field));
        return match op {
            Op::Eq => Ok(Filter::Not(Box::new(present))),
            Op::Ne => Ok(present),
            _ => Err(ScimError::filter(format!(
                "{path}: null compares only with eq and ne"
            ))),
        };
    }
    check_op(path, kind, op)?;
    Ok(Filter::Leaf(Leaf::Compare(
        field,
        compare_op(op),
        typed(path, kind, lit)?,
    )))
}

/// Which schema a path names (its URN, or the resource's core schema).
fn schema_of<'a>(path: &AttrPath, core: &'a str) -> Result<&'a str> {
    match &path.urn {
        None => Ok(core),
        Some(u) if u.eq_ignore_ascii_case(core) => Ok(core),
        Some(u) if core == USER && u.eq_ignore_ascii_case(ENTERPRISE) => Ok(ENTERPRISE),
        Some(u) if core == USER && u.eq_ignore_ascii_case(USHER) => Ok(USHER),
        Some(u) => Err(ScimError::filter(format!(
            "{u:?} is not a schema of this resource"
        ))),
    }
}

fn refuse_password(path: &AttrPath, origin: Origin) -> Result<()> {
    if path.name.eq_ignore_ascii_case("password") {
        let detail = "password is never stored or filtered on; remove it from the filter";
        return Err(match origin {
            Origin::Url => ScimError::bad(ScimType::Sensitive, detail),
            Origin::Body => ScimError::filter(detail),
        });
    }
    Ok(())
}

fn unknown(path: &AttrPath) -> ScimError {
    ScimError::filter(format!("{path} is not an attribute usher can filter on"))
}

fn attr(path: Vec<&str>, case_exact: bool) -> UserField {
    UserField::Attribute {
        path: path.into_iter().map(str::to_owned).collect(),
        case_exact,
    }
}

/// A plain user field for `path`, or `None` for the multi-valued ones.
fn user_field(path: &AttrPath, origin: Origin) -> Result<Option<(UserField, ValueKind)>> {
    refuse_password(path, origin)?;
    let schema = schema_of(path, USER)?;
    let name = path.name.to_ascii_lowercase();
    let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
    let text = |f: UserField| Ok(Some((f, ValueKind::Text)));
    if schema == ENTERPRISE {
        return match (name.as_str(), sub.as_deref()) {
            ("employeenumber", None) => text(attr(vec!["employeeNumber"], false)),
            ("costcenter", None) => text(attr(vec!["costCenter"], false)),
            ("organization", None) => text(attr(vec!["organization"], false)),
            ("division", None) => text(attr(vec!["division"], false)),
            ("department", None) => text(attr(vec!["department"], false)),
            ("manager", None | Some("value")) => text(attr(vec!["manager", "value"], true)),
            _ => Err(unknown(path)),
        };
    }
    if schema == USHER {
        return Err(unknown(path));
    }
    match (name.as_str(), sub.as_deref()) {
        ("id", None) => text(UserField::Id),
        ("username", None) => text(UserField::Username),
        ("externalid", None) => text(UserField::ExternalId),
        ("displayname", None) => text(UserField::DisplayName),
        ("active", None) => Ok(Some((UserField::Active, ValueKind::Bool))),
        ("name", Some("givenname")) => text(UserField::GivenName),
        ("name", Some("familyname")) => text(UserField::FamilyName),
        ("name", Some("formatted")) => text(attr(vec!["name", "formatted"], false)),
        ("name", Some("middlename")) => text(attr(vec!["name", "middleName"], false)),
        ("name", Some("honorificprefix")) => text(attr(vec!["name", "honorificPrefix"], false)),
        ("name", Some("honorificsuffix")) => text(attr(vec!["name", "honorificSuffix"], false)),
        ("nickname", None) => text(attr(vec!["nickName"], false)),
        ("profileurl", None) => text(attr(vec!["profileUrl"], false)),
        ("title", None) => text(attr(vec!["title"], false)),
        ("usertype", None) => text(attr(vec!["userType"], false)),
        ("preferredlanguage", None) => text(attr(vec!["preferredLanguage"], false)),
        ("locale", None) => text(attr(vec!["locale"], false)),
        ("timezone", None) => text(attr(vec!["timezone"], false)),
        ("meta", Some("created")) => Ok(Some((UserField::Created, ValueKind::Time))),
        ("meta", Some("lastmodified")) => Ok(Some((UserField::Modified, ValueKind::Time))),
        ("emails" | "groups", _) => Ok(None),
        ("phonenumbers" | "addresses", _) => Err(ScimError::filter(format!(
            "{path}: usher cannot filter on phoneNumbers or addresses; filter on userName, \
             externalId, emails or another single-valued attribute"
        ))),
        _ => Err(unknown(path)),
    }
}

fn email_field(path: &AttrPath, sub: Option<&str>) -> Result<(EmailField, ValueKind)> {
    match sub.map(str::to_ascii_lowercase).as_deref() {
        None | Some("value") => Ok((EmailField::Address, ValueKind::Text)),
        Some("type") => Ok((EmailField::Kind, ValueKind::Text)),
        Some("primary") => Ok((EmailField::Primary, ValueKind::Bool)),
        _ => Err(unknown(path)),
    }
}

fn email_filter(expr: &Expr, outer: &AttrPath) -> Result<Filter<Leaf<EmailField>>> {
    Ok(match expr {
        Expr::And(a, b) => Filter::And(vec![email_filter(a, outer)?, email_filter(b, outer)?]),
        Expr::Or(a, b) => Filter::Or(vec![email_filter(a, outer)?, email_filter(b, outer)?]),
        Expr::Not(a) => Filter::Not(Box::new(email_filter(a, outer)?)),
        Expr::Compare(p, op, lit) => {
            let (f, kind) = inner_email(p, outer)?;
            leaf(p, f, kind, Some((*op, lit)))?
        }
        Expr::Present(p) => {
            let (f, kind) = inner_email(p, outer)?;
            leaf(p, f, kind, None)?
        }
        Expr::ValuePath(..) => return Err(ScimError::filter("value filters cannot nest")),
    })
}

fn inner_email(p: &AttrPath, outer: &AttrPath) -> Result<(EmailField, ValueKind)> {
    // Inside `emails[...]` the paths name sub-attributes: `type`, `value`, or the
    // fully qualified `emails.type`.
    if p.urn.is_some() {
        return Err(unknown(p));
    }
    if p.name.eq_ignore_ascii_case(&outer.name) {
        return email_field(p, p.sub.as_deref());
    }
    if p.sub.is_some() {
        return Err(unknown(p));
    }
    email_field(p, Some(&p.name))
}

fn member_compare(path: &AttrPath, op: Option<(Op, &Literal)>) -> Result<(CompareOp, Value)> {
    match op {
        Some((op @ (Op::Eq | Op::Ne), Literal::Str(s))) => {
            Ok((compare_op(op), Value::Text(s.clone())))
        }
        _ => Err(ScimError::filter(format!(
            "{path}: only eq and ne with a quoted id apply"
        ))),
    }
}

fn inner_value_sub(expr: &Expr, outer: &AttrPath) -> Result<(CompareOp, Value)> {
    // `members[value eq "id"]` / `groups[value eq "id"]`: one comparison on value.
    match expr {
        Expr::Compare(p, op, lit)
            if p.urn.is_none()
                && (p.name.eq_ignore_ascii_case("value") && p.sub.is_none()
                    || p.name.eq_ignore_ascii_case(&outer.name)
                        && p.sub
                            .as_deref()
                            .is_some_and(|s| s.eq_ignore_ascii_case("value"))) =>
        {
            member_compare(p, Some((*op, lit)))
        }
        _ => Err(ScimError::filter(format!(
            "{outer}[...] supports one comparison on value"
        ))),
    }
}

/// A SCIM filter over Users.
pub(crate) fn user_filter(expr: &Expr, origin: Origin) -> Result<UserFilter> {
    let leaf_of = |path: &AttrPath, op: Option<(Op, &Literal)>| -> Result<UserFilter> {
        match user_field(path, origin)? {
            Some((field, kind)) => Ok(wrap_user(leaf(path, field, kind, op)?)),
            None if path.name.eq_ignore_ascii_case("emails") => {
                let (field, kind) = email_field(path, path.sub.as_deref())?;
                Ok(Filter::Leaf(UserLeaf::AnyEmail(leaf(
                    path, field, kind, op,
                )?)))
            }
            None => {
                if path
                    .sub
                    .as_deref()
                    .is_some_and(|s| !s.eq_ignore_ascii_case("value"))
                {
                    return Err(unknown(path));
                }
                let (op, v) = member_compare(path, op)?;
                Ok(Filter::Leaf(UserLeaf::MemberOf(op, v)))
            }
        }
    };
    Ok(match expr {
        Expr::And(a, b) => Filter::And(vec![user_filter(a, origin)?, user_filter(b, origin)?]),
        Expr::Or(a, b) => Filter::Or(vec![user_filter(a, origin)?, user_filter(b, origin)?]),
        Expr::Not(a) => Filter::Not(Box::new(user_filter(a, origin)?)),
        Expr::Compare(p, op, lit) => leaf_of(p, Some((*op, lit)))?,
        Expr::Present(p) => leaf_of(p, None)?,
        Expr::ValuePath(p, inner) => {
            refuse_password(p, origin)?;
            schema_of(p, USER)?;
            if p.name.eq_ignore_ascii_case("emails") {
                Filter::Leaf(UserLeaf::AnyEmail(email_filter(inner, p)?))
            } else if p.name.eq_ignore_ascii_case("groups") {
                let (op, v) = inner_value_sub(inner, p)?;
                Filter::Leaf(UserLeaf::MemberOf(op, v))
            } else {
                // Other value paths are refused through the same attribute check.
                user_field(p, origin)?;
                return Err(ScimError::filter(format!(
                    "{p} is not multi-valued: a value filter does not apply"
                )));
            }
        }
    })
}

/// Wraps a plain-field filter into a user filter.
fn wrap_user(f: Filter<Leaf<UserField>>) -> UserFilter {
    match f {
        Filter::And(v) => Filter::And(v.into_iter().map(wrap_user).collect()),
        Filter::Or(v) => Filter::Or(v.into_iter().map(wrap_user).collect()),
        Filter::Not(b) => Filter::Not(Box::new(wrap_user(*b))),
        Filter::Leaf(l) => Filter::Leaf(UserLeaf::Field(l)),
    }
}

fn wrap_group(f: Filter<Leaf<GroupField>>) -> GroupFilter {
    match f {
        Filter::And(v) => Filter::And(v.into_iter().map(wrap_group).collect()),
        Filter::Or(v) => Filter::Or(v.into_iter().map(wrap_group).collect()),
        Filter::Not(b) => Filter::Not(Box::new(wrap_group(*b))),
        Filter::Leaf(l) => Filter::Leaf(GroupLeaf::Field(l)),
    }
}

fn group_field(path: &AttrPath, origin: Origin) -> Result<Option<(GroupField, ValueKind)>> {
    refuse_password(path, origin)?;
    schema_of(path, GROUP)?;
    let name = path.name.to_ascii_lowercase();
    let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
    Ok(Some(match (name.as_str(), sub.as_deref()) {
        ("id", None) => (GroupField::Id, ValueKind::Text),
        ("displayname", None) => (GroupField::Name, ValueKind::Text),
        ("externalid", None) => (GroupField::ExternalId, ValueKind::Text),
        ("meta", Some("created")) => (GroupField::Created, ValueKind::Time),
        ("meta", Some("lastmodified")) => (GroupField::Modified, ValueKind::Time),
        ("members", None | Some("value")) => return Ok(None),
        _ => return Err(unknown(path)),
    }))
}

/// A SCIM filter over Groups.
pub(crate) fn group_filter(expr: &Expr, origin: Origin) -> Result<GroupFilter> {
    let leaf_of = |path: &AttrPath, op: Option<(Op, &Literal)>| -> Result<GroupFilter> {
        match group_field(path, origin)? {
            Some((field, kind)) => Ok(wrap_group(leaf(path, field, kind, op)?)),
            None => {
                let (op, v) = member_compare(path, op)?;
                Ok(Filter::Leaf(GroupLeaf::Member(op, v)))
            }
        }
    };
    Ok(match expr {
        Expr::And(a, b) => Filter::And(vec![group_filter(a, origin)?, group_filter(b, origin)?]),
        Expr::Or(a, b) => Filter::Or(vec![group_filter(a, origin)?, group_filter(b, origin)?]),
        Expr::Not(a) => Filter::Not(Box::new(group_filter(a, origin)?)),
        Expr::Compare(p, op, lit) => leaf_of(p, Some((*op, lit)))?,
        Expr::Present(p) => leaf_of(p, None)?,
        Expr::ValuePath(p, inner) => {
            if group_field(p, origin)?.is_some() {
                return Err(ScimError::filter(format!(
                    "{p} is not multi-valued: a value filter does not apply"
                )));
            }
            let (op, v) = inner_value_sub(inner, p)?;
            Filter::Leaf(GroupLeaf::Member(op, v))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use usher_scim_model::filter::parse;

    #[test]
    fn unknown_and_password_are_refused() {
        let e = parse("nosuch eq \"x\"").expect("parses");
        assert_eq!(
            user_filter(&e, Origin::Url).expect_err("unknown").scim_type,
            Some(ScimType::InvalidFilter)
        );
        let e = parse("password pr").expect("parses");
        assert_eq!(
            user_filter(&e, Origin::Url)
                .expect_err("password")
                .scim_type,
            Some(ScimType::Sensitive)
        );
        assert_eq!(
            user_filter(&e, Origin::Body)
                .expect_err("password")
                .scim_type,
            Some(ScimType::InvalidFilter)
        );
    }

    #[test]
    fn typed_values() {
        let e = parse("active eq \"yes\"").expect("parses");
        assert!(user_filter(&e, Origin::Url).is_err());
        let e = parse("active gt true").expect("parses");
        assert!(user_filter(&e, Origin::Url).is_err());
        let e = parse("meta.created gt \"2024-01-01T00:00:00Z\"").expect("parses");
        assert!(user_filter(&e, Origin::Url).is_ok());
        let e = parse("emails[type eq \"work\" and value co \"@x\"]").expect("parses");
        assert!(matches!(
            user_filter(&e, Origin::Url).expect("maps"),
            Filter::Leaf(UserLeaf::AnyEmail(Filter::And(_)))
        ));
    }
}
