//! A [`UserRecord`] as a SCIM User (RFC 7643 §4.1, the enterprise extension
//! §4.3), back, and the PATCH that turns one record into another (RFC 7644 §3.5.2).

use serde_json::{Map, Value, json};
use usher_connector::{Email, RemoteId, RemoteUser, UserRecord};
use usher_scim_model::schema::{ENTERPRISE, PATCH_OP, USER};

/// The full User resource for `user` (POST and PUT).
pub(crate) fn resource(user: &UserRecord) -> Value {
    let mut doc = Map::new();
    let mut schemas = vec![json!(USER)];
    doc.insert("externalId".into(), json!(user.external_id));
    doc.insert("userName".into(), json!(user.user_name));
    if let Some(d) = &user.display_name {
        doc.insert("displayName".into(), json!(d));
    }
    let mut name = Map::new();
    if let Some(g) = &user.given_name {
        name.insert("givenName".into(), json!(g));
    }
    if let Some(f) = &user.family_name {
        name.insert("familyName".into(), json!(f));
    }
    if !name.is_empty() {
        doc.insert("name".into(), Value::Object(name));
    }
    if !user.emails.is_empty() {
        doc.insert("emails".into(), emails(&user.emails));
    }
    doc.insert("active".into(), json!(user.active));
    for (key, value) in &user.attributes {
        match extension_attr(key) {
            Some((urn, attr)) => {
                if !schemas.iter().any(|s| s == urn) {
                    schemas.push(json!(urn));
                }
                let ext = doc.entry(urn).or_insert_with(|| json!({}));
                if let Value::Object(ext) = ext {
                    ext.insert(attr.into(), json!(value));
                }
            }
            None => {
                doc.insert(key.clone(), json!(value));
            }
        }
    }
    doc.insert("schemas".into(), Value::Array(schemas));
    Value::Object(doc)
}

/// `urn:...:User:department` -> (`urn:...:User`, `department`): an attribute of
/// an extension schema (RFC 7644 §3.10 spells them so).
fn extension_attr(key: &str) -> Option<(&str, &str)> {
    if !key.starts_with("urn:") {
        return None;
    }
    key.rsplit_once(':')
}

fn emails(list: &[Email]) -> Value {
    Value::Array(
        list.iter()
            .map(|e| json!({"value": e.value, "type": "work", "primary": e.primary}))
            .collect(),
    )
}

/// The PATCH operations that turn `old` into `new`: one `replace` per changed
/// attribute, a `remove` for one cleared, none for the unchanged.
pub(crate) fn diff(old: &UserRecord, new: &UserRecord) -> Vec<Value> {
    let mut ops = Vec::new();
    let mut set = |path: &str, before: Option<Value>, after: Option<Value>| {
        if before == after {
            return;
        }
        ops.push(match after {
            Some(v) => json!({"op": "replace", "path": path, "value": v}),
            None => json!({"op": "remove", "path": path}),
        });
    };
    set(
        "externalId",
        Some(json!(old.external_id)),
        Some(json!(new.external_id)),
    );
    set(
        "userName",
        Some(json!(old.user_name)),
        Some(json!(new.user_name)),
    );
    let text = |v: &Option<String>| v.as_ref().map(|s| json!(s));
    set(
        "displayName",
        text(&old.display_name),
        text(&new.display_name),
    );
    set(
        "name.givenName",
        text(&old.given_name),
        text(&new.given_name),
    );
    set(
        "name.familyName",
        text(&old.family_name),
        text(&new.family_name),
    );
    let list = |l: &[Email]| (!l.is_empty()).then(|| emails(l));
    set("emails", list(&old.emails), list(&new.emails));
    set("active", Some(json!(old.active)), Some(json!(new.active)));
    let keys = old.attributes.keys().chain(new.attributes.keys());
    let mut seen = std::collections::BTreeSet::new();
    for key in keys {
        if seen.insert(key) {
            set(
                key,
                old.attributes.get(key).map(|v| json!(v)),
                new.attributes.get(key).map(|v| json!(v)),
            );
        }
    }
    ops
}

/// A PatchOp request with these operations.
pub(crate) fn patch(ops: Vec<Value>) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// A User resource read back, or `None` when it has no `id` or `userName`.
pub(crate) fn parse(doc: &Value) -> Option<RemoteUser> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let id = text(doc.get("id"))?;
    let user_name = text(doc.get("userName"))?;
    let mut user = UserRecord::new(text(doc.get("externalId")).unwrap_or_default(), user_name);
    user.display_name = text(doc.get("displayName"));
    user.given_name = text(doc.pointer("/name/givenName"));
    user.family_name = text(doc.pointer("/name/familyName"));
    user.active = doc.get("active").and_then(Value::as_bool).unwrap_or(true);
    if let Some(list) = doc.get("emails").and_then(Value::as_array) {
        user.emails = list
            .iter()
            .filter_map(|e| {
                let value = text(e.get("value"))?;
                let primary = e.get("primary").and_then(Value::as_bool).unwrap_or(false);
                Some(Email::new(value, primary))
            })
            .collect();
    }
    if let Some(Value::Object(ext)) = doc.get(ENTERPRISE) {
        for (k, v) in ext {
            if let Some(s) = v.as_str() {
                user.attributes
                    .insert(format!("{ENTERPRISE}:{k}"), s.into());
            }
        }
    }
    Some(RemoteUser::new(RemoteId::new(id), user))
}
