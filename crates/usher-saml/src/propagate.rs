//! Front-channel logout propagation (SAML Profiles §4.4.3.3, §4.4.4): once a
//! session has ended (usher's sign-out page, or an SP's LogoutRequest), the
//! browser carries a LogoutRequest to each other SAML SP of the session in turn,
//! and each SP's LogoutResponse brings it back to `/saml/slo`, which moves on to
//! the next. When none remain, the browser goes where the [`LogoutChain`] says:
//! the signed-out page or app (`ChainEnd::Redirect`), or the LogoutResponse owed
//! to the SP that started (`ChainEnd::SamlResponse`).
//!
//! The LogoutRequests go over HTTP-Redirect with a signed query (Bindings
//! §3.4.4.1): `NameID` and its format as the SP was given them, `SessionIndex` the
//! session's sid, `Destination` the SP's SLO URL, `RelayState` the chain id.
//!
//! One broken SP never blocks the logout: a response with a non-Success status,
//! or (from an SP with a registered certificate) a missing or bad signature, is
//! logged and the chain moves on, as it does when the browser comes back to
//! `/saml/slo/propagate` with a request still unanswered. What is refused is a
//! response that answers no pending request of a live chain (wrong chain id,
//! issuer or `InResponseTo`, or the chain already moved on): it cannot redirect
//! anywhere, nor be replayed. The chain is taken from the store by each step, so
//! two steps never run at once.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use usher_core::{ChainEnd, LogoutChain, Participant, PendingLogout};

use crate::authn_request::{self, Root};
use crate::inbound::BindingParams;
use crate::page;
use crate::redirect_sig;
use crate::response::{STATUS_SUCCESS, new_id};
use crate::slo::{logout_response, signed_query};
use crate::sp::Binding;
use crate::sso::{internal_error, not_ready};
use crate::state::{SamlData, SamlState};
use crate::xml::escape;

/// Where the browser is sent to carry the logout on.
pub const PROPAGATE_PATH: &str = "/saml/slo/propagate";

const HEADING: &str = "Sign-out cannot continue";
const RESPONSE_HEADING: &str = "Invalid sign-out response";

#[derive(Deserialize)]
pub struct PropagateQuery {
    t: Option<String>,
}

/// Chain ids are our random tokens: anything else is not looked up.
fn plausible(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `GET /saml/slo/propagate?t=ID`: the next SP of the chain, or its end.
pub async fn propagate(query: web::Query<PropagateQuery>, data: SamlData) -> HttpResponse {
    let Some(state) = data.get().cloned() else {
        return not_ready();
    };
    let Some(id) = query.t.as_deref().filter(|t| plausible(t)) else {
        return page::bad_request(HEADING, "The sign-out link is incomplete.");
    };
    let mut chain = match state.deps.interactions.take_logout_chain(id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return page::bad_request(HEADING, "This sign-out has already finished or expired.");
        }
        Err(e) => return internal_error("the logout chain could not be read", &e),
    };
    if let Some(p) = chain.pending.take() {
        tracing::warn!(sp = %p.entity_id, "SAML SP never answered its LogoutRequest; moving on");
    }
    advance(&state, id, chain).await
}

/// A LogoutResponse at `/saml/slo` (either binding), answering one of ours.
pub(crate) async fn response(
    state: &SamlState,
    binding: Binding,
    params: &BindingParams,
    xml: &[u8],
) -> HttpResponse {
    let response = match authn_request::parse_as(xml, Root::LogoutResponse) {
        Ok(r) => r,
        Err(e) => return page::bad_request(RESPONSE_HEADING, &e.to_string()),
    };
    let unmatched = "This response answers no sign-out in progress.";
    let Some(id) = params
        .relay_state
        .as_ref()
        .map(|(v, _)| v.as_str())
        .filter(|v| plausible(v))
    else {
        return page::bad_request(RESPONSE_HEADING, unmatched);
    };
    let mut chain = match state.deps.interactions.take_logout_chain(id).await {
        Ok(Some(c)) => c,
        Ok(None) => return page::bad_request(RESPONSE_HEADING, unmatched),
        Err(e) => return internal_error("the logout chain could not be read", &e),
    };
    let answers = chain.pending.as_ref().is_some_and(|p| {
        p.entity_id == response.issuer
            && response.in_response_to.as_deref() == Some(p.request_id.as_str())
    });
    if !answers {
        // Not ours to move: the chain stays as it was for the real response.
        if let Err(e) = state.deps.interactions.save_logout_chain(id, &chain).await {
            return internal_error("the logout chain could not be stored", &e);
        }
        return page::bad_request(RESPONSE_HEADING, unmatched);
    }
    chain.pending = None;
    let sp = &response.issuer;
    // A snapshot of the registration: a metadata re-read may swap it meanwhile.
    let registration = state.sp(sp);
    if let Some(cert) = registration
        .as_ref()
        .and_then(|s| s.signing_cert_der.as_ref())
    {
        let signed = match binding {
            Binding::HttpRedirect => redirect_sig::verify(params, cert).is_ok(),
            Binding::HttpPost => {
                crate::sso::verify_embedded(&response, &String::from_utf8_lossy(xml), cert)
            }
        };
        if !signed {
            tracing::warn!(%sp, "SAML LogoutResponse signature missing or invalid; moving on");
        }
    }
    if response.status.as_deref() != Some(STATUS_SUCCESS) {
        tracing::warn!(%sp, status = ?response.status, "SAML SP did not log out; moving on");
    }
    advance(state, id, chain).await
}

