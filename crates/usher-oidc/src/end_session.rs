//! RP-Initiated Logout (OpenID Connect RP-Initiated Logout 1.0): `GET|POST
//! /oidc/logout`.
//!
//! The endpoint only validates and parks the request: the logout page of
//! `usher-web` (`/logout?t=...`) asks for confirmation when needed, ends the
//! session, tells the [`LogoutListener`](usher_core::ports::LogoutListener)s
//! (back-channel logout) and sends the browser on. Anything wrong is an error page:
//! a post_logout_redirect_uri is only ever followed when it is registered, exactly,
//! for the client the request proved it comes from (§3; an open redirector
//! otherwise).

use std::sync::{Arc, OnceLock};

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use usher_core::{LogoutRequest, session_cookie_name};

use crate::authorize::hint::{self, HintClaims};
use crate::authorize::params::{self, Params};
use crate::authorize::{internal_error, not_ready, page, state_of};
use crate::budget;
use crate::client::Client;
use crate::state::OidcState;

type StateData = web::Data<OnceLock<Arc<OidcState>>>;

const KNOWN_PARAMS: [&str; 6] = [
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
    "ui_locales",
    "logout_hint",
];

const HEADING: &str = "Invalid sign-out request";

/// `GET /oidc/logout`.
pub(crate) async fn end_session_get(req: HttpRequest, data: StateData) -> HttpResponse {
    end_session(req, None, data).await
}

/// `POST /oidc/logout` (form-encoded, RP-Initiated Logout §2).
pub(crate) async fn end_session_post(
    req: HttpRequest,
    body: web::Payload,
    data: StateData,
) -> HttpResponse {
    end_session(req, Some(body), data).await
}

async fn end_session(
    req: HttpRequest,
    body: Option<web::Payload>,
    data: StateData,
) -> HttpResponse {
    let Some(state) = state_of(&data) else {
        return not_ready();
    };
    let params = match Params::from_request(&req, body).await {
        Ok(p) => p,
        Err(e) => return page::error_page(e.status(), HEADING, e.describe()),
    };
    if let Some(name) = params.first_duplicated(&KNOWN_PARAMS) {
        return page::bad_request(
            HEADING,
            &format!("The parameter {name} was sent more than once."),
        );
    }
    let hint = match params.get("id_token_hint") {
        None => None,
        Some(token) => match hint::verify_hint(&state, token).await {
            Ok(Some(claims)) => Some(claims),
            Ok(None) => {
                return page::bad_request(
                    HEADING,
                    "The application sent a sign-out request with an id_token that was not issued here.",
                );
            }
            Err(e) => return internal_error("checking an id_token_hint failed", &e),
        },
    };
    let client = match requesting_client(&state, params.get("client_id"), hint.as_ref()) {
        Ok(c) => c,
        Err(detail) => return page::bad_request(HEADING, detail),
    };
    let redirect_after = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            // §3: the client must be known (client_id or the hint's audience) and the
            // URI registered for it, compared exactly (RFC 9700 §2.1).
            let Some(client) = client else {
                return page::bad_request(
                    HEADING,
                    "The request asks to return to an address but does not say which application it comes from.",
                );
            };
            if !client.post_logout_redirect_uris.iter().any(|r| r == uri) {
                return page::bad_request(
                    HEADING,
                    "The address the application asked to return to after signing out is not registered for it.",
                );
            }
            Some(match params.get("state") {
                Some(s) => params::append_query(uri, &[("state", s)]),
                None => uri.to_owned(),
            })
        }
    };
    // §2: a valid hint for the current session proves the request is about this
    // session; without it, the page asks the user to confirm (logout CSRF).
    let session = match req.cookie(session_cookie_name(state.settings.secure_cookies)) {
        Some(c) if !c.value().is_empty() => match state.deps.sessions.get(c.value()).await {
            Ok(s) => s,
            Err(e) => return internal_error("reading the SSO session failed", &e),
        },
        _ => None,
    };
    let confirmed = match (&hint, &session) {
        (Some(h), Some(s)) => {
            h.sid.as_deref() == Some(s.sid.as_str()) && h.sub == s.user_id.to_string()
        }
        _ => false,
    };
    // Issue 10, defect 4: every call parks a logout request for minutes, with a
    // session or without, so it costs a token of the address's pending budget,
    // as parking a sign-in does.
    if let Err(refused) =
        budget::spend(&state.deps.budget, &budget::origin(&req), "sign-outs").await
    {
        return refused;
    }
    let request = LogoutRequest {
        client_name: client.map(|c| c.name.clone()),
        redirect_after,
        confirmed,
        sid: session.filter(|_| confirmed).map(|s| s.sid),
    };
    match state.deps.interactions.start_logout(&request).await {
        Ok(t) => HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!("/logout?t={}", params::encode(&t)),
            ))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish(),
        Err(e) => internal_error("starting a logout failed", &e),
    }
}

/// The client the request comes from: `client_id`, or the hint's audience; when
/// both are given they must agree (§2: "the OP MUST verify that [client_id]
/// matches the one used to register the ID Token").
fn requesting_client<'a>(
    state: &'a OidcState,
    client_id: Option<&str>,
    hint: Option<&HintClaims>,
) -> Result<Option<&'a Client>, &'static str> {
    match (client_id, hint) {
        (Some(id), hint) => {
            let client = state
                .client(id)
                .ok_or("The application that sent you here is not registered.")?;
            if hint.is_some_and(|h| !h.aud.iter().any(|a| a == id)) {
                return Err(
                    "The sign-out request names one application but carries another application's id_token.",
                );
            }
            Ok(Some(client))
        }
        (None, Some(h)) => match h.aud.as_slice() {
            [one] => Ok(state.client(one)),
            // Several audiences: only client_id can say which one asks.
            _ => Ok(None),
        },
        (None, None) => Ok(None),
    }
}
