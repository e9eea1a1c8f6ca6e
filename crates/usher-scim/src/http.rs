//! HTTP handlers: authentication, strict parameter and body reading (size-capped
//! before parsing), preconditions, and SCIM responses.

// Parses network input: an index out of range must be an error, never a panic.
#![warn(clippy::indexing_slicing)]

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde_json::Value;

use crate::query_map::Origin;
use crate::reply::Reply;
use crate::service::ListParams;
use crate::state::{ScimData, ScimState, ready};
use usher_scim_model::error::{Result, SCIM_JSON, ScimError};
use usher_scim_model::render::{Precondition, Projection};
use usher_scim_model::schema::{Kind, SEARCH};

/// A SCIM JSON response.
pub(crate) fn respond(
    status: StatusCode,
    body: &Value,
    etag: Option<String>,
    location: Option<String>,
) -> HttpResponse {
    let mut r = HttpResponse::build(status);
    r.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON)));
    if let Some(e) = etag
        && let Ok(v) = HeaderValue::from_str(&e)
    {
        r.insert_header((header::ETAG, v));
    }
    if let Some(l) = location
        && let Ok(v) = HeaderValue::from_str(&l)
    {
        r.insert_header((header::LOCATION, v));
    }
    r.body(body.to_string())
}

/// Reads the body, refusing it with 413 as soon as it passes the advertised limit
/// (RFC 7644 §3.7.4), then parses it as JSON (400 invalidSyntax).
pub(crate) async fn read_json(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Value> {
    let too_large = || {
        ScimError::too_large(format!(
            "the body is larger than {limit} bytes (maxPayloadSize)"
        ))
    };
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ScimError::syntax("the body could not be read"))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    if body.is_empty() {
        return Err(ScimError::syntax(
            "the body is empty; send a SCIM JSON object",
        ));
    }
    serde_json::from_slice(&body)
        .map_err(|e| ScimError::syntax(format!("the body is not valid JSON: {e}")))
}

fn precondition(req: &HttpRequest, name: header::HeaderName) -> Result<Option<Precondition>> {
    match req.headers().get(name) {
        None => Ok(None),
        Some(v) => {
            let v = v
                .to_str()
                .map_err(|_| ScimError::value("a precondition header is not text"))?;
            Precondition::parse(v).map(Some)
        }
    }
}

fn query_pairs(req: &HttpRequest) -> Result<Vec<(String, String)>> {
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|_| ScimError::value("the query string is malformed"))
}

fn one<'a>(pairs: &'a [(String, String)], name: &str) -> Result<Option<&'a str>> {
    let mut found = pairs.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name));
    let first = found.next().map(|(_, v)| v.as_str());
    if found.next().is_some() {
        return Err(ScimError::value(format!("{name} is given twice")));
    }
    Ok(first)
}

/// `startIndex` and `count` (RFC 7644 §3.4.2.4): below 1 means 1, negative counts
/// mean 0, counts above `maxResults` are capped; anything but an integer is 400.
fn paging(state: &ScimState, start: Option<&Value>, count: Option<&Value>) -> Result<(u64, u32)> {
    let int = |v: &Value, name: &str| -> Result<i64> {
        match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        }
        .ok_or_else(|| ScimError::value(format!("{name} must be an integer")))
    };
    let start = match start {
        Some(v) => int(v, "startIndex")?.max(1),
        None => 1,
    };
    let max = state.settings.max_results;
    let count = match count {
        Some(v) => int(v, "count")?.clamp(0, i64::from(max)),
        None => i64::from(max),
    };
    Ok((start.unsigned_abs(), u32::try_from(count).unwrap_or(max)))
}

fn sort_order(v: Option<&str>) -> Result<bool> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        None | Some("ascending") => Ok(false),
        Some("descending") => Ok(true),
        Some(other) => Err(ScimError::value(format!(
            "sortOrder {other:?} must be ascending or descending"
        ))),
    }
}

fn list_params_from_query(state: &ScimState, req: &HttpRequest) -> Result<ListParams> {
    let pairs = query_pairs(req)?;
    let (start_index, count) = paging(
        state,
        one(&pairs, "startIndex")?
            .map(|s| Value::String(s.into()))
            .as_ref(),
        one(&pairs, "count")?
            .map(|s| Value::String(s.into()))
            .as_ref(),
    )?;
    Ok(ListParams {
        filter: one(&pairs, "filter")?.map(str::to_owned),
        origin: Some(Origin::Url),
        sort_by: one(&pairs, "sortBy")?.map(str::to_owned),
        descending: sort_order(one(&pairs, "sortOrder")?)?,
        start_index,
        count,
        projection: projection_from_query(&pairs)?,
    })
}

