//! `GET /federation/{id}/saml/start?t=LOGIN_ID`: sends the browser to the
//! upstream IdP with a signed AuthnRequest (SAML Core §3.4.1): over
//! HTTP-Redirect with the signature over the query (Bindings §3.4.4.1,
//! RSA-SHA256), or over HTTP-POST with an enveloped signature when that is the
//! IdP's only binding. The request ID, a fresh RelayState and the parked login
//! request are remembered for this browser ([`super::pending`]).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;

use super::error::Rejection;
use super::page::refuse;
use super::pending::{self, PendingRequest};
use super::settings::SamlUpstream;
use super::state::{SamlSpData, SamlSpState};
use crate::sp::Binding;
use crate::xml::escape;
use crate::{page, sign, slo};

/// `?t=`: the parked login request (absent: sign in to usher itself).
#[derive(Debug, Deserialize)]
pub struct StartQuery {
    t: Option<String>,
}

/// The AuthnRequest text (unsigned; the POST binding adds a signature template).
pub fn authn_request(
    upstream: &SamlUpstream,
    id: &str,
    issue_instant: &str,
    signature: &str,
) -> String {
    let policy = match &upstream.name_id_format {
        Some(f) => format!(
            "<samlp:NameIDPolicy Format=\"{}\" AllowCreate=\"true\"/>",
            escape(f)
        ),
        None => "<samlp:NameIDPolicy AllowCreate=\"true\"/>".to_owned(),
    };
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
IssueInstant=\"{issue_instant}\" Destination=\"{dest}\" AssertionConsumerServiceURL=\"{acs}\" \
ProtocolBinding=\"{post}\"><saml:Issuer>{issuer}</saml:Issuer>{signature}{policy}</samlp:AuthnRequest>",
        id = escape(id),
        dest = escape(&upstream.sso_url),
        acs = escape(&upstream.acs_url),
        post = Binding::HttpPost.uri(),
        issuer = escape(&upstream.sp_entity_id),
    )
}

/// `GET /federation/{id}/saml/start`.
pub async fn start(req: HttpRequest, path: web::Path<String>, data: SamlSpData) -> HttpResponse {
    let Some(state) = data.get().cloned() else {
        return super::page::not_ready();
    };
    let id = path.into_inner();
    let Some(upstream) = state.upstream(&id) else {
        return refuse(
            &id,
            None,
            &Rejection::UnknownUpstream,
            "no such SAML upstream",
        );
    };
    match begin(&state, &upstream, &req).await {
        Ok(r) => r,
        Err((rejection, detail)) => refuse(&id, Some(&upstream), &rejection, &detail),
    }
}

async fn begin(
    state: &SamlSpState,
    upstream: &SamlUpstream,
    req: &HttpRequest,
) -> Result<HttpResponse, (Rejection, String)> {
    let unavailable =
        |what: &str, e: usher_core::Error| (Rejection::Unavailable, format!("{what}: {e}"));
    if !upstream.enabled {
        return Err((Rejection::Disabled, "start refused".into()));
    }
    let q = web::Query::<StartQuery>::from_query(req.query_string())
        .map_err(|e| (Rejection::Input("bad query".into()), e.to_string()))?;
    let login = match q.into_inner().t.filter(|t| !t.is_empty()) {
        Some(t) => match state.deps.interactions.login(&t).await {
            Ok(Some(_)) => Some(t),
            Ok(None) => return Err((Rejection::LoginExpired, "unknown login request".into())),
            Err(e) => return Err(unavailable("reading the login request", e)),
        },
        None => None,
    };
    // Issue 10, defect 4: anyone can start a sign-in, and each start parks a
    // pending request; the address pays for it first (a replayed `t` too, or one
    // login ticket would start unlimited ones). The 429 page is the answer.
    if let Err(refused) = crate::budget::spend(&state.deps.budget, req, "sign-ins").await {
        return Ok(refused);
    }
    let (browser, cookie) =
        pending::browser_or_new(state, req).map_err(|e| unavailable("random", e))?;
    let request_id = format!(
        "_{}",
        usher_core::random::token().map_err(|e| unavailable("random", e))?
    );
    let relay_state = usher_core::random::token().map_err(|e| unavailable("random", e))?;
    let key = state
        .keys
        .active(&*state.deps.keys, &*state.deps.clock)
        .await
        .map_err(|e| unavailable("signing key", e))?;
    let now = state
        .deps
        .clock
        .now()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| state.deps.clock.now())
        .format(&Rfc3339)
        .map_err(|e| (Rejection::Unavailable, e.to_string()))?;
    pending::put(
        state,
        &browser,
        &PendingRequest {
            upstream: upstream.id.to_string(),
            request_id: request_id.clone(),
            relay_state: relay_state.clone(),
            login,
        },
    )
    .await
    .map_err(|e| unavailable("storing the pending request", e))?;
    let mut response = match upstream.sso_binding {
        Binding::HttpRedirect => {
            let xml = authn_request(upstream, &request_id, &now, "");
            let query = slo::signed_query("SAMLRequest", &xml, Some(&relay_state), &key)
                .map_err(|e| unavailable("signing the request", e))?;
            let sep = if upstream.sso_url.contains('?') {
                '&'
            } else {
                '?'
            };
            let mut r = HttpResponse::SeeOther();
            r.insert_header((
                header::LOCATION,
                format!("{}{sep}{query}", upstream.sso_url),
            ))
            .insert_header((header::CACHE_CONTROL, "no-store"));
            r.finish()
        }
        Binding::HttpPost => {
            let template = sign::template(&request_id, &key.certificate);
            let xml = authn_request(upstream, &request_id, &now, &template);
            let signed =
                sign::sign(&xml, &key).map_err(|e| unavailable("signing the request", e))?;
            let b64 = STANDARD.encode(signed.as_bytes());
            page::post_form_field(&upstream.sso_url, "SAMLRequest", &b64, Some(&relay_state))
        }
    };
    if let Some(c) = cookie {
        response
            .add_cookie(&c)
            .map_err(|e| (Rejection::Unavailable, e.to_string()))?;
    }
    Ok(response)
}
