//! SP-initiated Single Logout (SAML Profiles §4.4; Core §3.7): `GET|POST
//! /saml/slo` takes a LogoutRequest, ends the browser's SSO session, tells the
//! logout listeners (OIDC back-channel, ...) about the other participants, and
//! answers a signed LogoutResponse at the SP's registered SLO URL over the
//! binding the request came by — after the other SAML SPs of the session have
//! been told through the browser ([`crate::propagate`]), whose LogoutResponses
//! come back here too.
//!
//! Authentication of the request (Profiles §4.4.4.1): an SP with a registered
//! certificate must sign it. Without one, the request can only end the session of
//! the browser that carries it, and only when that session gave this SP the
//! NameID (and SessionIndex) it names: at worst a forged request logs a user out
//! of their own session (logout CSRF), never someone else's.

use std::io::Write;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::write::DeflateEncoder;
use futures_util::StreamExt;
use openssl::hash::MessageDigest;
use openssl::sign::Signer;
use usher_core::{ChainEnd, LogoutChain, Participant, SsoSession};

use crate::authn_request::{self, Root};
use crate::inbound::{self, BindingParams, InboundError};
use crate::keys::SamlKey;
use crate::page;
use crate::propagate;
use crate::redirect_sig;
use crate::response::{STATUS_SUCCESS, new_id};
use crate::sign;
use crate::sp::{Binding, ServiceProvider};
use crate::sso::{internal_error, not_ready};
use crate::state::{SamlData, SamlState};
use crate::xml::escape;

const HEADING: &str = "Invalid sign-out request";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// `GET /saml/slo` (HTTP-Redirect).
pub async fn slo_get(req: HttpRequest, data: SamlData) -> HttpResponse {
    let Some(state) = data.get().cloned() else {
        return not_ready();
    };
    let params = match inbound::parse_params(req.query_string()) {
        Ok(p) => p,
        Err(e) => return page::bad_request(HEADING, &e.to_string()),
    };
    if let Some((value, _)) = &params.saml_response {
        return match inbound::redirect_message(value) {
            Ok(xml) => propagate::response(&state, Binding::HttpRedirect, &params, &xml).await,
            Err(e) => page::bad_request(HEADING, &e.to_string()),
        };
    }
    let Some((value, _)) = &params.saml_request else {
        return page::bad_request(HEADING, &InboundError::Missing.to_string());
    };
    match inbound::redirect_message(value) {
        Ok(xml) => handle(&state, &req, Binding::HttpRedirect, &params, &xml).await,
        Err(e) => page::bad_request(HEADING, &e.to_string()),
    }
}

/// `POST /saml/slo` (HTTP-POST).
pub async fn slo_post(req: HttpRequest, mut body: web::Payload, data: SamlData) -> HttpResponse {
    let Some(state) = data.get().cloned() else {
        return not_ready();
    };
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else {
            return page::bad_request(HEADING, &InboundError::Encoding.to_string());
        };
        if bytes.len() + chunk.len() > inbound::MAX_ENCODED {
            return page::bad_request(HEADING, &InboundError::TooLarge.to_string());
        }
        bytes.extend_from_slice(&chunk);
    }
    let params = match std::str::from_utf8(&bytes)
        .map_err(|_| InboundError::Encoding)
        .and_then(inbound::parse_params)
    {
        Ok(p) => p,
        Err(e) => return page::bad_request(HEADING, &e.to_string()),
    };
    if params.sig_alg.is_some() || params.signature.is_some() {
        return page::bad_request(
            HEADING,
            "SigAlg and Signature belong to the Redirect binding.",
        );
    }
    if let Some((value, _)) = &params.saml_response {
        return match inbound::post_message(value) {
            Ok(xml) => propagate::response(&state, Binding::HttpPost, &params, &xml).await,
            Err(e) => page::bad_request(HEADING, &e.to_string()),
        };
    }
    let Some((value, _)) = &params.saml_request else {
        return page::bad_request(HEADING, &InboundError::Missing.to_string());
    };
    match inbound::post_message(value) {
        Ok(xml) => handle(&state, &req, Binding::HttpPost, &params, &xml).await,
        Err(e) => page::bad_request(HEADING, &e.to_string()),
    }
}

