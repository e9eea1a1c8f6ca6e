//! Web Browser SSO (SAML Profiles §4.1): `GET|POST /saml/sso` takes an
//! AuthnRequest, checks it in order (size and encoding, DTD, syntax, issuer,
//! signature, replay, ACS and binding, Destination, freshness), then answers
//! from the SSO session or parks the request and sends the browser to the login
//! page; `GET /saml/sso/resume` picks it up again. A request the session does
//! not answer at once (no session, or `ForceAuthn`) pays for what is parked from
//! its address's pending budget (`crate::budget`).
//!
//! Refusals up to and including replay get an error page: the request cannot be
//! trusted, or (a replay) must not be answered. After that the SP is known and
//! trusted, and refusals that are its own fault (a binding other than
//! HTTP-POST, a wrong Destination, a stale IssueInstant) get a signed
//! `Requester` error Response at its default registered ACS, with InResponseTo
//! and RelayState, unless the request named an unregistered ACS (a page).

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};
use serde::{Deserialize, Serialize};
use usher_core::{LoginRequest, SsoSession, stash};

use crate::authn_request::{self, AuthnRequest};
use crate::budget;
use crate::inbound::{self, BindingParams, InboundError};
use crate::issue::{self, Pending};
use crate::page;
use crate::redirect_sig;
use crate::response;
use crate::sp::{Binding, ServiceProvider};
use crate::state::{SamlData, SamlState};

/// Where the login page sends the browser back.
pub const RESUME_PATH: &str = "/saml/sso/resume";
/// How long a request ID is remembered against replay (longer than any SP's
/// request lifetime we accept).
pub const REPLAY_TTL: Duration = Duration::from_secs(10 * 60);

pub(crate) fn not_ready() -> HttpResponse {
    page::error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Not ready yet",
        "The sign-in service is starting.",
    )
}

pub(crate) fn internal_error(what: &str, error: &usher_core::Error) -> HttpResponse {
    tracing::error!(%error, "{what}");
    page::error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The sign-in service could not complete the request.",
    )
}

fn inbound_error(e: InboundError) -> HttpResponse {
    let status = match e {
        InboundError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        _ => StatusCode::BAD_REQUEST,
    };
    page::error_page(status, "Invalid sign-in request", &e.to_string())
}

/// `GET /saml/sso`: HTTP-Redirect binding (Bindings §3.4).
pub async fn sso_get(req: HttpRequest, data: SamlData) -> HttpResponse {
    let Some(state) = data.get().cloned() else {
        return not_ready();
    };
    let params = match inbound::parse_params(req.query_string()) {
        Ok(p) => p,
        Err(e) => return inbound_error(e),
    };
    let Some((value, _)) = &params.saml_request else {
        return inbound_error(InboundError::Missing);
    };
    let xml = match inbound::redirect_message(value) {
        Ok(x) => x,
        Err(e) => return inbound_error(e),
    };
    handle(&state, &req, Binding::HttpRedirect, &params, &xml).await
}

/// `POST /saml/sso`: HTTP-POST binding (Bindings §3.5).
pub async fn sso_post(req: HttpRequest, mut body: web::Payload, data: SamlData) -> HttpResponse {
    let Some(state) = data.get().cloned() else {
        return not_ready();
    };
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            return inbound_error(InboundError::Encoding);
        };
        if bytes.len() + chunk.len() > inbound::MAX_ENCODED {
            return inbound_error(InboundError::TooLarge);
        }
        bytes.extend_from_slice(&chunk);
    }
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return inbound_error(InboundError::Encoding);
    };
    let params = match inbound::parse_params(text) {
        Ok(p) => p,
        Err(e) => return inbound_error(e),
    };
    // The POST binding carries its signature inside the XML (Bindings §3.5.4).
    if params.sig_alg.is_some() || params.signature.is_some() {
        return page::bad_request(
            "Invalid sign-in request",
            "SigAlg and Signature belong to the Redirect binding.",
        );
    }
    let Some((value, _)) = &params.saml_request else {
        return inbound_error(InboundError::Missing);
    };
    let xml = match inbound::post_message(value) {
        Ok(x) => x,
        Err(e) => return inbound_error(e),
    };
    handle(&state, &req, Binding::HttpPost, &params, &xml).await
}

