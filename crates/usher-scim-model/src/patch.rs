//! The PATCH engine (RFC 7644 §3.5.2): `add`, `replace` and `remove` applied in
//! order to a resource's canonical document in memory. Any failing operation fails
//! the request before anything is stored, and the result is stored in one
//! transaction: the whole PATCH applies or none of it does.
//!
//! Accepted beyond the RFC, for Entra ID and Okta (see docs/scim.md): operation
//! names in any case (`"Replace"`), string booleans (`"False"`), pathless values
//! whose keys are attribute paths (`{"name.givenName": "x"}`, URN-prefixed
//! enterprise attributes), `remove` of `members` with a value array, and `add` or
//! `replace` through `attr[type eq "work"].sub` creating the value when none has
//! that type.

// Parses network input: an index out of range must be an error, never a panic.
#![warn(clippy::indexing_slicing)]

use serde_json::{Map, Value};

use crate::doc::{Doc, canonical_object, canonical_value};
use crate::error::{Result, ScimError};
use crate::filter::{self, AttrPath, Expr, Literal, Op};
use crate::schema::{self, Attr, Kind, Mutability, PATCH_OP, Type};

/// Most operations in one PATCH request.
pub const MAX_OPERATIONS: usize = 1000;

/// The three operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

/// One operation of a PatchOp request.
#[derive(Debug, Clone)]
pub struct Operation {
    pub op: OpKind,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// Parses a PatchOp body.
pub fn parse(body: &Value) -> Result<Vec<Operation>> {
    let Value::Object(o) = body else {
        return Err(ScimError::syntax("the body must be a JSON object"));
    };
    let schemas_ok = o.get("schemas").and_then(Value::as_array).is_some_and(|l| {
        l.iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP)))
    });
    if !schemas_ok {
        return Err(ScimError::syntax(format!("schemas must list {PATCH_OP}")));
    }
    let ops = o
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Operations"))
        .and_then(|(_, v)| v.as_array())
        .ok_or_else(|| ScimError::syntax("Operations must be a list of operations"))?;
    if ops.is_empty() {
        return Err(ScimError::syntax("Operations is empty"));
    }
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::too_large(format!(
            "a PATCH carries at most {MAX_OPERATIONS} operations"
        )));
    }
    let mut out = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let Value::Object(op) = op else {
            return Err(ScimError::syntax(format!(
                "Operations[{i}] must be an object"
            )));
        };
        let mut kind = None;
        let mut path = None;
        let mut value = None;
        for (k, v) in op {
            match k.to_ascii_lowercase().as_str() {
                "op" => {
                    kind = Some(match v.as_str().map(str::to_ascii_lowercase).as_deref() {
                        Some("add") => OpKind::Add,
                        Some("replace") => OpKind::Replace,
                        Some("remove") => OpKind::Remove,
                        _ => {
                            return Err(ScimError::syntax(format!(
                                "Operations[{i}].op must be add, replace or remove"
                            )));
                        }
                    });
                }
                "path" => match v {
                    Value::String(s) if !s.trim().is_empty() => path = Some(s.trim().to_owned()),
                    Value::String(_) | Value::Null => {}
                    _ => {
                        return Err(ScimError::path(format!(
                            "Operations[{i}].path must be a string"
                        )));
                    }
                },
                "value" => value = Some(v.clone()),
                _ => {
                    return Err(ScimError::syntax(format!(
                        "Operations[{i}] has an unknown member {k:?}"
                    )));
                }
            }
        }
        let op = kind.ok_or_else(|| ScimError::syntax(format!("Operations[{i}].op is missing")))?;
        if op != OpKind::Remove && value.is_none() {
            return Err(ScimError::value(format!("Operations[{i}] needs a value")));
        }
        out.push(Operation { op, path, value });
    }
    Ok(out)
}

const EXTERNAL_ID: Attr = Attr {
    name: "externalId",
    ty: Type::String,
    multi: false,
    required: false,
    case_exact: true,
    mutability: Mutability::ReadWrite,
    unique: false,
    canonical: &[],
    sub: &[],
    description: "",
};

/// What a path names.
enum Target {
    /// A whole extension object.
    Extension(&'static str, &'static [Attr]),
    /// An attribute, in the core document or an extension, maybe narrowed.
    Attr {
        container: Option<&'static str>,
        attr: &'static Attr,
        filter: Option<Expr>,
        sub: Option<&'static Attr>,
    },
}

