//! Bulk (RFC 7644 §3.7): operations run in order, each through the same code as its
//! single-resource endpoint; `bulkId:` references to resources created earlier in
//! the request are resolved; `failOnErrors` stops the run. A bulk request is not
//! one transaction (the RFC does not ask it to be), but each operation is.

// Parses network input: an index out of range must be an error, never a panic.
#![warn(clippy::indexing_slicing)]

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use serde_json::{Map, Value, json};

use crate::http::{read_json, respond};
use crate::reply::Reply;
use crate::state::{Caller, ScimData, ScimState, ready};
use usher_scim_model::error::{Result, ScimError};
use usher_scim_model::render::{Precondition, etag};
use usher_scim_model::schema::{BULK_REQUEST, BULK_RESPONSE, Kind};

struct Op {
    method: String,
    bulk_id: Option<String>,
    path: String,
    data: Option<Value>,
    version: Option<String>,
}

fn parse_op(i: usize, v: &Value) -> Result<Op> {
    let Value::Object(o) = v else {
        return Err(ScimError::syntax(format!(
            "Operations[{i}] must be an object"
        )));
    };
    let get = |name: &str| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let string = |name: &str| -> Result<Option<String>> {
        match get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ScimError::syntax(format!(
                "Operations[{i}].{name} must be a string"
            ))),
        }
    };
    Ok(Op {
        method: string("method")?
            .ok_or_else(|| ScimError::syntax(format!("Operations[{i}].method is missing")))?
            .to_ascii_uppercase(),
        bulk_id: string("bulkId")?,
        path: string("path")?
            .ok_or_else(|| ScimError::syntax(format!("Operations[{i}].path is missing")))?,
        data: get("data").cloned(),
        version: string("version")?,
    })
}