/// Checks that an embedded (POST binding) signature covers the request itself:
/// exactly one Signature, a child of the root, with exactly one Reference to the
/// root's own ID (signature wrapping, XSW), made with the SP's key and an
/// allowed algorithm.
pub(crate) fn verify_embedded(request: &AuthnRequest, xml: &str, cert: &[u8]) -> bool {
    if request.signatures != 1 || request.signature_references != [format!("#{}", request.id)] {
        return false;
    }
    let allowed = [
        AllowedSignatureAlgorithm::RsaSha256,
        AllowedSignatureAlgorithm::RsaSha384,
        AllowedSignatureAlgorithm::RsaSha512,
        AllowedSignatureAlgorithm::EcdsaSha256,
    ];
    Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        xml,
        &[CertificateDer::from(cert.to_vec())],
        ReduceMode::PreDigest,
        Some(&allowed),
    )
    .is_ok()
}

/// Why a request from a known, trusted SP (registered Issuer, signature checked
/// when required or present) is refused.
enum Refusal {
    /// Nothing goes to an ACS: the request could be pointing anywhere, or is a
    /// replay.
    Page(&'static str),
    /// The SP's own fault: a signed `Requester` error Response with this
    /// second-level code (SAML Core §3.2.2.2), posted to the SP's default
    /// registered ACS, never to a URL from the request.
    Status(&'static str, &'static str),
}

/// The ACS for a request, only ever one of the SP's registered endpoints
/// (SAML Profiles §4.1.4.1; an open ACS would post assertions to an attacker).
/// An ACS named by the request that is not registered is always a page, so no
/// answer at all goes back for a request that points elsewhere.
fn choose_acs<'a>(sp: &'a ServiceProvider, request: &AuthnRequest) -> Result<&'a str, Refusal> {
    const UNREGISTERED: &str =
        "The assertion consumer service is not registered for this application.";
    let named = match (&request.acs_url, request.acs_index) {
        (Some(_), Some(_)) => {
            return Err(Refusal::Page(
                "The request names both an ACS URL and an ACS index.",
            ));
        }
        (Some(url), None) => Some(
            sp.acs
                .iter()
                .find(|a| &a.url == url)
                .ok_or(Refusal::Page(UNREGISTERED))?,
        ),
        (None, Some(index)) => Some(
            sp.acs
                .iter()
                .find(|a| a.index == index)
                .ok_or(Refusal::Page(UNREGISTERED))?,
        ),
        (None, None) => None,
    };
    if let Some(binding) = &request.protocol_binding
        && binding != Binding::HttpPost.uri()
    {
        return Err(Refusal::Status(
            response::STATUS_UNSUPPORTED_BINDING,
            "usher answers over the HTTP-POST binding only.",
        ));
    }
    let acs = match named {
        Some(a) => a,
        None => sp.default_acs().ok_or(Refusal::Page(UNREGISTERED))?,
    };
    if acs.binding != Binding::HttpPost {
        return Err(Refusal::Status(
            response::STATUS_UNSUPPORTED_BINDING,
            "That assertion consumer service does not use the HTTP-POST binding.",
        ));
    }
    Ok(&acs.url)
}

/// Answers a refusal of a request from a known, trusted SP: a page, or an
/// error Response at the SP's default registered ACS (a page if it has none).
async fn refuse(
    state: &SamlState,
    sp: &ServiceProvider,
    request: &AuthnRequest,
    params: &BindingParams,
    refusal: Refusal,
) -> HttpResponse {
    const HEADING: &str = "Invalid sign-in request";
    let (second, why) = match refusal {
        Refusal::Page(why) => return page::bad_request(HEADING, why),
        Refusal::Status(second, why) => (second, why),
    };
    let Some(acs) = sp.default_acs() else {
        return page::bad_request(HEADING, why);
    };
    tracing::info!(sp = %sp.entity_id, request_id = %request.id, "SAML request refused: {why}");
    let pending = Pending {
        sp_entity_id: sp.entity_id.clone(),
        acs_url: acs.url.clone(),
        request_id: Some(request.id.clone()),
        relay_state: params.relay_state.as_ref().map(|(v, _)| v.clone()),
        force_authn: request.force_authn,
        name_id_format: request.name_id_format.clone(),
        since: state.deps.clock.now().unix_timestamp(),
    };
    issue::requester_error(state, sp, &pending, second).await
}