fn resolve(kind: Kind, path: &str) -> Result<Target> {
    if let Some((urn, attrs)) = kind.extension(path) {
        return Ok(Target::Extension(urn, attrs));
    }
    let (ap, filter, sub_after) = filter::parse_patch_path(path)?;
    let (container, attrs): (Option<&'static str>, &'static [Attr]) = match &ap.urn {
        None => (None, kind.attrs()),
        Some(u) if u.eq_ignore_ascii_case(kind.core()) => (None, kind.attrs()),
        Some(u) => match kind.extension(u) {
            Some((urn, attrs)) => (Some(urn), attrs),
            None => {
                return Err(ScimError::path(format!(
                    "{u:?} is not a schema of a {}",
                    kind.name()
                )));
            }
        },
    };
    let lower = ap.name.to_ascii_lowercase();
    if container.is_none() {
        match lower.as_str() {
            "id" | "meta" | "schemas" => {
                return Err(ScimError::mutability(format!(
                    "{} is read-only and cannot be changed",
                    ap.name
                )));
            }
            "externalid" if ap.sub.is_none() && filter.is_none() => {
                return Ok(Target::Attr {
                    container: None,
                    attr: &EXTERNAL_ID,
                    filter: None,
                    sub: None,
                });
            }
            _ => {}
        }
    }
    let attr = schema::find(attrs, &ap.name).ok_or_else(|| {
        ScimError::path(format!(
            "{path:?}: {} is not an attribute of a {}",
            ap.name,
            kind.name()
        ))
    })?;
    if attr.mutability == Mutability::ReadOnly {
        return Err(ScimError::mutability(format!("{} is read-only", attr.name)));
    }
    let sub_name = ap.sub.as_deref().or(sub_after.as_deref());
    let sub = match sub_name {
        Some(s) => Some(schema::find(attr.sub, s).ok_or_else(|| {
            ScimError::path(format!("{path:?}: {} has no sub-attribute {s}", attr.name))
        })?),
        None => None,
    };
    if filter.is_some() && !attr.multi {
        return Err(ScimError::path(format!(
            "{path:?}: {} is not multi-valued, so a value filter does not apply",
            attr.name
        )));
    }
    if ap.sub.is_some() && attr.multi {
        return Err(ScimError::path(format!(
            "{path:?}: name one value of {} with a filter, as in {}[type eq \"work\"].value",
            attr.name, attr.name
        )));
    }
    if let Some(s) = sub
        && s.mutability != Mutability::ReadWrite
    {
        return Err(ScimError::mutability(format!(
            "{}.{} cannot be changed",
            attr.name, s.name
        )));
    }
    Ok(Target::Attr {
        container,
        attr,
        filter,
        sub,
    })
}

/// Applies `ops` to `doc` in order.
pub fn apply(kind: Kind, id: &str, doc: &mut Doc, ops: &[Operation]) -> Result<()> {
    for (i, op) in ops.iter().enumerate() {
        apply_one(kind, id, doc, op).map_err(|mut e| {
            e.detail = format!("Operations[{i}]: {}", e.detail);
            e
        })?;
    }
    Ok(())
}

fn apply_one(kind: Kind, id: &str, doc: &mut Doc, op: &Operation) -> Result<()> {
    match &op.path {
        // usher keeps no passwords for provisioned users (see doc.rs).
        Some(path) if kind == Kind::User && path.eq_ignore_ascii_case("password") => Ok(()),
        Some(path) => apply_path(kind, doc, op.op, path, op.value.as_ref()),
        None if op.op == OpKind::Remove => Err(ScimError::no_target(
            "remove needs a path (RFC 7644 §3.5.2.2)",
        )),
        None => {
            // RFC 7644 §3.5.2.1/§3.5.2.3: without a path the value is an object of
            // attributes; its keys may be paths (Entra ID sends "name.givenName").
            let Some(Value::Object(map)) = &op.value else {
                return Err(ScimError::value(
                    "without a path, value must be an object of attributes",
                ));
            };
            for (k, v) in map {
                // Okta repeats the resource's own id in a pathless replace; any
                // other id is still a write to a read-only attribute.
                let same_id = k.eq_ignore_ascii_case("id") && v.as_str() == Some(id);
                let password = kind == Kind::User && k.eq_ignore_ascii_case("password");
                if k.eq_ignore_ascii_case("schemas") || same_id || password {
                    continue;
                }
                if let (Some(_), Value::Object(inner)) = (kind.extension(k), v) {
                    for (k2, v2) in inner {
                        apply_path(kind, doc, op.op, &format!("{k}:{k2}"), Some(v2))?;
                    }
                    continue;
                }
                apply_path(kind, doc, op.op, k, Some(v))?;
            }
            Ok(())
        }
    }
}