/// Replaces `bulkId:X` strings with the ids created for X.
fn resolve(v: &mut Value, ids: &HashMap<String, String>) -> Result<()> {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:") {
                let real = ids.get(id).ok_or_else(|| {
                    ScimError::value(format!(
                        "bulkId:{id} names no resource created before this operation"
                    ))
                })?;
                *s = real.clone();
            }
        }
        Value::Array(items) => {
            for i in items {
                resolve(i, ids)?;
            }
        }
        Value::Object(o) => {
            for (_, v) in o.iter_mut() {
                resolve(v, ids)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn target(path: &str) -> Result<(Kind, Option<String>)> {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let kind = match parts.next() {
        Some("Users") => Kind::User,
        Some("Groups") => Kind::Group,
        _ => {
            return Err(ScimError::path(format!(
                "{path:?}: bulk operations go to /Users or /Groups"
            )));
        }
    };
    Ok((
        kind,
        parts.next().filter(|s| !s.is_empty()).map(str::to_owned),
    ))
}

/// (status, resource id, version) of one operation.
async fn run(
    state: &ScimState,
    caller: &Caller,
    op: &Op,
    ids: &HashMap<String, String>,
) -> Result<(StatusCode, Option<String>, Option<i64>)> {
    let mut path = Value::String(op.path.clone());
    resolve(&mut path, ids)?;
    let (kind, id) = target(path.as_str().unwrap_or_default())?;
    let mut data = op.data.clone().unwrap_or(Value::Null);
    resolve(&mut data, ids)?;
    let pre = op.version.as_deref().map(Precondition::parse).transpose()?;
    let pre = pre.as_ref();
    let need_id = || {
        id.clone().ok_or_else(|| {
            ScimError::path(format!("{}: {} needs a resource id", op.path, op.method))
        })
    };
    match (op.method.as_str(), kind) {
        ("POST", _) if id.is_some() => Err(ScimError::path("POST goes to /Users or /Groups")),
        ("POST", Kind::User) => {
            let u = state.create_user(caller, &data).await?;
            Ok((StatusCode::CREATED, Some(u.id.to_string()), Some(u.version)))
        }
        ("POST", Kind::Group) => {
            let g = state.create_group(caller, &data).await?;
            Ok((StatusCode::CREATED, Some(g.id.to_string()), Some(g.version)))
        }
        ("PUT", Kind::User) => {
            let u = state.put_user(caller, &need_id()?, &data, pre).await?;
            Ok((StatusCode::OK, Some(u.id.to_string()), Some(u.version)))
        }
        ("PUT", Kind::Group) => {
            let g = state.put_group(caller, &need_id()?, &data, pre).await?;
            Ok((StatusCode::OK, Some(g.id.to_string()), Some(g.version)))
        }
        ("PATCH", Kind::User) => {
            let u = state.patch_user(caller, &need_id()?, &data, pre).await?;
            Ok((StatusCode::OK, Some(u.id.to_string()), Some(u.version)))
        }
        ("PATCH", Kind::Group) => {
            let g = state.patch_group(caller, &need_id()?, &data, pre).await?;
            Ok((StatusCode::OK, Some(g.id.to_string()), Some(g.version)))
        }
        ("DELETE", Kind::User) => {
            let id = need_id()?;
            state.delete_user(caller, &id, pre).await?;
            Ok((StatusCode::NO_CONTENT, Some(id), None))
        }
        ("DELETE", Kind::Group) => {
            let id = need_id()?;
            state.delete_group(caller, &id, pre).await?;
            Ok((StatusCode::NO_CONTENT, Some(id), None))
        }
        (m, _) => Err(ScimError::syntax(format!(
            "method {m:?} must be POST, PUT, PATCH or DELETE"
        ))),
    }
}

pub(crate) async fn bulk(data: ScimData, req: HttpRequest, payload: web::Payload) -> Reply {
    let state = ready(&data)?;
    let caller = state.authenticate(&req).await?;
    let body = read_json(&req, payload, state.settings.max_payload).await?;
    let Value::Object(o) = &body else {
        return Err(ScimError::syntax("the body must be a JSON object").into());
    };
    let get = |name: &str| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let schemas_ok = get("schemas").and_then(Value::as_array).is_some_and(|l| {
        l.iter().any(|s| {
            s.as_str()
                .is_some_and(|s| s.eq_ignore_ascii_case(BULK_REQUEST))
        })
    });
    if !schemas_ok {
        return Err(ScimError::syntax(format!("schemas must list {BULK_REQUEST}")).into());
    }
    let ops = get("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::syntax("Operations must be a list"))?;
    let max = state.settings.max_bulk_operations;
    if ops.len() > max {
        return Err(ScimError::too_large(format!(
            "the bulk request has {} operations; maxOperations is {max}",
            ops.len()
        ))
        .into());
    }
    let fail_on_errors = match get("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| *n > 0)
                .ok_or_else(|| ScimError::value("failOnErrors must be a positive integer"))?,
        ),
    };
    let parsed: Vec<Op> = ops
        .iter()
        .enumerate()
        .map(|(i, v)| parse_op(i, v))
        .collect::<Result<_>>()?;
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut results = Vec::with_capacity(parsed.len());
    let mut errors = 0u64;
    for op in &parsed {
        let mut entry = Map::new();
        entry.insert("method".into(), json!(op.method));
        if let Some(b) = &op.bulk_id {
            entry.insert("bulkId".into(), json!(b));
        }
        match run(&state, &caller, op, &ids).await {
            Ok((status, id, version)) => {
                if let (Some(id), Ok((kind, _))) = (&id, target(&op.path)) {
                    if op.method == "POST"
                        && let Some(b) = &op.bulk_id
                    {
                        ids.insert(b.clone(), id.clone());
                    }
                    if op.method != "DELETE" {
                        entry.insert(
                            "location".into(),
                            json!(format!(
                                "{}/{}/{id}",
                                state.settings.base_url,
                                kind.endpoint()
                            )),
                        );
                    }
                }
                if let Some(v) = version {
                    entry.insert("version".into(), json!(etag(v)));
                }
                entry.insert("status".into(), json!(status.as_u16().to_string()));
            }
            Err(e) => {
                errors += 1;
                entry.insert("status".into(), json!(e.status.to_string()));
                entry.insert("response".into(), e.body());
            }
        }
        results.push(Value::Object(entry));
        if fail_on_errors.is_some_and(|n| errors >= n) {
            break;
        }
    }
    Ok(respond(
        StatusCode::OK,
        &json!({"schemas": [BULK_RESPONSE], "Operations": results}),
        None,
        None,
    ))
}
