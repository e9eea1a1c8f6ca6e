//! PATCH (RFC 7644 §3.5.2), as far as usher's connector and Entra ID-shaped
//! requests need it: `add`, `replace` and `remove` (any case), a path of one
//! attribute, a sub-attribute (`name.givenName`), an extension attribute by URN,
//! or `members[value eq "x"]`; a pathless `add`/`replace` of an object; string
//! booleans for `active` (`"False"`, as Entra ID sends).

use serde_json::{Map, Value};

use super::filter;
use super::store::Failure;

/// PatchOp requests larger than this are refused (usher's own server takes 1000).
const MAX_OPERATIONS: usize = 1000;

/// The core schemas: a path prefixed with one of them names a top-level attribute.
const CORE: [&str; 2] = [
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:core:2.0:Group",
];

/// Applies the PatchOp `body` to `doc`. On an error `doc` may be half changed:
/// callers patch a copy.
pub(super) fn apply(doc: &mut Map<String, Value>, body: &Value) -> Result<(), Failure> {
    let ops = body
        .get("Operations")
        .and_then(Value::as_array)
        .filter(|ops| !ops.is_empty())
        .ok_or_else(|| Failure::bad("invalidSyntax", "Operations must be a non-empty array"))?;
    if ops.len() > MAX_OPERATIONS {
        return Err(Failure::bad(
            "tooMany",
            format!("at most {MAX_OPERATIONS} operations"),
        ));
    }
    for op in ops {
        let kind = op
            .get("op")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| Failure::bad("invalidSyntax", "an operation without op"))?;
        let path = op.get("path").and_then(Value::as_str);
        let value = op.get("value");
        match (kind.as_str(), path, value) {
            ("remove", Some(path), _) => remove(doc, path)?,
            ("remove", None, _) => {
                return Err(Failure::bad("noTarget", "remove needs a path"));
            }
            ("add" | "replace", Some(path), Some(value)) => {
                set(doc, path, value.clone(), kind == "add")?;
            }
            ("add" | "replace", None, Some(Value::Object(values))) => {
                // The resource's own keys may come back in a pathless value.
                let settable = values.iter().filter(|(k, _)| {
                    !["id", "meta", "schemas"]
                        .iter()
                        .any(|r| k.eq_ignore_ascii_case(r))
                });
                for (key, value) in settable {
                    set(doc, key, value.clone(), kind == "add")?;
                }
            }
            ("add" | "replace", _, _) => {
                return Err(Failure::bad(
                    "invalidValue",
                    format!("{kind} needs a value"),
                ));
            }
            (other, _, _) => {
                return Err(Failure::bad(
                    "invalidSyntax",
                    format!("unknown op {other:?}"),
                ));
            }
        }
    }
    Ok(())
}

/// Where a path points: an attribute, maybe inside an extension or a complex
/// attribute.
fn split(path: &str) -> (Option<&str>, &str, Option<&str>) {
    let (urn, rest) = match path
        .strip_prefix("urn:")
        .and_then(|_| path.rsplit_once(':'))
    {
        Some((urn, attr)) if CORE.iter().any(|c| c.eq_ignore_ascii_case(urn)) => (None, attr),
        Some((urn, attr)) => (Some(urn), attr),
        None => (None, path),
    };
    match rest.split_once('.') {
        Some((attr, sub)) => (urn, attr, Some(sub)),
        None => (urn, rest, None),
    }
}

/// The key of `map` that `name` names (SCIM names are case-insensitive), or
/// `name` itself for a new one.
fn key_in(map: &Map<String, Value>, name: &str) -> String {
    map.keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

/// The object an attribute lives in: the resource, or an extension's object.
fn container<'a>(
    doc: &'a mut Map<String, Value>,
    urn: Option<&str>,
) -> Result<&'a mut Map<String, Value>, Failure> {
    let Some(urn) = urn else { return Ok(doc) };
    let key = key_in(doc, urn);
    let slot = doc.entry(key).or_insert_with(|| Value::Object(Map::new()));
    slot.as_object_mut()
        .ok_or_else(|| Failure::bad("invalidPath", format!("{urn} is not an object")))
}

/// Entra ID sends `"False"` for `active`.
fn coerce(attr: &str, value: Value) -> Value {
    match (&value, attr.eq_ignore_ascii_case("active")) {
        (Value::String(s), true) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
        (Value::String(s), true) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
        _ => value,
    }
}

