//! Resources on the wire: `schemas`, `id`, `meta` (RFC 7643 §3.1) around the
//! canonical document, ETags, and the `attributes` / `excludedAttributes`
//! projection (RFC 7644 §3.4.2.5, §3.9).

use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::doc::Doc;
use crate::error::{Result, ScimError};
use crate::schema::Kind;

/// The weak ETag of a version (RFC 7644 §3.14).
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// What an `If-Match` / `If-None-Match` header asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// `*`.
    Any,
    /// These versions.
    Versions(Vec<i64>),
}

impl Precondition {
    /// Parses an entity-tag list (weak or strong tags compare equal here).
    pub fn parse(header: &str) -> Result<Self> {
        let header = header.trim();
        if header == "*" {
            return Ok(Self::Any);
        }
        let mut versions = Vec::new();
        for tag in header.split(',') {
            let tag = tag.trim();
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            let inner = tag
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .ok_or_else(|| ScimError::value(format!("{tag:?} is not an entity tag")))?;
            // A tag usher did not issue can match nothing: remember none for it.
            if let Ok(v) = inner.parse::<i64>() {
                versions.push(v);
            } else {
                versions.push(-1);
            }
        }
        Ok(Self::Versions(versions))
    }

    /// True when `version` satisfies the list.
    pub fn matches(&self, version: i64) -> bool {
        match self {
            Self::Any => true,
            Self::Versions(v) => v.contains(&version),
        }
    }
}

fn time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// A resource body: schemas first, then id, the document, and meta.
pub fn resource(
    kind: Kind,
    id: &str,
    doc: Doc,
    created: OffsetDateTime,
    modified: OffsetDateTime,
    version: i64,
    base: &str,
) -> Value {
    let mut schemas = vec![Value::String(kind.core().to_owned())];
    for (urn, _) in kind.extensions() {
        if doc.contains_key(*urn) {
            schemas.push(Value::String((*urn).to_owned()));
        }
    }
    let mut out = Map::new();
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), json!(id));
    out.extend(doc);
    out.insert(
        "meta".into(),
        json!({
            "resourceType": kind.name(),
            "created": time(created),
            "lastModified": time(modified),
            "version": etag(version),
            "location": format!("{base}/{}/{id}", kind.endpoint()),
        }),
    );
    Value::Object(out)
}

/// One name of an `attributes` list: where it points.
struct Selector {
    /// `None` for the core schema, else the extension URN.
    urn: Option<String>,
    /// The attribute (`None`: the whole extension).
    name: Option<String>,
    sub: Option<String>,
}

fn selector(kind: Kind, raw: &str) -> Option<Selector> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if let Some((urn, _)) = kind.extension(raw) {
        return Some(Selector {
            urn: Some(urn.to_owned()),
            name: None,
            sub: None,
        });
    }
    let path = crate::filter::attr_path(raw).ok()?;
    let urn = match path.urn {
        Some(u) if u.eq_ignore_ascii_case(kind.core()) => None,
        Some(u) => Some(kind.extension(&u)?.0.to_owned()),
        None => None,
    };
    Some(Selector {
        urn,
        name: Some(path.name),
        sub: path.sub,
    })
}