async fn handle(
    state: &SamlState,
    req: &HttpRequest,
    binding: Binding,
    params: &BindingParams,
    xml: &[u8],
) -> HttpResponse {
    let request = match authn_request::parse_as(xml, Root::LogoutRequest) {
        Ok(r) => r,
        Err(e) => return page::bad_request(HEADING, &e.to_string()),
    };
    let Some(sp) = state.sp(&request.issuer) else {
        return page::bad_request(HEADING, "The application is not registered with usher.");
    };
    let sp: &crate::sp::ServiceProvider = &sp;
    let Some(slo_url) = sp.slo_url.clone() else {
        return page::bad_request(HEADING, "The application has no registered logout URL.");
    };
    let signed = match (&sp.signing_cert_der, binding) {
        (None, _) => false,
        (Some(cert), Binding::HttpRedirect) => redirect_sig::verify(params, cert).is_ok(),
        (Some(cert), Binding::HttpPost) => {
            crate::sso::verify_embedded(&request, &String::from_utf8_lossy(xml), cert)
        }
    };
    if sp.signing_cert_der.is_some() && !signed {
        return page::bad_request(
            HEADING,
            "The logout request signature is missing or does not verify.",
        );
    }
    if let Some(dest) = &request.destination
        && *dest != format!("{}/saml/slo", state.settings.public_url)
    {
        return page::bad_request(HEADING, "The request was meant for another destination.");
    }
    let now = state.deps.clock.now();
    if let Some(end) = &request.not_on_or_after {
        match time::OffsetDateTime::parse(end, &time::format_description::well_known::Rfc3339) {
            Ok(end) if end > now => {}
            _ => return page::bad_request(HEADING, "The logout request expired."),
        }
    }
    // Issue 10, defect 4: an SP without a certificate sends unsigned requests,
    // which anyone can forge by the thousand, each parking a replay-cache entry;
    // those cost the address a token of the pending budget.
    if !signed
        && let Err(refused) = crate::budget::spend(&state.deps.budget, req, "sign-outs").await
    {
        return refused;
    }
    let replay_key = format!(
        "saml-slo:{}:{}",
        usher_core::random::digest(&sp.entity_id),
        usher_core::random::digest(&request.id)
    );
    match state
        .deps
        .ephemeral
        .put_if_absent(&replay_key, b"1", crate::sso::REPLAY_TTL)
        .await
    {
        Ok(true) => {}
        Ok(false) => return page::bad_request(HEADING, "This logout request was already used."),
        Err(e) => return internal_error("the SAML replay cache failed", &e),
    }
    let name_id = request.name_id.clone().unwrap_or_default();
    let ended = match end_session(state, req, sp, &name_id, &request.session_indexes, signed).await
    {
        Ok(e) => e,
        Err(e) => return internal_error("ending the SSO session failed", &e),
    };
    let relay = params.relay_state.as_ref().map(|(v, _)| v.as_str());
    if let Some((session, participants)) = ended {
        // Everyone else who took part hears of it: listeners (OIDC back-channel,
        // ...), then the other SAML SPs through the browser, before this SP gets
        // its LogoutResponse (Profiles §4.4.3.3).
        let others: Vec<Participant> = participants
            .into_iter()
            .filter(
                |p| !matches!(p, Participant::Saml { entity_id, .. } if *entity_id == sp.entity_id),
            )
            .collect();
        for listener in &state.deps.logout_listeners {
            listener.session_ended(&session, &others).await;
        }
        let saml: Vec<Participant> = others
            .into_iter()
            .filter(|p| matches!(p, Participant::Saml { .. }))
            .collect();
        if !saml.is_empty() {
            let chain = LogoutChain {
                remaining: saml,
                sid: session.sid.clone(),
                pending: None,
                then: ChainEnd::SamlResponse {
                    entity_id: sp.entity_id.clone(),
                    in_response_to: request.id.clone(),
                    post: binding == Binding::HttpPost,
                    relay_state: relay.map(str::to_owned),
                },
            };
            return match state.deps.interactions.start_logout_chain(&chain).await {
                Ok(id) => propagate::advance(state, &id, chain).await,
                Err(e) => internal_error("the logout chain could not be stored", &e),
            };
        }
    }
    let key = match state
        .keys
        .active(&*state.deps.keys, &*state.deps.clock)
        .await
    {
        Ok(k) => k,
        Err(e) => return internal_error("no SAML signing key", &e),
    };
    match logout_response(state, &key, &slo_url, &request.id, binding, relay) {
        Ok(r) => r,
        Err(e) => internal_error("building a LogoutResponse failed", &e),
    }
}

type Ended = Option<(SsoSession, Vec<Participant>)>;