fn container<'a>(doc: &'a mut Doc, urn: Option<&str>) -> &'a mut Doc {
    let Some(urn) = urn else {
        return doc;
    };
    let entry = doc
        .entry(urn.to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut().expect("made an object just above")
}

/// Drops empty extension objects, arrays and complex values left behind.
fn tidy(doc: &mut Doc) {
    doc.retain(|_, v| match v {
        Value::Object(m) => {
            tidy(m);
            !m.is_empty()
        }
        Value::Array(a) => !a.is_empty(),
        Value::Null => false,
        _ => true,
    });
}

fn apply_path(
    kind: Kind,
    doc: &mut Doc,
    op: OpKind,
    path: &str,
    value: Option<&Value>,
) -> Result<()> {
    match resolve(kind, path)? {
        Target::Extension(urn, attrs) => {
            match op {
                OpKind::Remove => {
                    doc.remove(urn);
                }
                OpKind::Add | OpKind::Replace => {
                    let Some(Value::Object(o)) = value else {
                        return Err(ScimError::value(format!("{urn} takes an object")));
                    };
                    let new = canonical_object(attrs, o, urn)?;
                    let c = container(doc, Some(urn));
                    for (k, v) in new {
                        c.insert(k, v);
                    }
                }
            }
            tidy(doc);
            Ok(())
        }
        Target::Attr {
            container: urn,
            attr,
            filter,
            sub,
        } => {
            let c = container(doc, urn);
            match (filter, sub) {
                (None, None) => whole(c, attr, op, value)?,
                (None, Some(sub)) => sub_of_single(c, attr, sub, op, value)?,
                (Some(f), sub) => filtered(c, attr, &f, sub, op, value)?,
            }
            tidy(doc);
            Ok(())
        }
    }
}

fn canon(attr: &Attr, v: Option<&Value>) -> Result<Option<Value>> {
    match v {
        Some(v) => canonical_value(attr, v, attr.name),
        None => Ok(None),
    }
}

fn whole(c: &mut Doc, attr: &Attr, op: OpKind, value: Option<&Value>) -> Result<()> {
    let key = attr.name;
    match op {
        OpKind::Remove => {
            match (attr.multi, value) {
                // Entra ID: {"op":"Remove","path":"members","value":[{"value":"id"}]}
                // removes those values only.
                (true, Some(Value::Array(items))) if !items.is_empty() => {
                    let gone: Vec<&Value> = items.iter().filter_map(|i| i.get("value")).collect();
                    if let Some(Value::Array(list)) = c.get_mut(key) {
                        list.retain(|e| !e.get("value").is_some_and(|v| gone.contains(&v)));
                    }
                }
                _ => {
                    c.remove(key);
                }
            }
            Ok(())
        }
        OpKind::Add | OpKind::Replace => {
            let Some(new) = canon(attr, value)? else {
                // A null or empty value unassigns (RFC 7644 §3.5.2.3, RFC 7643 §2.5).
                if op == OpKind::Replace {
                    c.remove(key);
                }
                return Ok(());
            };
            match (attr.multi, attr.ty, op) {
                (true, _, OpKind::Add) => {
                    let list = c
                        .entry(key.to_owned())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if !list.is_array() {
                        *list = Value::Array(Vec::new());
                    }
                    if let (Value::Array(list), Value::Array(items)) = (list, new) {
                        for item in items {
                            // RFC 7644 §3.5.2.1: a value already there is not added twice.
                            let dup = list.iter().any(|e| same_value(e, &item));
                            if !dup {
                                list.push(item);
                            }
                        }
                    }
                }
                (false, Type::Complex, _) => {
                    // Sub-attributes not given are left as they are.
                    let slot = c
                        .entry(key.to_owned())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if !slot.is_object() {
                        *slot = Value::Object(Map::new());
                    }
                    if let (Value::Object(slot), Value::Object(new)) = (slot, new) {
                        for (k, v) in new {
                            slot.insert(k, v);
                        }
                    }
                }
                _ => {
                    c.insert(key.to_owned(), new);
                }
            }
            Ok(())
        }
    }
}