fn key_of(o: &Map<String, Value>, name: &str) -> Option<String> {
    o.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// Copies what `sel` points at from `from` into `to`.
fn copy(sel: &Selector, from: &Map<String, Value>, to: &mut Map<String, Value>) {
    let (src, dst) = match &sel.urn {
        Some(urn) => {
            let Some(Value::Object(src)) = from.get(urn) else {
                return;
            };
            let Some(name) = &sel.name else {
                to.insert(urn.clone(), Value::Object(src.clone()));
                return;
            };
            let dst = to
                .entry(urn.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(dst) = dst else {
                return;
            };
            copy_attr(name, sel.sub.as_deref(), src, dst);
            return;
        }
        None => (from, to),
    };
    if let Some(name) = &sel.name {
        copy_attr(name, sel.sub.as_deref(), src, dst);
    }
}

fn copy_attr(
    name: &str,
    sub: Option<&str>,
    src: &Map<String, Value>,
    dst: &mut Map<String, Value>,
) {
    let Some(key) = key_of(src, name) else {
        return;
    };
    let value = &src[&key];
    let Some(sub) = sub else {
        dst.insert(key, value.clone());
        return;
    };
    let pick = |o: &Map<String, Value>| -> Map<String, Value> {
        key_of(o, sub)
            .map(|k| {
                let mut m = Map::new();
                m.insert(k.clone(), o[&k].clone());
                m
            })
            .unwrap_or_default()
    };
    match value {
        Value::Object(o) => {
            let picked = pick(o);
            if picked.is_empty() {
                return;
            }
            match dst.entry(key).or_insert_with(|| Value::Object(Map::new())) {
                Value::Object(d) => d.extend(picked),
                other => *other = Value::Object(picked),
            }
        }
        Value::Array(items) => {
            let picked: Vec<Value> = items
                .iter()
                .filter_map(Value::as_object)
                .map(pick)
                .filter(|m| !m.is_empty())
                .map(Value::Object)
                .collect();
            if !picked.is_empty() {
                dst.insert(key, Value::Array(picked));
            }
        }
        _ => {}
    }
}

fn remove(sel: &Selector, o: &mut Map<String, Value>) {
    let target = match &sel.urn {
        Some(urn) => {
            let Some(name) = &sel.name else {
                o.remove(urn);
                return;
            };
            let Some(Value::Object(ext)) = o.get_mut(urn) else {
                return;
            };
            let _ = name;
            ext
        }
        None => o,
    };
    let Some(name) = &sel.name else {
        return;
    };
    // `id` and `schemas` are always returned (RFC 7643 §7, returned "always").
    if sel.urn.is_none()
        && (name.eq_ignore_ascii_case("id") || name.eq_ignore_ascii_case("schemas"))
    {
        return;
    }
    let Some(key) = key_of(target, name) else {
        return;
    };
    match &sel.sub {
        None => {
            target.remove(&key);
        }
        Some(sub) => match target.get_mut(&key) {
            Some(Value::Object(inner)) => {
                if let Some(k) = key_of(inner, sub) {
                    inner.remove(&k);
                }
            }
            Some(Value::Array(items)) => {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    if let Some(k) = key_of(item, sub) {
                        item.remove(&k);
                    }
                }
            }
            _ => {}
        },
    }
}

/// Which attributes to return.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub attributes: Vec<String>,
    pub excluded: Vec<String>,
}

impl Projection {
    /// From comma-separated lists.
    pub fn from_lists(attributes: Option<&str>, excluded: Option<&str>) -> Self {
        let split = |s: Option<&str>| -> Vec<String> {
            s.map(|s| {
                s.split(',')
                    .map(|p| p.trim().to_owned())
                    .filter(|p| !p.is_empty())
                    .collect()
            })
            .unwrap_or_default()
        };
        Self {
            attributes: split(attributes),
            excluded: split(excluded),
        }
    }

    /// True when `members` (or `groups`) need not be read.
    pub fn skips(&self, kind: Kind, name: &str) -> bool {
        let named = |list: &[String]| {
            list.iter().any(|a| {
                selector(kind, a).is_some_and(|s| {
                    s.urn.is_none()
                        && s.name
                            .as_deref()
                            .is_some_and(|n| n.eq_ignore_ascii_case(name))
                })
            })
        };
        if !self.attributes.is_empty() {
            return !named(&self.attributes);
        }
        self.excluded.iter().any(|a| {
            selector(kind, a).is_some_and(|s| {
                s.urn.is_none()
                    && s.sub.is_none()
                    && s.name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
        })
    }

    /// Applies the projection to a resource body.
    pub fn apply(&self, kind: Kind, resource: Value) -> Value {
        let Value::Object(full) = resource else {
            return resource;
        };
        if !self.attributes.is_empty() {
            let mut out = Map::new();
            for always in ["schemas", "id"] {
                if let Some(v) = full.get(always) {
                    out.insert(always.to_owned(), v.clone());
                }
            }
            for a in &self.attributes {
                if let Some(sel) = selector(kind, a) {
                    copy(&sel, &full, &mut out);
                }
            }
            return Value::Object(out);
        }
        let mut out = full;
        for a in &self.excluded {
            if let Some(sel) = selector(kind, a) {
                remove(&sel, &mut out);
            }
        }
        Value::Object(out)
    }
}
