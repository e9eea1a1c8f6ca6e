//! IdP-initiated SSO (SAML Profiles §4.1.5): `GET /saml/sso/init?sp=ENTITY_ID&RelayState=`
//! sends an unsolicited response (no `InResponseTo`) to the SP's default ACS, for
//! SPs that allow it. Unsolicited responses are easier to misuse (login CSRF), so
//! it is off unless the SP's registration turns it on.

use actix_web::{HttpRequest, HttpResponse};

use crate::inbound::{self, InboundError};
use crate::issue::{self, Pending};
use crate::page;
use crate::sso::{current_session, internal_error, not_ready, start_login};
use crate::state::SamlData;

/// Longest RelayState accepted (SAML Bindings §3.4.3: 80 bytes is what SPs must
/// support; we allow more but bound it).
const MAX_RELAY_STATE: usize = 1024;

/// `GET /saml/sso/init`.
pub async fn init(req: HttpRequest, data: SamlData) -> HttpResponse {
    const HEADING: &str = "Invalid sign-in request";
    let Some(state) = data.get().cloned() else {
        return not_ready();
    };
    let mut sp_id = None;
    let mut relay_state = None;
    for pair in req.query_string().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (Ok(k), Ok(v)) = (inbound::percent_decode(k), inbound::percent_decode(v)) else {
            return page::bad_request(HEADING, &InboundError::Encoding.to_string());
        };
        let slot = match k.as_str() {
            "sp" => &mut sp_id,
            "RelayState" => &mut relay_state,
            _ => continue,
        };
        if slot.replace(v).is_some() {
            return page::bad_request(
                HEADING,
                &format!("The parameter {k} appears more than once."),
            );
        }
    }
    if relay_state
        .as_ref()
        .is_some_and(|r| r.len() > MAX_RELAY_STATE)
    {
        return page::bad_request(HEADING, "The RelayState is too long.");
    }
    let Some(sp) = sp_id.as_deref().and_then(|id| state.sp(id)) else {
        return page::bad_request(HEADING, "The application is not registered with usher.");
    };
    let sp: &crate::sp::ServiceProvider = &sp;
    if !sp.allow_idp_initiated {
        return page::bad_request(
            HEADING,
            "This application does not accept sign-ins started at usher.",
        );
    }
    let Some(acs) = sp.default_acs() else {
        return page::bad_request(
            HEADING,
            "The application has no HTTP-POST assertion consumer service.",
        );
    };
    let pending = Pending {
        sp_entity_id: sp.entity_id.clone(),
        acs_url: acs.url.clone(),
        request_id: None,
        relay_state,
        force_authn: false,
        name_id_format: None,
        since: state.deps.clock.now().unix_timestamp(),
    };
    match current_session(&state, &req).await {
        Ok(Some(session)) => issue::answer(&state, sp, &pending, &session).await,
        // Issue 10, defect 4: parking for a browser without a session costs its
        // address a token of the pending budget.
        Ok(None) => match crate::budget::spend(&state.deps.budget, &req, "sign-ins").await {
            Ok(()) => start_login(&state, sp, pending).await,
            Err(refused) => refused,
        },
        Err(e) => internal_error("reading the SSO session failed", &e),
    }
}