fn projection_from_query(pairs: &[(String, String)]) -> Result<Projection> {
    Ok(Projection::from_lists(
        one(pairs, "attributes")?,
        one(pairs, "excludedAttributes")?,
    ))
}

fn list_of_strings(v: Option<&Value>, name: &str) -> Result<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for i in items {
                out.push(
                    i.as_str()
                        .ok_or_else(|| {
                            ScimError::value(format!("{name} must be a list of strings"))
                        })?
                        .to_owned(),
                );
            }
            Ok(Some(out.join(",")))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        _ => Err(ScimError::value(format!(
            "{name} must be a list of strings"
        ))),
    }
}

/// A SearchRequest body (RFC 7644 §3.4.3).
fn list_params_from_body(state: &ScimState, body: &Value) -> Result<ListParams> {
    let Value::Object(o) = body else {
        return Err(ScimError::syntax("the body must be a JSON object"));
    };
    let get = |name: &str| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let schemas_ok = get("schemas").and_then(Value::as_array).is_some_and(|l| {
        l.iter()
            .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(SEARCH)))
    });
    if !schemas_ok {
        return Err(ScimError::syntax(format!("schemas must list {SEARCH}")));
    }
    for k in o.keys() {
        let known = [
            "schemas",
            "attributes",
            "excludedattributes",
            "filter",
            "sortby",
            "sortorder",
            "startindex",
            "count",
        ];
        if !known.contains(&k.to_ascii_lowercase().as_str()) {
            return Err(ScimError::syntax(format!(
                "{k} is not a SearchRequest attribute"
            )));
        }
    }
    let string = |name: &str| -> Result<Option<String>> {
        match get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ScimError::value(format!("{name} must be a string"))),
        }
    };
    let (start_index, count) = paging(state, get("startIndex"), get("count"))?;
    let attributes = list_of_strings(get("attributes"), "attributes")?;
    let excluded = list_of_strings(get("excludedAttributes"), "excludedAttributes")?;
    Ok(ListParams {
        filter: string("filter")?,
        origin: Some(Origin::Body),
        sort_by: string("sortBy")?,
        descending: sort_order(string("sortOrder")?.as_deref())?,
        start_index,
        count,
        projection: Projection::from_lists(attributes.as_deref(), excluded.as_deref()),
    })
}

// ----- handlers -----

pub(crate) async fn list(kind: Kind, data: ScimData, req: HttpRequest) -> Reply {
    let state = ready(&data)?;
    let caller = state.authenticate(&req).await?;
    let params = list_params_from_query(&state, &req)?;
    let body = match kind {
        Kind::User => state.list_users(&caller, &params).await?,
        Kind::Group => state.list_groups(&caller, &params).await?,
    };
    Ok(respond(StatusCode::OK, &body, None, None))
}

/// `POST /.search` at the root.
pub(crate) async fn search_all(data: ScimData, req: HttpRequest, payload: web::Payload) -> Reply {
    let state = ready(&data)?;
    let caller = state.authenticate(&req).await?;
    let body = read_json(&req, payload, state.settings.max_payload).await?;
    let params = list_params_from_body(&state, &body)?;
    let body = state.list_all(&caller, &params).await?;
    Ok(respond(StatusCode::OK, &body, None, None))
}

pub(crate) async fn search(
    kind: Kind,
    data: ScimData,
    req: HttpRequest,
    payload: web::Payload,
) -> Reply {
    let state = ready(&data)?;
    let caller = state.authenticate(&req).await?;
    let body = read_json(&req, payload, state.settings.max_payload).await?;
    let params = list_params_from_body(&state, &body)?;
    let body = match kind {
        Kind::User => state.list_users(&caller, &params).await?,
        Kind::Group => state.list_groups(&caller, &params).await?,
    };
    Ok(respond(StatusCode::OK, &body, None, None))
}

/// What a single-resource handler answers with.
pub(crate) struct Rendered {
    pub body: Value,
    pub version: i64,
    pub location: String,
}

pub(crate) async fn render_user(
    state: &ScimState,
    caller: &crate::state::Caller,
    u: &usher_core::User,
    proj: &Projection,
) -> Result<Rendered> {
    Ok(Rendered {
        body: state.user_resource(caller, u, proj).await?,
        version: u.version,
        location: format!("{}/Users/{}", state.settings.base_url, u.id),
    })
}

