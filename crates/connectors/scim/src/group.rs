//! A [`GroupRecord`] as a SCIM Group (RFC 7643 §4.2), back, and member changes.

use serde_json::{Map, Value, json};
use usher_connector::{GroupRecord, RemoteGroup, RemoteId};
use usher_scim_model::schema::GROUP;

/// The Group resource for `group` with these members (POST).
pub(crate) fn resource(group: &GroupRecord, members: &[RemoteId]) -> Value {
    let mut doc = Map::new();
    doc.insert("schemas".into(), json!([GROUP]));
    doc.insert("externalId".into(), json!(group.external_id));
    doc.insert("displayName".into(), json!(group.display_name));
    for (key, value) in &group.attributes {
        doc.insert(key.clone(), json!(value));
    }
    doc.insert("members".into(), member_values(members));
    Value::Object(doc)
}

/// `[{"value": id}, ...]`.
pub(crate) fn member_values(members: &[RemoteId]) -> Value {
    Value::Array(
        members
            .iter()
            .map(|m| json!({"value": m.as_str()}))
            .collect(),
    )
}

/// One `remove` per member (RFC 7644 §3.5.2.2, a value filter on `members`);
/// the id is quoted as a JSON string, so it cannot widen the filter.
pub(crate) fn remove_ops(members: &[RemoteId]) -> Vec<Value> {
    members
        .iter()
        .map(|m| {
            let path = format!("members[value eq {}]", Value::from(m.as_str()));
            json!({"op": "remove", "path": path})
        })
        .collect()
}

/// A Group read back, or `None` without `id` or `displayName`.
pub(crate) fn parse(doc: &Value) -> Option<RemoteGroup> {
    let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
    let group = GroupRecord::new(text("externalId").unwrap_or_default(), text("displayName")?);
    Some(RemoteGroup::new(RemoteId::new(text("id")?), group))
}

/// The member ids of a Group resource read back.
pub(crate) fn members(doc: &Value) -> Vec<String> {
    doc.get("members")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|m| m.get("value").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