/// Sends the browser to the next SP with a logout URL, or to the chain's end.
pub(crate) async fn advance(state: &SamlState, id: &str, mut chain: LogoutChain) -> HttpResponse {
    while !chain.remaining.is_empty() {
        let Participant::Saml {
            entity_id,
            name_id,
            name_id_format,
        } = chain.remaining.remove(0)
        else {
            continue;
        };
        let Some(slo_url) = state.sp(&entity_id).and_then(|s| s.slo_url.clone()) else {
            continue;
        };
        let key = match state
            .keys
            .active(&*state.deps.keys, &*state.deps.clock)
            .await
        {
            Ok(k) => k,
            Err(e) => return internal_error("no SAML signing key", &e),
        };
        let request_id = match new_id() {
            Ok(r) => r,
            Err(e) => return internal_error("no random ID", &e),
        };
        let xml = logout_request(
            state,
            &request_id,
            &slo_url,
            &name_id,
            &name_id_format,
            &chain.sid,
        );
        let query = match signed_query("SAMLRequest", &xml, Some(id), &key) {
            Ok(q) => q,
            Err(e) => return internal_error("signing a LogoutRequest failed", &e),
        };
        chain.pending = Some(PendingLogout {
            entity_id,
            request_id,
        });
        if let Err(e) = state.deps.interactions.save_logout_chain(id, &chain).await {
            return internal_error("the logout chain could not be stored", &e);
        }
        let sep = if slo_url.contains('?') { '&' } else { '?' };
        return see_other(&format!("{slo_url}{sep}{query}"));
    }
    match chain.then {
        ChainEnd::Redirect(url) => see_other(&url),
        ChainEnd::SamlResponse {
            entity_id,
            in_response_to,
            post,
            relay_state,
        } => {
            let Some(slo_url) = state.sp(&entity_id).and_then(|s| s.slo_url.clone()) else {
                return page::bad_request(
                    HEADING,
                    "You are signed out, but the application is no longer registered.",
                );
            };
            let key = match state
                .keys
                .active(&*state.deps.keys, &*state.deps.clock)
                .await
            {
                Ok(k) => k,
                Err(e) => return internal_error("no SAML signing key", &e),
            };
            let binding = if post {
                Binding::HttpPost
            } else {
                Binding::HttpRedirect
            };
            match logout_response(
                state,
                &key,
                &slo_url,
                &in_response_to,
                binding,
                relay_state.as_deref(),
            ) {
                Ok(r) => r,
                Err(e) => internal_error("building a LogoutResponse failed", &e),
            }
        }
    }
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// The LogoutRequest (Core §3.7.1); signed by the Redirect binding's query.
fn logout_request(
    state: &SamlState,
    id: &str,
    destination: &str,
    name_id: &str,
    name_id_format: &str,
    session_index: &str,
) -> String {
    let now = state.deps.clock.now();
    let instant = now
        .replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    format!(
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
IssueInstant=\"{instant}\" Destination=\"{dest}\">\
<saml:Issuer>{issuer}</saml:Issuer>\
<saml:NameID Format=\"{format}\">{name_id}</saml:NameID>\
<samlp:SessionIndex>{sid}</samlp:SessionIndex></samlp:LogoutRequest>",
        dest = escape(destination),
        issuer = escape(&state.settings.entity_id()),
        format = escape(name_id_format),
        name_id = escape(name_id),
        sid = escape(session_index),
    )
}