/// Two values of a multi-valued attribute are the same when their `value`s are
/// (or, without `value`, when they are equal).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn sub_of_single(
    c: &mut Doc,
    attr: &Attr,
    sub: &Attr,
    op: OpKind,
    value: Option<&Value>,
) -> Result<()> {
    match op {
        OpKind::Remove => {
            if let Some(Value::Object(o)) = c.get_mut(attr.name) {
                o.remove(sub.name);
            }
        }
        OpKind::Add | OpKind::Replace => {
            let new = canon(sub, value)?;
            let slot = c
                .entry(attr.name.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(o) = slot {
                match new {
                    Some(v) => {
                        o.insert(sub.name.to_owned(), v);
                    }
                    None => {
                        o.remove(sub.name);
                    }
                }
            }
        }
    }
    Ok(())
}

/// The `type` a filter of the form `type eq "x"` asks for: what Entra ID's
/// `emails[type eq "work"].value` creates when no work address exists yet.
fn creatable_type(f: &Expr) -> Option<&str> {
    match f {
        Expr::Compare(p, Op::Eq, Literal::Str(t))
            if p.urn.is_none() && p.name.eq_ignore_ascii_case("type") && p.sub.is_none() =>
        {
            Some(t)
        }
        _ => None,
    }
}

fn filtered(
    c: &mut Doc,
    attr: &Attr,
    f: &Expr,
    sub: Option<&Attr>,
    op: OpKind,
    value: Option<&Value>,
) -> Result<()> {
    let list: Vec<Value> = match c.get(attr.name) {
        Some(Value::Array(l)) => l.clone(),
        _ => Vec::new(),
    };
    let mut matched = Vec::new();
    for (i, e) in list.iter().enumerate() {
        if eval(f, e, attr)? {
            matched.push(i);
        }
    }
    let mut list = list;
    match op {
        OpKind::Remove => {
            // Removing what is not there leaves the resource as it is: clients
            // (Okta) retry removals, and the outcome they want already holds.
            match sub {
                None => {
                    let mut i = 0;
                    list.retain(|_| {
                        let keep = !matched.contains(&i);
                        i += 1;
                        keep
                    });
                }
                Some(s) => {
                    for i in &matched {
                        if let Some(Value::Object(o)) = list.get_mut(*i) {
                            o.remove(s.name);
                        }
                    }
                }
            }
        }
        OpKind::Add | OpKind::Replace => {
            let new = match sub {
                Some(s) => canon(s, value)?,
                None => {
                    let item_attr = Attr {
                        multi: false,
                        ..clone_attr(attr)
                    };
                    canon(&item_attr, value)?
                }
            };
            if matched.is_empty() {
                let Some(t) = creatable_type(f) else {
                    return Err(ScimError::no_target(format!(
                        "no value of {} matches the filter",
                        attr.name
                    )));
                };
                let mut item = Map::new();
                item.insert("type".into(), Value::String(t.to_owned()));
                match (sub, new) {
                    (Some(s), Some(v)) => {
                        item.insert(s.name.to_owned(), v);
                    }
                    (None, Some(Value::Object(o))) => item.extend(o),
                    _ => return Ok(()),
                }
                list.push(Value::Object(item));
            } else {
                for i in &matched {
                    let Some(Value::Object(o)) = list.get_mut(*i) else {
                        continue;
                    };
                    match (sub, &new) {
                        (Some(s), Some(v)) => {
                            o.insert(s.name.to_owned(), v.clone());
                        }
                        (Some(s), None) => {
                            o.remove(s.name);
                        }
                        (None, Some(Value::Object(n))) => {
                            if op == OpKind::Replace {
                                o.clear();
                            }
                            o.extend(n.clone());
                        }
                        (None, _) => {}
                    }
                }
            }
        }
    }
    let item_attr = Attr {
        multi: true,
        ..clone_attr(attr)
    };
    // The edited list goes through the schema again (types, unknown keys).
    match canonical_value(&item_attr, &Value::Array(list), attr.name)? {
        Some(v) => {
            c.insert(attr.name.to_owned(), v);
        }
        None => {
            c.remove(attr.name);
        }
    }
    Ok(())
}

fn clone_attr(a: &Attr) -> Attr {
    Attr {
        name: a.name,
        ty: a.ty,
        multi: a.multi,
        required: a.required,
        case_exact: a.case_exact,
        mutability: a.mutability,
        unique: a.unique,
        canonical: a.canonical,
        sub: a.sub,
        description: a.description,
    }
}

/// Evaluates a value filter against one value of a multi-valued attribute.
pub fn eval(f: &Expr, item: &Value, attr: &Attr) -> Result<bool> {
    Ok(match f {
        Expr::And(a, b) => eval(a, item, attr)? && eval(b, item, attr)?,
        Expr::Or(a, b) => eval(a, item, attr)? || eval(b, item, attr)?,
        Expr::Not(a) => !eval(a, item, attr)?,
        Expr::Present(p) => {
            let (v, _) = field(p, item, attr)?;
            !matches!(v, None | Some(Value::Null)) && v != Some(&Value::String(String::new()))
        }
        Expr::Compare(p, op, lit) => {
            let (v, case_exact) = field(p, item, attr)?;
            compare(v, *op, lit, case_exact)
        }
        Expr::ValuePath(..) => return Err(ScimError::filter("value filters cannot nest")),
    })
}

fn field<'a>(p: &AttrPath, item: &'a Value, attr: &Attr) -> Result<(Option<&'a Value>, bool)> {
    // Inside `attr[...]` a path names a sub-attribute, bare or as `attr.sub`.
    let name = if p.name.eq_ignore_ascii_case(attr.name) {
        p.sub.as_deref().unwrap_or("value")
    } else if p.sub.is_none() && p.urn.is_none() {
        p.name.as_str()
    } else {
        return Err(ScimError::filter(format!(
            "{p} is not a sub-attribute of {}",
            attr.name
        )));
    };
    let sub = schema::find(attr.sub, name)
        .ok_or_else(|| ScimError::filter(format!("{} has no sub-attribute {name}", attr.name)))?;
    let v = item.as_object().and_then(|o| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(sub.name))
            .map(|(_, v)| v)
    });
    Ok((v, sub.case_exact))
}