async fn handle(
    state: &Arc<SamlState>,
    req: &HttpRequest,
    binding: Binding,
    params: &BindingParams,
    xml: &[u8],
) -> HttpResponse {
    const HEADING: &str = "Invalid sign-in request";
    let request = match authn_request::parse(xml) {
        Ok(r) => r,
        Err(e) => return page::bad_request(HEADING, &e.to_string()),
    };
    let Some(sp) = state.sp(&request.issuer) else {
        return page::bad_request(HEADING, "The application is not registered with usher.");
    };
    let sp: &crate::sp::ServiceProvider = &sp;
    // Signature before anything else is believed (Bindings §3.4.4.1, §3.5.4). It is
    // required when the SP or the IdP says so; a signature that is present is
    // verified whenever the SP registered a certificate, so a forged or altered
    // signed request is refused even from an SP that may also send unsigned ones.
    let must_sign = sp.want_signed_requests || state.settings.want_authn_requests_signed;
    let is_signed = match binding {
        Binding::HttpRedirect => params.signature.is_some() || params.sig_alg.is_some(),
        Binding::HttpPost => request.signatures > 0,
    };
    if must_sign || (is_signed && sp.signing_cert_der.is_some()) {
        let Some(cert) = &sp.signing_cert_der else {
            return page::bad_request(
                HEADING,
                "Signed requests are required, but the application has no certificate.",
            );
        };
        let verified = match binding {
            Binding::HttpRedirect => redirect_sig::verify(params, cert).map_err(|e| e.to_string()),
            Binding::HttpPost => {
                let text = String::from_utf8_lossy(xml);
                if verify_embedded(&request, &text, cert) {
                    Ok(())
                } else {
                    Err("the request signature does not verify".into())
                }
            }
        };
        if let Err(e) = verified {
            return page::bad_request(HEADING, &format!("The request signature was refused: {e}."));
        }
    }
    let session = match current_session(state, req).await {
        Ok(s) => s,
        Err(e) => return internal_error("reading the SSO session failed", &e),
    };
    // Issue 10, defect 4: from here on a request that the session does not
    // answer at once (no session, or ForceAuthn with one) makes usher park a
    // replay-cache entry, the request and a login ticket, for minutes; SPs sign
    // a fresh AuthnRequest for anyone who asks, so a signature bounds nothing,
    // and a session does not either when ForceAuthn sends it to the login page.
    // The address pays from its budget first (a 429 page, never an answer at the
    // ACS).
    if (session.is_none() || request.force_authn)
        && let Err(refused) = budget::spend(&state.deps.budget, req, "sign-ins").await
    {
        return refused;
    }
    // The SP is known and trusted from here on. Replay first: an AuthnRequest ID
    // is accepted once per SP, and a replay gets a page, never anything the SP
    // could take as an answer to its request.
    let replay_key = format!(
        "saml-req:{}:{}",
        usher_core::random::digest(&sp.entity_id),
        usher_core::random::digest(&request.id)
    );
    match state
        .deps
        .ephemeral
        .put_if_absent(&replay_key, b"1", REPLAY_TTL)
        .await
    {
        Ok(true) => {}
        Ok(false) => return page::bad_request(HEADING, "This sign-in request was already used."),
        Err(e) => return internal_error("the SAML replay cache failed", &e),
    }
    let acs_url = match choose_acs(sp, &request) {
        Ok(url) => url.to_owned(),
        Err(refusal) => return refuse(state, sp, &request, params, refusal).await,
    };
    // SAML Core §3.2.1: a Destination, when present, must be where it arrived.
    if let Some(dest) = &request.destination
        && *dest != state.settings.sso_url()
    {
        let refusal = Refusal::Status(
            response::STATUS_REQUEST_UNSUPPORTED,
            "The request was meant for another destination.",
        );
        return refuse(state, sp, &request, params, refusal).await;
    }
    // The replay cache above remembers IDs for REPLAY_TTL, so older requests must
    // be refused or a replay after the TTL would pass (Profiles §4.1.4.5).
    if let Err(why) = fresh(&request.issue_instant, state.deps.clock.now()) {
        let refusal = Refusal::Status(response::STATUS_REQUEST_UNSUPPORTED, why);
        return refuse(state, sp, &request, params, refusal).await;
    }
    let pending = Pending {
        sp_entity_id: sp.entity_id.clone(),
        acs_url,
        request_id: Some(request.id.clone()),
        relay_state: params.relay_state.as_ref().map(|(v, _)| v.clone()),
        force_authn: request.force_authn,
        name_id_format: request.name_id_format.clone(),
        since: state.deps.clock.now().unix_timestamp(),
    };
    match session {
        Some(session) if !request.force_authn => issue::answer(state, sp, &pending, &session).await,
        _ if request.is_passive => issue::no_passive(state, sp, &pending).await,
        _ => start_login(state, sp, pending).await,
    }
}

