//! Issuing the answer: a signed Response posted to the chosen ACS, and the SP
//! recorded as a participant of the session (for Single Logout).

use actix_web::HttpResponse;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use usher_core::ports::Admission;
use usher_core::{Participant, SignIn, SsoSession};

use crate::page;
use crate::response::{self, Destination, Subject};
use crate::sp::{NameIdFormat, ServiceProvider};
use crate::sso::internal_error;
use crate::state::SamlState;

/// A validated request waiting for the user (or answered at once).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    /// The SP.
    pub sp_entity_id: String,
    /// The ACS already chosen from its registration.
    pub acs_url: String,
    /// The AuthnRequest ID; `None` for IdP-initiated.
    pub request_id: Option<String>,
    /// `RelayState`, returned as is.
    pub relay_state: Option<String>,
    /// `ForceAuthn`.
    pub force_authn: bool,
    /// `NameIDPolicy Format`.
    pub name_id_format: Option<String>,
    /// When the request arrived (unix seconds).
    pub since: i64,
}

fn destination<'a>(issuer: &'a str, sp: &'a ServiceProvider, p: &'a Pending) -> Destination<'a> {
    Destination {
        issuer,
        sp,
        acs_url: &p.acs_url,
        in_response_to: p.request_id.as_deref(),
    }
}

/// Posts an error status to the ACS.
async fn fail(
    state: &SamlState,
    sp: &ServiceProvider,
    p: &Pending,
    top: &str,
    second: &str,
) -> HttpResponse {
    let key = match state
        .keys
        .active(&*state.deps.keys, &*state.deps.clock)
        .await
    {
        Ok(k) => k,
        Err(e) => return internal_error("no SAML signing key", &e),
    };
    let issuer = state.settings.entity_id();
    let now = state.deps.clock.now();
    match response::failure(&destination(&issuer, sp, p), &key, now, top, second) {
        Ok(xml) => page::post_form(&p.acs_url, &STANDARD.encode(xml), p.relay_state.as_deref()),
        Err(e) => internal_error("building a SAML response failed", &e),
    }
}

/// `IsPassive` and no usable session (SAML Core §3.4.1).
pub async fn no_passive(state: &SamlState, sp: &ServiceProvider, p: &Pending) -> HttpResponse {
    fail(
        state,
        sp,
        p,
        response::STATUS_RESPONDER,
        response::STATUS_NO_PASSIVE,
    )
    .await
}

/// A request from a known, trusted SP that is refused for the SP's own fault
/// (SAML Core §3.2.2.2): `Requester` with `second` as the second-level code.
/// `p.acs_url` must be one of the SP's registered ACS URLs.
pub async fn requester_error(
    state: &SamlState,
    sp: &ServiceProvider,
    p: &Pending,
    second: &str,
) -> HttpResponse {
    fail(state, sp, p, response::STATUS_REQUESTER, second).await
}

/// The NameID format to use: the SP's, unless the request names another one
/// (SAML Core §3.4.1.1), which usher then cannot honour.
fn format_for(sp: &ServiceProvider, requested: Option<&str>) -> Option<NameIdFormat> {
    match requested.map(NameIdFormat::parse) {
        None | Some(Some(NameIdFormat::Unspecified)) => Some(sp.name_id_format),
        Some(Some(f)) if f == sp.name_id_format => Some(f),
        _ => None,
    }
}

/// A successful response for the session's user, posted to the ACS.
pub async fn answer(
    state: &SamlState,
    sp: &ServiceProvider,
    p: &Pending,
    session: &SsoSession,
) -> HttpResponse {
    let user = match state.deps.directory.get_user(session.user_id).await {
        Ok(u) => u,
        Err(e) => return internal_error("reading the user failed", &e),
    };
    if !user.active {
        return fail(
            state,
            sp,
            p,
            response::STATUS_RESPONDER,
            response::STATUS_REQUEST_DENIED,
        )
        .await;
    }
    // The app's assignment, SP- and IdP-initiated alike, before anything is
    // signed. A refusal is a page, not an error Response at the ACS: neither the
    // user nor the SP can fix it there (docs/saml.md).
    let sign_in = SignIn::Saml {
        entity_id: sp.entity_id.clone(),
    };
    match state.deps.gate.admit(&sign_in, &user).await {
        Ok(Admission::Allowed) => {}
        Ok(Admission::NotAssigned { app }) => {
            let entry = usher_core::not_assigned_audit(&sign_in, &user, &app);
            if let Err(e) = state.deps.audit.record(entry).await {
                tracing::error!(error = %e, "cannot write the audit log");
            }
            return (state.deps.not_assigned_page)(&app);
        }
        Err(e) => return internal_error("checking the app's assignment failed", &e),
    }
    let Some(format) = format_for(sp, p.name_id_format.as_deref()) else {
        return fail(
            state,
            sp,
            p,
            response::STATUS_REQUESTER,
            response::STATUS_INVALID_NAME_ID_POLICY,
        )
        .await;
    };
    let name_id = match response::name_id(&user, sp, format) {
        Ok(Some(n)) => n,
        Ok(None) => {
            return fail(
                state,
                sp,
                p,
                response::STATUS_RESPONDER,
                response::STATUS_INVALID_NAME_ID_POLICY,
            )
            .await;
        }
        Err(e) => return internal_error("making a NameID failed", &e),
    };
    let groups: Vec<String> = if sp
        .attributes
        .iter()
        .any(|(_, c)| *c == crate::sp::Claim::Groups)
    {
        match state.deps.directory.groups_of(user.id).await {
            Ok(g) => g.into_iter().map(|g| g.name).collect(),
            Err(e) => return internal_error("reading groups failed", &e),
        }
    } else {
        Vec::new()
    };
    let key = match state
        .keys
        .active(&*state.deps.keys, &*state.deps.clock)
        .await
    {
        Ok(k) => k,
        Err(e) => return internal_error("no SAML signing key", &e),
    };
    let issuer = state.settings.entity_id();
    let subject = Subject {
        user: &user,
        groups: &groups,
        session,
        name_id: &name_id,
        format,
    };
    let now = state.deps.clock.now();
    let xml = match response::success(&destination(&issuer, sp, p), &subject, &key, now) {
        Ok(x) => x,
        Err(e) => return internal_error("building a SAML response failed", &e),
    };
    let participant = Participant::Saml {
        entity_id: sp.entity_id.clone(),
        name_id,
        name_id_format: format.uri().to_owned(),
    };
    if let Err(e) = state.deps.sessions.join(session, &participant).await {
        return internal_error("recording the SAML participant failed", &e);
    }
    page::post_form(&p.acs_url, &STANDARD.encode(xml), p.relay_state.as_deref())
}
