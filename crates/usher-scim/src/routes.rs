//! The SCIM routes, under [`BASE_PATH`]. Handlers find their [`ScimState`] in a
//! `web::Data<OnceLock<Arc<ScimState>>>` (see [`crate::ScimData`]) and answer 503
//! until it is set.
//!
//! [`ScimState`]: crate::ScimState

use actix_web::{HttpRequest, web};

use crate::bulk;
use crate::discovery;
use crate::http;
use crate::state::ScimData;
use usher_scim_model::schema::Kind;

/// Where the service lives, relative to usher's public URL.
pub const BASE_PATH: &str = "/scim/v2";

fn resources(cfg: &mut web::ServiceConfig, kind: Kind) {
    let collection = format!("/{}", kind.endpoint());
    cfg.service(
        web::resource(collection.clone())
            .route(web::get().to(move |d: ScimData, r: HttpRequest| http::list(kind, d, r)))
            .route(
                web::post().to(move |d: ScimData, r: HttpRequest, p: web::Payload| {
                    http::create(kind, d, r, p)
                }),
            )
            .default_service(web::to(discovery::method_not_allowed)),
    )
    .service(
        web::resource(format!("{collection}/.search"))
            .route(
                web::post().to(move |d: ScimData, r: HttpRequest, p: web::Payload| {
                    http::search(kind, d, r, p)
                }),
            )
            .default_service(web::to(discovery::method_not_allowed)),
    )
    .service(
        web::resource(format!("{collection}/{{id}}"))
            .route(
                web::get().to(move |d: ScimData, r: HttpRequest, id: web::Path<String>| {
                    http::get(kind, d, r, id)
                }),
            )
            .route(web::put().to(
                move |d: ScimData, r: HttpRequest, id: web::Path<String>, p: web::Payload| {
                    http::write(kind, false, d, r, id, p)
                },
            ))
            .route(web::patch().to(
                move |d: ScimData, r: HttpRequest, id: web::Path<String>, p: web::Payload| {
                    http::write(kind, true, d, r, id, p)
                },
            ))
            .route(
                web::delete().to(move |d: ScimData, r: HttpRequest, id: web::Path<String>| {
                    http::delete(kind, d, r, id)
                }),
            )
            .default_service(web::to(discovery::method_not_allowed)),
    );
}

/// Registers the SCIM routes (the binary mounts them at the app's root).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(BASE_PATH)
            .service(
                web::resource("/ServiceProviderConfig")
                    .route(web::get().to(discovery::spc))
                    .default_service(web::to(discovery::method_not_allowed)),
            )
            .service(
                web::resource("/ResourceTypes")
                    .route(web::get().to(discovery::resource_type_list))
                    .default_service(web::to(discovery::method_not_allowed)),
            )
            .service(
                web::resource("/ResourceTypes/{id}")
                    .route(web::get().to(discovery::resource_type))
                    .default_service(web::to(discovery::method_not_allowed)),
            )
            .service(
                web::resource("/Schemas")
                    .route(web::get().to(discovery::schema_list))
                    .default_service(web::to(discovery::method_not_allowed)),
            )
            .service(
                web::resource("/Schemas/{id}")
                    .route(web::get().to(discovery::schema_one))
                    .default_service(web::to(discovery::method_not_allowed)),
            )
            .service(
                web::resource("/.search")
                    .route(web::post().to(http::search_all))
                    .default_service(web::to(discovery::method_not_allowed)),
            )
            .service(
                web::resource("/Bulk")
                    .route(web::post().to(bulk::bulk))
                    .default_service(web::to(discovery::method_not_allowed)),
            )
            .configure(|c| resources(c, Kind::User))
            .configure(|c| resources(c, Kind::Group))
            .default_service(web::to(discovery::not_found)),
    );
}