/// How far ahead of our clock an SP's clock may be.
const CLOCK_SKEW: Duration = Duration::from_secs(3 * 60);

/// Whether `IssueInstant` is within the replay window (and not from the future).
fn fresh(issue_instant: &str, now: time::OffsetDateTime) -> Result<(), &'static str> {
    let at = time::OffsetDateTime::parse(
        issue_instant,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(|_| "The request's IssueInstant is not a valid time.")?;
    if at > now + CLOCK_SKEW {
        return Err("The request was issued in the future; check the application's clock.");
    }
    if at + REPLAY_TTL < now + CLOCK_SKEW {
        return Err("The request is too old; start again from the application.");
    }
    Ok(())
}

pub(crate) async fn current_session(
    state: &SamlState,
    req: &HttpRequest,
) -> usher_core::Result<Option<SsoSession>> {
    match req.cookie(state.settings.session_cookie()) {
        Some(c) if !c.value().is_empty() => state.deps.sessions.get(c.value()).await,
        _ => Ok(None),
    }
}

fn pending_key(id: &str) -> String {
    format!("saml-authn:{id}")
}

/// Parks `pending` and sends the browser to the login page (303).
pub(crate) async fn start_login(
    state: &SamlState,
    sp: &ServiceProvider,
    pending: Pending,
) -> HttpResponse {
    let id = match usher_core::random::token() {
        Ok(id) => id,
        Err(e) => return internal_error("the random source failed", &e),
    };
    if let Err(e) = stash::put(
        &*state.deps.ephemeral,
        &pending_key(&id),
        &pending,
        usher_core::INTERACTION_TTL,
    )
    .await
    {
        return internal_error("parking a SAML request failed", &e);
    }
    let login = LoginRequest {
        resume_url: format!("{RESUME_PATH}?id={id}"),
        client_name: Some(sp.entity_id.clone()),
        force_login: pending.force_authn,
        login_hint: None,
        upstream_hint: None,
        allowed_upstreams: None,
    };
    match state.deps.interactions.start_login(&login).await {
        Ok(t) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/login?t={t}")))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(e) => internal_error("starting a login failed", &e),
    }
}

#[derive(Deserialize, Serialize)]
pub(crate) struct ResumeQuery {
    id: String,
}

/// `GET /saml/sso/resume?id=`: back from the login page.
pub async fn resume(req: HttpRequest, data: SamlData) -> HttpResponse {
    let Some(state) = data.get().cloned() else {
        return not_ready();
    };
    let Ok(q) = web::Query::<ResumeQuery>::from_query(req.query_string()) else {
        return page::bad_request(
            "Invalid sign-in request",
            "The sign-in request id is missing.",
        );
    };
    let pending: Pending = match stash::take(&*state.deps.ephemeral, &pending_key(&q.id)).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return page::bad_request(
                "Sign-in expired",
                "The sign-in request expired or was already used.",
            );
        }
        Err(e) => return internal_error("reading a parked SAML request failed", &e),
    };
    let Some(sp) = state.sp(&pending.sp_entity_id) else {
        return page::bad_request(
            "Invalid sign-in request",
            "The application is no longer registered.",
        );
    };
    let sp: &crate::sp::ServiceProvider = &sp;
    let session = match current_session(&state, &req).await {
        Ok(s) => s,
        Err(e) => return internal_error("reading the SSO session failed", &e),
    };
    match session {
        // ForceAuthn: only a sign-in that happened after the request will do.
        Some(s) if !pending.force_authn || s.auth_time.unix_timestamp() >= pending.since => {
            issue::answer(&state, sp, &pending, &s).await
        }
        _ => page::bad_request(
            "Not signed in",
            "Sign in did not complete; return to the application and try again.",
        ),
    }
}