fn set(doc: &mut Map<String, Value>, path: &str, value: Value, add: bool) -> Result<(), Failure> {
    let (urn, attr, sub) = split(path);
    if attr.eq_ignore_ascii_case("id") || attr.eq_ignore_ascii_case("meta") {
        return Err(Failure::bad("mutability", format!("{attr} is read-only")));
    }
    let into = container(doc, urn)?;
    let key = key_in(into, attr);
    match sub {
        Some(sub) => {
            let slot = into.entry(key).or_insert_with(|| Value::Object(Map::new()));
            let object = slot.as_object_mut().ok_or_else(|| {
                Failure::bad("invalidPath", format!("{attr} is not a complex attribute"))
            })?;
            let sub_key = key_in(object, sub);
            object.insert(sub_key, value);
        }
        None => {
            // RFC 7644 §3.5.2.1: add to a multi-valued attribute appends (members).
            if let (true, Some(Value::Array(have)), Value::Array(new)) =
                (add, into.get_mut(&key), &value)
            {
                for item in new {
                    if !have.contains(item) {
                        have.push(item.clone());
                    }
                }
                return Ok(());
            }
            // A pathless replace of `name` merges its sub-attributes.
            if let (Some(Value::Object(have)), Value::Object(new)) = (into.get_mut(&key), &value) {
                for (k, v) in new {
                    let k = key_in(have, k);
                    have.insert(k, v.clone());
                }
                return Ok(());
            }
            let value = coerce(attr, value);
            into.insert(key, value);
        }
    }
    Ok(())
}

fn remove(doc: &mut Map<String, Value>, path: &str) -> Result<(), Failure> {
    if let Some(member) = filter::member_path(path) {
        let member = member?;
        if member.attr != "value" {
            return Err(Failure::bad(
                "invalidFilter",
                "members[value eq \"...\"] only",
            ));
        }
        let key = key_in(doc, "members");
        if let Some(Value::Array(members)) = doc.get_mut(&key) {
            members.retain(|m| m.get("value").and_then(Value::as_str) != Some(&member.value));
        }
        return Ok(());
    }
    let (urn, attr, sub) = split(path);
    let from = container(doc, urn)?;
    let key = key_in(from, attr);
    match sub {
        Some(sub) => {
            if let Some(Value::Object(object)) = from.get_mut(&key) {
                let sub_key = key_in(object, sub);
                object.remove(&sub_key);
            }
        }
        None => {
            from.remove(&key);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patched(doc: Value, ops: Value) -> Result<Value, Failure> {
        let Value::Object(mut doc) = doc else {
            panic!("an object")
        };
        apply(&mut doc, &json!({ "Operations": ops }))?;
        Ok(Value::Object(doc))
    }

    #[test]
    fn an_entra_deactivation_sets_active_false() {
        let doc = patched(
            json!({"userName": "a", "active": true}),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .expect("patched");
        assert_eq!(doc["active"], false);
    }

    #[test]
    fn sub_attributes_extensions_and_pathless_values_land_where_they_name() {
        let doc = patched(
            json!({"userName": "a", "name": {"givenName": "A", "familyName": "B"}}),
            json!([
                {"op": "replace", "path": "name.givenName", "value": "Ann"},
                {"op": "replace", "value": {"displayName": "Ann B", "name": {"familyName": "C"}}},
                {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R&D"},
                {"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:userName", "value": "ann"},
                {"op": "remove", "path": "displayName"},
            ]),
        )
        .expect("patched");
        assert_eq!(doc["name"], json!({"givenName": "Ann", "familyName": "C"}));
        assert_eq!(doc["userName"], "ann");
        assert_eq!(
            doc["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
            "R&D"
        );
        assert!(doc.get("displayName").is_none());
    }

    #[test]
    fn members_are_added_once_and_removed_by_value() {
        let doc = patched(
            json!({"displayName": "g", "members": [{"value": "1"}]}),
            json!([
                {"op": "add", "path": "members", "value": [{"value": "1"}, {"value": "2"}, {"value": "3"}]},
                {"op": "remove", "path": "members[value eq \"2\"]"},
                {"op": "remove", "path": "members[value eq \"nobody\"]"},
            ]),
        )
        .expect("patched");
        assert_eq!(doc["members"], json!([{"value": "1"}, {"value": "3"}]));
    }

    #[test]
    fn the_id_cannot_be_patched() {
        let e = patched(
            json!({"id": "1"}),
            json!([{"op": "replace", "path": "id", "value": "2"}]),
        )
        .expect_err("refused");
        assert_eq!(e.status, 400);
    }
}
