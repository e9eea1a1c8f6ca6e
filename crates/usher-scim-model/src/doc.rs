//! SCIM documents: requests checked against the schema into a canonical form
//! (canonical attribute names, typed values, read-only attributes dropped), and
//! the conversions between that form and the core's users and groups.
//!
//! The canonical document of a resource is its wire representation without
//! `schemas`, `id` and `meta`: the PATCH engine edits it in memory, and the result
//! is checked and converted like a PUT body, so both reach storage the same way.

use serde_json::{Map, Value, json};
use usher_core::{Email, Group, User, UserId};
use uuid::Uuid;

use crate::error::{Result, ScimError};
use crate::schema::{self, Attr, ENTERPRISE, Kind, Mutability, Type, USHER};

/// A JSON object.
pub type Doc = Map<String, Value>;

/// Keys of `User::attributes` that SCIM owns: replaced by every SCIM write, while
/// any other key (set by something else) is kept.
const MANAGED_KEYS: &[&str] = &[
    "name",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "phoneNumbers",
    "addresses",
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
    "emailVerified",
    ACTIVE_UNSET,
];

/// Set when the client left `active` unassigned: the user may sign in (as when
/// active), and `active` is not returned, so the client reads what it wrote.
const ACTIVE_UNSET: &str = "scimActiveUnassigned";

/// Core User attributes kept in `attributes` under their own name.
const SCALAR_KEYS: &[&str] = &[
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "phoneNumbers",
    "addresses",
];

/// `name` sub-attributes kept in `attributes.name` (given and family names have
/// columns).
const NAME_EXTRA: &[&str] = &[
    "formatted",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
];

fn type_error(ctx: &str, what: &str) -> ScimError {
    ScimError::value(format!("{ctx} must be {what}"))
}

