//! `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3): what
//! the OP supports, advertised truthfully (never `none`).

use actix_web::HttpResponse;
use actix_web::http::header;
use serde_json::{Value, json};

use crate::claims::{CLAIMS, SCOPES};
use crate::error::{OAuthError, StateData, ready};
use crate::state::OidcState;

/// Signing algorithms of tokens and accepted client assertions.
pub const SIGNING_ALGS: [&str; 3] = ["RS256", "ES256", "EdDSA"];

/// The discovery document of `state`'s issuer.
pub fn document(state: &OidcState) -> Value {
    let issuer = &state.settings.issuer;
    let url = |path: &str| format!("{issuer}/oidc/{path}");
    json!({
        "issuer": issuer,
        "authorization_endpoint": url("authorize"),
        "token_endpoint": url("token"),
        "userinfo_endpoint": url("userinfo"),
        "jwks_uri": url("jwks"),
        "introspection_endpoint": url("introspect"),
        "revocation_endpoint": url("revoke"),
        "end_session_endpoint": url("logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": SIGNING_ALGS,
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "introspection_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "revocation_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        "revocation_endpoint_auth_signing_alg_values_supported": SIGNING_ALGS,
        "scopes_supported": SCOPES,
        "claims_supported": CLAIMS,
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "backchannel_logout_supported": true,
        "backchannel_logout_session_supported": true,
        "frontchannel_logout_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
    })
}

/// Briefly cacheable JSON (discovery and the JWKS change only with configuration
/// and key rotation).
pub(crate) fn cacheable(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(body)
}

/// The discovery endpoint.
pub async fn openid_configuration(data: StateData) -> Result<HttpResponse, OAuthError> {
    let state = ready(&data)?;
    Ok(cacheable(document(&state)))
}