pub(crate) async fn render_group(
    state: &ScimState,
    g: &usher_core::Group,
    proj: &Projection,
) -> Result<Rendered> {
    Ok(Rendered {
        body: state.group_resource(g, proj).await?,
        version: g.version,
        location: format!("{}/Groups/{}", state.settings.base_url, g.id),
    })
}

fn answer(status: StatusCode, r: Rendered) -> HttpResponse {
    let location = (status == StatusCode::CREATED).then_some(r.location);
    respond(
        status,
        &r.body,
        Some(usher_scim_model::render::etag(r.version)),
        location,
    )
}

pub(crate) async fn create(
    kind: Kind,
    data: ScimData,
    req: HttpRequest,
    payload: web::Payload,
) -> Reply {
    let state = ready(&data)?;
    let caller = state.authenticate(&req).await?;
    let body = read_json(&req, payload, state.settings.max_payload).await?;
    let proj = projection_from_query(&query_pairs(&req)?)?;
    let r = match kind {
        Kind::User => {
            let u = state.create_user(&caller, &body).await?;
            render_user(&state, &caller, &u, &proj).await?
        }
        Kind::Group => {
            let g = state.create_group(&caller, &body).await?;
            render_group(&state, &g, &proj).await?
        }
    };
    Ok(answer(StatusCode::CREATED, r))
}

pub(crate) async fn get(
    kind: Kind,
    data: ScimData,
    req: HttpRequest,
    id: web::Path<String>,
) -> Reply {
    let state = ready(&data)?;
    let caller = state.authenticate(&req).await?;
    let proj = projection_from_query(&query_pairs(&req)?)?;
    let none_match = precondition(&req, header::IF_NONE_MATCH)?;
    let r = match kind {
        Kind::User => {
            let u = state.visible_user(&caller, &id).await?;
            if none_match.as_ref().is_some_and(|p| p.matches(u.version)) {
                return Ok(not_modified(u.version));
            }
            render_user(&state, &caller, &u, &proj).await?
        }
        Kind::Group => {
            let g = state.visible_group(&caller, &id).await?;
            if none_match.as_ref().is_some_and(|p| p.matches(g.version)) {
                return Ok(not_modified(g.version));
            }
            render_group(&state, &g, &proj).await?
        }
    };
    Ok(answer(StatusCode::OK, r))
}

fn not_modified(version: i64) -> HttpResponse {
    // RFC 7232 §4.1 / RFC 7644 §3.14: the client's copy is current.
    let mut r = HttpResponse::NotModified();
    if let Ok(v) = HeaderValue::from_str(&usher_scim_model::render::etag(version)) {
        r.insert_header((header::ETAG, v));
    }
    r.finish()
}

/// PUT or PATCH.
pub(crate) async fn write(
    kind: Kind,
    patch: bool,
    data: ScimData,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> Reply {
    let state = ready(&data)?;
    let caller = state.authenticate(&req).await?;
    let pre = precondition(&req, header::IF_MATCH)?;
    let body = read_json(&req, payload, state.settings.max_payload).await?;
    let proj = projection_from_query(&query_pairs(&req)?)?;
    let r = match (kind, patch) {
        (Kind::User, false) => {
            let u = state.put_user(&caller, &id, &body, pre.as_ref()).await?;
            render_user(&state, &caller, &u, &proj).await?
        }
        (Kind::User, true) => {
            let u = state.patch_user(&caller, &id, &body, pre.as_ref()).await?;
            render_user(&state, &caller, &u, &proj).await?
        }
        (Kind::Group, false) => {
            let g = state.put_group(&caller, &id, &body, pre.as_ref()).await?;
            render_group(&state, &g, &proj).await?
        }
        (Kind::Group, true) => {
            let g = state.patch_group(&caller, &id, &body, pre.as_ref()).await?;
            render_group(&state, &g, &proj).await?
        }
    };
    Ok(answer(StatusCode::OK, r))
}

pub(crate) async fn delete(
    kind: Kind,
    data: ScimData,
    req: HttpRequest,
    id: web::Path<String>,
) -> Reply {
    let state = ready(&data)?;
    let caller = state.authenticate(&req).await?;
    let pre = precondition(&req, header::IF_MATCH)?;
    match kind {
        Kind::User => state.delete_user(&caller, &id, pre.as_ref()).await?,
        Kind::Group => state.delete_group(&caller, &id, pre.as_ref()).await?,
    }
    Ok(HttpResponse::NoContent().finish())
}