/// Checks one value against its definition; `None` when it amounts to "unassigned"
/// (null, an empty array or object) or is read-only (ignored, RFC 7644 §3.5.1).
pub fn canonical_value(attr: &Attr, v: &Value, ctx: &str) -> Result<Option<Value>> {
    if attr.mutability == Mutability::ReadOnly || v.is_null() {
        return Ok(None);
    }
    if attr.multi {
        let items: Vec<&Value> = match v {
            Value::Array(items) => items.iter().collect(),
            // Compatibility: a single value where an array belongs.
            other => vec![other],
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            if let Some(c) = canonical_single(attr, item, &format!("{ctx}[{i}]"))? {
                out.push(c);
            }
        }
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    canonical_single(attr, v, ctx)
}

fn canonical_single(attr: &Attr, v: &Value, ctx: &str) -> Result<Option<Value>> {
    match (attr.ty, v) {
        (_, Value::Null) => Ok(None),
        (Type::String | Type::Reference(_), Value::String(s)) => Ok(Some(Value::String(s.clone()))),
        (Type::String | Type::Reference(_), _) => Err(type_error(ctx, "a string")),
        (Type::Boolean, Value::Bool(b)) => Ok(Some(Value::Bool(*b))),
        // Compatibility (Entra ID): "True" / "False" as strings.
        (Type::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            Ok(Some(Value::Bool(true)))
        }
        (Type::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Ok(Some(Value::Bool(false)))
        }
        (Type::Boolean, _) => Err(type_error(ctx, "true or false")),
        (Type::Complex, Value::Object(o)) => {
            let c = canonical_object(attr.sub, o, ctx)?;
            Ok((!c.is_empty()).then_some(Value::Object(c)))
        }
        // Compatibility (Entra ID sends the manager as its bare id): a string
        // where a complex attribute with a `value` sub-attribute belongs.
        (Type::Complex, Value::String(s)) if schema::find(attr.sub, "value").is_some() => {
            Ok(Some(serde_json::json!({ "value": s })))
        }
        (Type::Complex, _) => Err(type_error(ctx, "an object")),
    }
}

/// Checks an object's keys against `attrs`.
pub fn canonical_object(attrs: &[Attr], o: &Doc, ctx: &str) -> Result<Doc> {
    let mut out = Doc::new();
    for (k, v) in o {
        let path = if ctx.is_empty() {
            k.clone()
        } else {
            format!("{ctx}.{k}")
        };
        let Some(attr) = schema::find(attrs, k) else {
            // Compatibility: `display` on members and multi-valued items is
            // read-only in usher's schema and ignored, as clients send it freely;
            // some clients repeat `schemas` inside an extension object.
            if k.eq_ignore_ascii_case("display")
                || (ctx.starts_with("urn:") && k.eq_ignore_ascii_case("schemas"))
            {
                continue;
            }
            return Err(ScimError::syntax(format!(
                "{path} is not an attribute usher knows; remove it"
            )));
        };
        if out.contains_key(attr.name) {
            return Err(ScimError::syntax(format!("{path} appears twice")));
        }
        if let Some(c) = canonical_value(attr, v, &path)? {
            out.insert(attr.name.to_owned(), c);
        }
    }
    Ok(out)
}

/// Checks a whole resource body (POST, PUT, or a PATCHed document): `schemas`,
/// the core attributes, `externalId` and the extensions.
pub fn canonical_resource(kind: Kind, body: &Value, need_schemas: bool) -> Result<Doc> {
    let Value::Object(o) = body else {
        return Err(ScimError::syntax("the body must be a JSON object"));
    };
    match o.get("schemas") {
        Some(Value::Array(list)) => {
            let mut core = false;
            for s in list {
                let Some(s) = s.as_str() else {
                    return Err(ScimError::syntax("schemas must be a list of URNs"));
                };
                if s.eq_ignore_ascii_case(kind.core()) {
                    core = true;
                } else if kind.extension(s).is_none() && o.keys().any(|k| k.eq_ignore_ascii_case(s))
                {
                    // Compatibility (Entra ID lists a Microsoft group schema it sends
                    // no attributes of): an unknown URN is refused only when used.
                    return Err(ScimError::syntax(format!(
                        "{s} is not a schema of a {}; remove its attributes",
                        kind.name()
                    )));
                }
            }
            if !core {
                return Err(ScimError::syntax(format!(
                    "schemas must list {}",
                    kind.core()
                )));
            }
        }
        None if !need_schemas => {}
        _ => {
            return Err(ScimError::syntax(format!(
                "schemas must be a list that includes {}",
                kind.core()
            )));
        }
    }
    let mut out = Doc::new();
    for (k, v) in o {
        let lower = k.to_ascii_lowercase();
        match lower.as_str() {
            // Read-only: ignored in a body (RFC 7644 §3.5.1); PATCH refuses them.
            "schemas" | "id" | "meta" => continue,
            "externalid" => {
                match v {
                    Value::String(s) => {
                        out.insert("externalId".into(), Value::String(s.clone()));
                    }
                    Value::Null => {}
                    _ => return Err(type_error("externalId", "a string")),
                }
                continue;
            }
            // Write-only and never returned (RFC 7643 §4.1.1): usher keeps no
            // password for provisioned users, who sign in through their identity
            // provider, so one sent (Okta's password sync) is dropped unread.
            "password" if kind == Kind::User => continue,
            _ => {}
        }
        if let Some((urn, attrs)) = kind.extension(k) {
            let Value::Object(ext) = v else {
                if v.is_null() {
                    continue;
                }
                return Err(type_error(urn, "an object"));
            };
            let c = canonical_object(attrs, ext, urn)?;
            if !c.is_empty() {
                out.insert(urn.to_owned(), Value::Object(c));
            }
            continue;
        }
        let Some(attr) = schema::find(kind.attrs(), k) else {
            // Compatibility (Entra ID sends `"roles": []`): an unknown attribute
            // that is unassigned (null or empty, RFC 7643 §2.5) changes nothing.
            if v.is_null() || v.as_array().is_some_and(Vec::is_empty) {
                continue;
            }
            return Err(ScimError::syntax(format!(
                "{k} is not an attribute of a {}; remove it",
                kind.name()
            )));
        };
        if let Some(c) = canonical_value(attr, v, attr.name)? {
            out.insert(attr.name.to_owned(), c);
        }
    }
    Ok(out)
}

fn str_of(doc: &Doc, key: &str) -> Option<String> {
    doc.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A user's fields as a SCIM document says them.
#[derive(Debug, Clone, PartialEq)]
pub struct UserFields {
    pub username: String,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub active: bool,
    pub external_id: Option<String>,
    pub emails: Vec<Email>,
    /// The SCIM-managed attributes ([`MANAGED_KEYS`]).
    pub attributes: Map<String, Value>,
}

impl UserFields {
    /// `attributes` merged over a stored user's, keeping keys SCIM does not own.
    pub fn merged_attributes(&self, old: &Map<String, Value>) -> Map<String, Value> {
        let mut out: Map<String, Value> = old
            .iter()
            .filter(|(k, _)| !MANAGED_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        out.extend(self.attributes.clone());
        out
    }
}

/// Reads a canonical User document.
pub fn user_fields(doc: &Doc) -> Result<UserFields> {
    let username = str_of(doc, "userName")
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| ScimError::value("userName is required"))?;
    let mut attributes = Map::new();
    let name = doc.get("name").and_then(Value::as_object);
    if let Some(name) = name {
        let extra: Map<String, Value> = name
            .iter()
            .filter(|(k, _)| NAME_EXTRA.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !extra.is_empty() {
            attributes.insert("name".into(), Value::Object(extra));
        }
    }
    for key in SCALAR_KEYS {
        if let Some(v) = doc.get(*key) {
            attributes.insert((*key).to_owned(), v.clone());
        }
    }
    if let Some(ext) = doc.get(ENTERPRISE).and_then(Value::as_object) {
        for (k, v) in ext {
            attributes.insert(k.clone(), v.clone());
        }
    }
    let mut verified = true;
    if let Some(ext) = doc.get(USHER).and_then(Value::as_object)
        && let Some(Value::Bool(b)) = ext.get("emailVerified")
    {
        verified = *b;
        attributes.insert("emailVerified".into(), Value::Bool(*b));
    }
    let active = doc.get("active").and_then(Value::as_bool);
    if active.is_none() {
        attributes.insert(ACTIVE_UNSET.into(), Value::Bool(true));
    }
    let mut emails = Vec::new();
    if let Some(Value::Array(items)) = doc.get("emails") {
        for (i, item) in items.iter().enumerate() {
            let Some(address) = item.get("value").and_then(Value::as_str) else {
                return Err(ScimError::value(format!("emails[{i}].value is required")));
            };
            let primary = item
                .get("primary")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let kind = item.get("type").and_then(Value::as_str).map(str::to_owned);
            emails.push(Email::new(address, verified, primary).with_kind(kind));
        }
    }
    if emails.iter().filter(|e| e.primary).count() > 1 {
        return Err(ScimError::value(
            "emails: at most one address may be primary (RFC 7643 §2.4)",
        ));
    }
    Ok(UserFields {
        username,
        display_name: str_of(doc, "displayName"),
        given_name: name
            .and_then(|n| n.get("givenName"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        family_name: name
            .and_then(|n| n.get("familyName"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        active: active.unwrap_or(true),
        external_id: str_of(doc, "externalId"),
        emails,
        attributes,
    })
}

/// A user's canonical document.
pub fn user_doc(u: &User) -> Doc {
    let mut doc = Doc::new();
    doc.insert("userName".into(), json!(u.username));
    let mut name = Map::new();
    if let Some(Value::Object(extra)) = u.attributes.get("name") {
        for (k, v) in extra {
            if NAME_EXTRA.contains(&k.as_str()) {
                name.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(v) = &u.given_name {
        name.insert("givenName".into(), json!(v));
    }
    if let Some(v) = &u.family_name {
        name.insert("familyName".into(), json!(v));
    }
    if !name.is_empty() {
        doc.insert("name".into(), Value::Object(name));
    }
    if let Some(v) = &u.display_name {
        doc.insert("displayName".into(), json!(v));
    }
    for key in SCALAR_KEYS {
        if let Some(v) = u.attributes.get(*key) {
            doc.insert((*key).to_owned(), v.clone());
        }
    }
    if !u.attributes.contains_key(ACTIVE_UNSET) || !u.active {
        doc.insert("active".into(), json!(u.active));
    }
    if !u.emails.is_empty() {
        let emails: Vec<Value> = u
            .emails
            .iter()
            .map(|e| {
                let mut m = Map::new();
                m.insert("value".into(), json!(e.address));
                if let Some(k) = &e.kind {
                    m.insert("type".into(), json!(k));
                }
                // Always given, so a client that wrote `false` reads `false`.
                m.insert("primary".into(), json!(e.primary));
                Value::Object(m)
            })
            .collect();
        doc.insert("emails".into(), Value::Array(emails));
    }
    if let Some(v) = &u.external_id {
        doc.insert("externalId".into(), json!(v));
    }
    let mut ent = Map::new();
    for a in schema::ENTERPRISE_ATTRS {
        if let Some(v) = u.attributes.get(a.name) {
            ent.insert(a.name.to_owned(), v.clone());
        }
    }
    if !ent.is_empty() {
        doc.insert(ENTERPRISE.into(), Value::Object(ent));
    }
    if let Some(v) = u.attributes.get("emailVerified") {
        doc.insert(USHER.into(), json!({ "emailVerified": v }));
    }
    doc
}

/// A group as a SCIM document says it.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupFields {
    pub name: String,
    pub external_id: Option<String>,
    pub members: Vec<UserId>,
}

/// Parses a member id; `bulkId:` references are resolved before this.
pub fn member_id(v: &str, ctx: &str) -> Result<UserId> {
    Uuid::parse_str(v)
        .map(UserId)
        .map_err(|_| ScimError::value(format!("{ctx}: {v:?} is not the id of a usher user")))
}

/// Reads a canonical Group document.
pub fn group_fields(doc: &Doc) -> Result<GroupFields> {
    let name = str_of(doc, "displayName")
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ScimError::value("displayName is required"))?;
    let mut members = Vec::new();
    if let Some(Value::Array(items)) = doc.get("members") {
        for (i, item) in items.iter().enumerate() {
            let ctx = format!("members[{i}]");
            if item
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| !t.eq_ignore_ascii_case("User"))
            {
                return Err(ScimError::value(format!(
                    "{ctx}: usher groups have users as members, not groups"
                )));
            }
            let value = item
                .get("value")
                .and_then(Value::as_str)
                .ok_or_else(|| ScimError::value(format!("{ctx}.value is required")))?;
            members.push(member_id(value, &ctx)?);
        }
    }
    Ok(GroupFields {
        name,
        external_id: str_of(doc, "externalId"),
        members,
    })
}

/// A group's canonical document.
pub fn group_doc(g: &Group, members: &[UserId], base: &str) -> Doc {
    let mut doc = Doc::new();
    doc.insert("displayName".into(), json!(g.name));
    if !members.is_empty() {
        let list: Vec<Value> = members
            .iter()
            .map(|m| {
                json!({
                    "value": m.to_string(),
                    "$ref": format!("{base}/Users/{m}"),
                    "type": "User",
                })
            })
            .collect();
        doc.insert("members".into(), Value::Array(list));
    }
    if let Some(v) = &g.external_id {
        doc.insert("externalId".into(), json!(v));
    }
    doc
}