fn compare(v: Option<&Value>, op: Op, lit: &Literal, case_exact: bool) -> bool {
    match (v, lit) {
        (None | Some(Value::Null), Literal::Null) => op == Op::Eq,
        (None | Some(Value::Null), _) => op == Op::Ne,
        (Some(_), Literal::Null) => op == Op::Ne,
        (Some(Value::String(a)), Literal::Str(b)) => {
            let (a, b) = if case_exact {
                (a.clone(), b.clone())
            } else {
                (a.to_lowercase(), b.to_lowercase())
            };
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Co => a.contains(&b),
                Op::Sw => a.starts_with(&b),
                Op::Ew => a.ends_with(&b),
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
            }
        }
        (Some(Value::Bool(a)), Literal::Bool(b)) => match op {
            Op::Eq => a == b,
            Op::Ne => a != b,
            _ => false,
        },
        (Some(Value::Number(a)), Literal::Num(b)) => {
            let (a, b) = (
                a.as_f64().unwrap_or(f64::NAN),
                b.as_f64().unwrap_or(f64::NAN),
            );
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
                _ => false,
            }
        }
        _ => op == Op::Ne,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ops(v: Value) -> Vec<Operation> {
        parse(&json!({"schemas": [PATCH_OP], "Operations": v})).expect("parses")
    }

    #[test]
    fn entra_value_path_creates_a_work_email() {
        let mut doc = Doc::new();
        doc.insert("userName".into(), json!("a"));
        apply(
            Kind::User,
            "id",
            &mut doc,
            &ops(json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@x.test"}])),
        )
        .expect("applies");
        assert_eq!(
            doc["emails"],
            json!([{"type": "work", "value": "a@x.test"}])
        );
    }

    #[test]
    fn id_and_meta_are_read_only() {
        let mut doc = Doc::new();
        for path in ["id", "meta", "meta.version", "groups"] {
            let err = apply(
                Kind::User,
                "id",
                &mut doc,
                &ops(json!([{"op": "replace", "path": path, "value": "x"}])),
            )
            .expect_err(path);
            assert_eq!(
                err.scim_type,
                Some(crate::error::ScimType::Mutability),
                "{path}"
            );
        }
    }
}
