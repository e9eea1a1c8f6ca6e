//! Discovery (RFC 7644 §4): `/ServiceProviderConfig`, `/ResourceTypes` and
//! `/Schemas`, telling the truth about what this service does.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, web};
use serde_json::{Value, json};

use crate::http::respond;
use crate::reply::Reply;
use crate::state::{ScimData, ScimState, ready};
use usher_scim_model::error::ScimError;
use usher_scim_model::schema::{self, ENTERPRISE, GROUP, LIST, USER, USHER};

fn service_provider_config(state: &ScimState) -> Value {
    let s = &state.settings;
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/usher-idp/usher/blob/main/docs/scim.md",
        "patch": {"supported": true},
        "bulk": {
            "supported": true,
            "maxOperations": s.max_bulk_operations,
            "maxPayloadSize": s.max_payload,
        },
        "filter": {"supported": true, "maxResults": s.max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A per-client token created with `usher scim-tokens create NAME` \
                            (or scim.clients in the configuration), sent as Authorization: Bearer",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", s.base_url),
        },
    })
}

fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "User Account",
            "schema": USER,
            "schemaExtensions": [
                {"schema": ENTERPRISE, "required": false},
                {"schema": USHER, "required": false},
            ],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")},
        }),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "Group",
            "schema": GROUP,
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")},
        }),
    ]
}

fn list(items: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST],
        "totalResults": items.len(),
        "itemsPerPage": items.len(),
        "startIndex": 1,
        "Resources": items,
    })
}

pub(crate) async fn spc(data: ScimData, req: HttpRequest) -> Reply {
    let state = ready(&data)?;
    state.authenticate(&req).await?;
    Ok(respond(
        StatusCode::OK,
        &service_provider_config(&state),
        None,
        None,
    ))
}

pub(crate) async fn resource_type_list(data: ScimData, req: HttpRequest) -> Reply {
    let state = ready(&data)?;
    state.authenticate(&req).await?;
    Ok(respond(
        StatusCode::OK,
        &list(resource_types(&state.settings.base_url)),
        None,
        None,
    ))
}

pub(crate) async fn resource_type(
    data: ScimData,
    req: HttpRequest,
    id: web::Path<String>,
) -> Reply {
    let state = ready(&data)?;
    state.authenticate(&req).await?;
    resource_types(&state.settings.base_url)
        .into_iter()
        .find(|r| r["id"].as_str() == Some(id.as_str()))
        .map(|r| respond(StatusCode::OK, &r, None, None))
        .ok_or_else(|| ScimError::not_found("ResourceType", &id).into())
}

pub(crate) async fn schema_list(data: ScimData, req: HttpRequest) -> Reply {
    let state = ready(&data)?;
    state.authenticate(&req).await?;
    Ok(respond(
        StatusCode::OK,
        &list(schema::all_schemas(&state.settings.base_url)),
        None,
        None,
    ))
}

pub(crate) async fn schema_one(data: ScimData, req: HttpRequest, id: web::Path<String>) -> Reply {
    let state = ready(&data)?;
    state.authenticate(&req).await?;
    schema::all_schemas(&state.settings.base_url)
        .into_iter()
        .find(|s| s["id"].as_str() == Some(id.as_str()))
        .map(|s| respond(StatusCode::OK, &s, None, None))
        .ok_or_else(|| ScimError::not_found("Schema", &id).into())
}

/// Any other method on a discovery endpoint.
pub(crate) async fn method_not_allowed() -> Reply {
    Err(ScimError::status(
        StatusCode::METHOD_NOT_ALLOWED.as_u16(),
        "discovery endpoints are read-only: use GET",
    )
    .into())
}

/// Anything under the base URL that is not an endpoint.
pub(crate) async fn not_found(req: HttpRequest) -> Reply {
    Err(ScimError::status(
        StatusCode::NOT_FOUND.as_u16(),
        format!("{} is not a SCIM endpoint", req.path()),
    )
    .into())
}
