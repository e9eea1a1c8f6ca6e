//! The HTTP side: `/{tenant}/v2/...` routes onto the tenant's [`Tenant`].

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::Shared;
use super::store::{self, Failure, Op, Paging, Tenant};

const SCIM_JSON: &str = "application/scim+json";

/// Default page size when a listing gives no `count` (RFC 7644 §3.4.2.4 leaves
/// it to the server).
const DEFAULT_COUNT: usize = 100;

type Data = web::Data<Shared>;

/// What a handler answers.
pub(super) enum Reply {
    /// 200 with the document.
    Ok(Value),
    /// 201 with the new resource and its location.
    Created(Value),
    /// 204.
    Empty,
}

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/{tenant}/v2")
            .route("/ServiceProviderConfig", web::get().to(discovery))
            .service(
                web::resource("/Users")
                    .route(web::get().to(list_users))
                    .route(web::post().to(create_user)),
            )
            .service(
                web::resource("/Users/{id}")
                    .route(web::get().to(get_user))
                    .route(web::put().to(put_user))
                    .route(web::patch().to(patch_user))
                    .route(web::delete().to(delete_user)),
            )
            .service(
                web::resource("/Groups")
                    .route(web::get().to(list_groups))
                    .route(web::post().to(create_group)),
            )
            .service(
                web::resource("/Groups/{id}")
                    .route(web::get().to(get_group))
                    .route(web::put().to(put_group))
                    .route(web::patch().to(patch_group))
                    .route(web::delete().to(delete_group)),
            ),
    );
}

pub(super) fn render(result: Result<Reply, Failure>) -> HttpResponse {
    match result {
        Ok(Reply::Ok(doc)) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, SCIM_JSON))
            .body(doc.to_string()),
        Ok(Reply::Created(doc)) => {
            let mut res = HttpResponse::Created();
            res.insert_header((CONTENT_TYPE, SCIM_JSON));
            if let Some(location) = doc.pointer("/meta/location").and_then(Value::as_str) {
                res.insert_header((LOCATION, location));
            }
            res.body(doc.to_string())
        }
        Ok(Reply::Empty) => HttpResponse::NoContent().finish(),
        Err(e) => {
            let status =
                StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            HttpResponse::build(status)
                .insert_header((CONTENT_TYPE, SCIM_JSON))
                .body(e.document().to_string())
        }
    }
}

fn json(body: &[u8]) -> Result<Value, Failure> {
    serde_json::from_slice(body)
        .map_err(|e| Failure::bad("invalidSyntax", format!("the body is not JSON: {e}")))
}

fn id(req: &HttpRequest) -> &str {
    req.match_info().get("id").unwrap_or_default()
}

/// `filter`, `startIndex` and `count` of a listing.
fn listing(req: &HttpRequest) -> Result<(Option<String>, Paging), Failure> {
    let query = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map_err(|e| Failure::bad("invalidSyntax", format!("bad query: {e}")))?
        .into_inner();
    let number = |key: &str, default: usize| match query.get(key) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| Failure::bad("invalidValue", format!("{key} must be a number"))),
    };
    let paging = Paging {
        start: number("startIndex", 1)?,
        count: number("count", DEFAULT_COUNT)?,
    };
    Ok((query.get("filter").cloned(), paging))
}

async fn discovery(req: HttpRequest, sink: Data) -> HttpResponse {
    sink.serve(&req, Op::Discovery, |_, _| {
        Ok(Reply::Ok(store::service_provider_config()))
    })
}

async fn list_users(req: HttpRequest, sink: Data) -> HttpResponse {
    let op = if req.query_string().contains("filter=") {
        Op::FindUsers
    } else {
        Op::ListUsers
    };
    sink.serve(&req, op, |t: &mut Tenant, _| {
        let (filter, paging) = listing(&req)?;
        Ok(Reply::Ok(t.list_users(filter.as_deref(), paging)?))
    })
}

async fn create_user(req: HttpRequest, body: web::Bytes, sink: Data) -> HttpResponse {
    sink.serve(&req, Op::CreateUser, |t, now| {
        Ok(Reply::Created(t.create_user(&json(&body)?, now)?))
    })
}

async fn get_user(req: HttpRequest, sink: Data) -> HttpResponse {
    sink.serve(&req, Op::GetUser, |t, _| {
        Ok(Reply::Ok(t.get_user(id(&req))?))
    })
}

async fn put_user(req: HttpRequest, body: web::Bytes, sink: Data) -> HttpResponse {
    sink.serve(&req, Op::PutUser, |t, now| {
        Ok(Reply::Ok(t.put_user(id(&req), &json(&body)?, now)?))
    })
}

async fn patch_user(req: HttpRequest, body: web::Bytes, sink: Data) -> HttpResponse {
    sink.serve(&req, Op::PatchUser, |t, now| {
        Ok(Reply::Ok(t.patch_user(id(&req), &json(&body)?, now)?))
    })
}

async fn delete_user(req: HttpRequest, sink: Data) -> HttpResponse {
    sink.serve(&req, Op::DeleteUser, |t, now| {
        t.delete_user(id(&req), now)?;
        Ok(Reply::Empty)
    })
}

async fn list_groups(req: HttpRequest, sink: Data) -> HttpResponse {
    sink.serve(&req, Op::ListGroups, |t, _| {
        let (filter, paging) = listing(&req)?;
        Ok(Reply::Ok(t.list_groups(filter.as_deref(), paging)?))
    })
}

async fn create_group(req: HttpRequest, body: web::Bytes, sink: Data) -> HttpResponse {
    sink.serve(&req, Op::CreateGroup, |t, _| {
        Ok(Reply::Created(t.create_group(&json(&body)?)?))
    })
}

async fn get_group(req: HttpRequest, sink: Data) -> HttpResponse {
    sink.serve(&req, Op::GetGroup, |t, _| {
        Ok(Reply::Ok(t.get_group(id(&req))?))
    })
}

async fn put_group(req: HttpRequest, body: web::Bytes, sink: Data) -> HttpResponse {
    sink.serve(&req, Op::PutGroup, |t, _| {
        Ok(Reply::Ok(t.put_group(id(&req), &json(&body)?)?))
    })
}

async fn patch_group(req: HttpRequest, body: web::Bytes, sink: Data) -> HttpResponse {
    sink.serve(&req, Op::PatchGroup, |t, _| {
        Ok(Reply::Ok(t.patch_group(id(&req), &json(&body)?)?))
    })
}

async fn delete_group(req: HttpRequest, sink: Data) -> HttpResponse {
    sink.serve(&req, Op::DeleteGroup, |t, _| {
        t.delete_group(id(&req))?;
        Ok(Reply::Empty)
    })
}