/// Ends the session the request names, if it may.
async fn end_session(
    state: &SamlState,
    req: &HttpRequest,
    sp: &ServiceProvider,
    name_id: &str,
    session_indexes: &[String],
    signed: bool,
) -> usher_core::Result<Ended> {
    let sessions = &state.deps.sessions;
    let cookie = req
        .cookie(state.settings.session_cookie())
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty());
    if let Some(secret) = &cookie
        && let Some(session) = sessions.get(secret).await?
    {
        let index_ok = session_indexes.is_empty() || session_indexes.contains(&session.sid);
        let participants = sessions.participants(&session).await?;
        let took_part = participants.iter().any(|p| {
            matches!(p, Participant::Saml { entity_id, name_id: n, .. }
                if *entity_id == sp.entity_id && n == name_id)
        });
        if index_ok && took_part {
            sessions.end(secret).await?;
            return Ok(Some((session, participants)));
        }
    }
    // No (matching) cookie, e.g. third-party cookies blocked: a signed request may
    // still name the session by its SessionIndex, which only its participants know.
    if signed {
        for sid in session_indexes {
            if let Some(session) = sessions.end_by_sid(sid).await? {
                let participants = sessions.participants(&session).await?;
                return Ok(Some((session, participants)));
            }
        }
    }
    Ok(None)
}

/// The LogoutResponse (Core §3.7.2), Success whether or not a session was found
/// (the SP's goal, no session, is reached either way).
pub(crate) fn logout_response(
    state: &SamlState,
    key: &SamlKey,
    slo_url: &str,
    in_response_to: &str,
    binding: Binding,
    relay_state: Option<&str>,
) -> usher_core::Result<HttpResponse> {
    let id = new_id()?;
    let now = state.deps.clock.now();
    let instant = now
        .replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let signature = match binding {
        Binding::HttpPost => sign::template(&id, &key.certificate),
        // Redirect: the query string is signed instead (Bindings §3.4.4.1).
        Binding::HttpRedirect => String::new(),
    };
    let xml = format!(
        "<samlp:LogoutResponse xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
IssueInstant=\"{instant}\" Destination=\"{dest}\" InResponseTo=\"{irt}\">\
<saml:Issuer>{issuer}</saml:Issuer>{signature}<samlp:Status>\
<samlp:StatusCode Value=\"{STATUS_SUCCESS}\"/></samlp:Status></samlp:LogoutResponse>",
        dest = escape(slo_url),
        irt = escape(in_response_to),
        issuer = escape(&state.settings.entity_id()),
    );
    match binding {
        Binding::HttpPost => {
            let signed = sign::sign(&xml, key)?;
            Ok(page::post_form(
                slo_url,
                &STANDARD.encode(signed),
                relay_state,
            ))
        }
        Binding::HttpRedirect => {
            let query = signed_query("SAMLResponse", &xml, relay_state, key)?;
            let sep = if slo_url.contains('?') { '&' } else { '?' };
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, format!("{slo_url}{sep}{query}")))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish())
        }
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `{param}=..[&RelayState=..]&SigAlg=..&Signature=..` (`param` is `SAMLRequest`
/// or `SAMLResponse`), signed with RSA-SHA256 over the encoded bytes (Bindings
/// §3.4.4.1).
pub(crate) fn signed_query(
    param: &str,
    xml: &str,
    relay_state: Option<&str>,
    key: &SamlKey,
) -> usher_core::Result<String> {
    let internal = |e: &dyn std::fmt::Display| usher_core::Error::Internal(e.to_string());
    let mut deflater = DeflateEncoder::new(Vec::new(), Compression::default());
    deflater
        .write_all(xml.as_bytes())
        .map_err(|e| internal(&e))?;
    let deflated = deflater.finish().map_err(|e| internal(&e))?;
    let mut query = format!("{param}={}", encode(&STANDARD.encode(deflated)));
    if let Some(r) = relay_state {
        query.push_str("&RelayState=");
        query.push_str(&encode(r));
    }
    query.push_str("&SigAlg=");
    query.push_str(&encode(RSA_SHA256));
    let signature = Signer::new(MessageDigest::sha256(), &key.pkey)
        .and_then(|mut s| {
            s.update(query.as_bytes())?;
            s.sign_to_vec()
        })
        .map_err(|e| internal(&e))?;
    query.push_str("&Signature=");
    query.push_str(&encode(&STANDARD.encode(signature)));
    Ok(query)
}
