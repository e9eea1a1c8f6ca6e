//! The authorization endpoint (OIDC Core §3.1.2; RFC 6749 §4.1), GET and POST,
//! and its resume step.
//!
//! A request is validated ([`request`]), then decided: with a fresh enough SSO
//! session, the consent it needs and an active user, a code is issued and the
//! browser goes back to the client at once. Otherwise the validated request is
//! parked in the ephemeral store (`authz:{id}`, 15 minutes), the browser goes to
//! `/login` or `/consent` (pages of `usher-web`), and comes back to
//! `/oidc/authorize/resume?id=...`, which takes the parked request (single use)
//! and decides again. Parking (for the login or the consent page, session or
//! not) first takes a token from the per-address pending budget
//! (`crate::budget`): an address that started too many sign-ins gets a 429 page,
//! never a redirect. Issuing a code at once parks no request and is not charged.

pub(crate) mod hint;
pub(crate) mod page;
pub(crate) mod params;
pub(crate) mod request;

use std::sync::{Arc, OnceLock};

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use usher_core::ports::Admission;
use usher_core::{
    ConsentDecision, ConsentRequest, INTERACTION_TTL, LoginRequest, Participant, RequestOrigin,
    SignIn, SsoSession, random, session_cookie_name, stash,
};

use crate::budget;
use crate::client::Client;
use crate::grant::{self, AuthorizationCode};
use crate::state::OidcState;
use params::Params;
use request::{PendingAuthorization, Reauth, RedirectError, Refusal};

/// Where the pages send the browser back.
pub(crate) const RESUME_PATH: &str = "/oidc/authorize/resume";

type StateData = web::Data<OnceLock<Arc<OidcState>>>;

/// The OP's state; `None` while the backends are not open yet.
pub(crate) fn state_of(data: &StateData) -> Option<Arc<OidcState>> {
    data.get().cloned()
}

/// The 503 page answered until the state is set.
pub(crate) fn not_ready() -> HttpResponse {
    page::error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Not ready yet",
        "The sign-in service is starting.",
    )
}

/// A 500 page for a failure of the store or the system (logged, never detailed).
pub(crate) fn internal_error(what: &str, error: &usher_core::Error) -> HttpResponse {
    tracing::error!(%error, "{what}");
    page::error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The sign-in service could not complete the request.",
    )
}

fn pending_key(id: &str) -> String {
    format!("authz:{id}")
}

/// `GET /oidc/authorize`.
pub(crate) async fn authorize_get(req: HttpRequest, data: StateData) -> HttpResponse {
    authorize(req, None, data).await
}

/// `POST /oidc/authorize` (form-encoded, OIDC Core §3.1.2.1).
pub(crate) async fn authorize_post(
    req: HttpRequest,
    body: web::Payload,
    data: StateData,
) -> HttpResponse {
    authorize(req, Some(body), data).await
}

async fn authorize(req: HttpRequest, body: Option<web::Payload>, data: StateData) -> HttpResponse {
    let Some(state) = state_of(&data) else {
        return not_ready();
    };
    let params = match Params::from_request(&req, body).await {
        Ok(p) => p,
        Err(e) => return page::error_page(e.status(), "Invalid sign-in request", e.describe()),
    };
    let now = state.deps.clock.now().unix_timestamp();
    let mut pending = match request::validate(&state, &params, now) {
        Ok(p) => p,
        Err(refusal) => return refuse(&state, refusal),
    };
    let session = match current_session(&state, &req).await {
        Ok(s) => s,
        Err(e) => return internal_error("reading the SSO session failed", &e),
    };
    if let Some(hint) = params.get("id_token_hint") {
        match hint::verify_hint(&state, hint).await {
            Ok(Some(claims)) => pending.hint_sub = Some(claims.sub),
            Ok(None) => {
                return redirect_error(
                    &state,
                    &pending,
                    "invalid_request",
                    "id_token_hint is not a valid id_token of this issuer",
                );
            }
            Err(e) => return internal_error("checking an id_token_hint failed", &e),
        }
    }
    decide(&state, pending, session, &budget::origin(&req)).await
}

/// `GET /oidc/authorize/resume?id=...`: back from the login or consent page.
pub(crate) async fn resume(req: HttpRequest, data: StateData) -> HttpResponse {
    let Some(state) = state_of(&data) else {
        return not_ready();
    };
    let params = match Params::from_request(&req, None).await {
        Ok(p) => p,
        Err(e) => return page::error_page(e.status(), "Invalid sign-in request", e.describe()),
    };
    let Some(id) = params.get("id").filter(|_| !params.is_duplicated("id")) else {
        return page::bad_request("Invalid sign-in request", "The sign-in request is missing.");
    };
    // Single use: a replayed or bookmarked resume URL finds nothing.
    let pending =
        match stash::take::<PendingAuthorization>(&*state.deps.ephemeral, &pending_key(id)).await {
            Ok(Some(p)) => p,
            Ok(None) => {
                return page::bad_request(
                    "Sign-in request expired",
                    "This sign-in request has expired or was already used.",
                );
            }
            Err(e) => return internal_error("reading a pending authorization failed", &e),
        };
    let session = match current_session(&state, &req).await {
        Ok(s) => s,
        Err(e) => return internal_error("reading the SSO session failed", &e),
    };
    decide(&state, pending, session, &budget::origin(&req)).await
}

/// The live SSO session named by the request's cookie.
async fn current_session(
    state: &OidcState,
    req: &HttpRequest,
) -> usher_core::Result<Option<SsoSession>> {
    match req.cookie(session_cookie_name(state.settings.secure_cookies)) {
        Some(cookie) if !cookie.value().is_empty() => state.deps.sessions.get(cookie.value()).await,
        _ => Ok(None),
    }
}

/// Whether the session is not good enough and the user must sign in (again).
fn needs_login(pending: &PendingAuthorization, session: &SsoSession, now: i64) -> bool {
    let auth_time = session.auth_time.unix_timestamp();
    if let Some(reauth) = &pending.reauth {
        // Back from a sign-in we asked for: only a session newer than the request
        // will do (prompt=login, max_age), not the one that was judged too old.
        return pending.reauth_required()
            && (reauth.stale_sid.as_deref() == Some(session.sid.as_str())
                || auth_time < reauth.since);
    }
    // usher has no account chooser: select_account shows the sign-in form, where
    // the user can sign in as someone else.
    if pending.prompt.login || pending.prompt.select_account {
        return true;
    }
    // OIDC Core §3.1.2.1: re-authenticate when more than max_age seconds passed;
    // max_age=0 always does (a whole second is the clock's resolution).
    if let Some(max_age) = pending.max_age
        && (max_age == 0
            || now.saturating_sub(auth_time) > i64::try_from(max_age).unwrap_or(i64::MAX))
    {
        return true;
    }
    false
}

impl PendingAuthorization {
    /// Whether this request asked for an authentication newer than itself.
    fn reauth_required(&self) -> bool {
        self.prompt.login || self.prompt.select_account || self.max_age.is_some() || {
            // A session there at the time was set aside (max_age, hint mismatch):
            // the user must come back with another one.
            self.reauth.as_ref().is_some_and(|r| r.stale_sid.is_some())
        }
    }
}

/// Decides a validated request: sign-in, consent, or a code. `origin` is where
/// the request came from, for the pending budget.
async fn decide(
    state: &OidcState,
    mut pending: PendingAuthorization,
    session: Option<SsoSession>,
    origin: &RequestOrigin,
) -> HttpResponse {
    let Some(client) = state.client(&pending.client_id) else {
        return page::bad_request(
            "Unknown application",
            "The application that sent you here is no longer registered.",
        );
    };
    let now = state.deps.clock.now().unix_timestamp();
    // A hint naming someone else than the session's user (OIDC Core §3.1.2.1
    // id_token_hint): with prompt=none the answer is login_required; otherwise the
    // user signs in as whom they mean.
    if let (Some(sub), Some(s)) = (&pending.hint_sub, &session)
        && pending.reauth.is_none()
        && *sub != s.user_id.to_string()
    {
        if pending.prompt.none {
            return redirect_error(
                state,
                &pending,
                "login_required",
                "the session belongs to another user than id_token_hint",
            );
        }
        return to_login(state, client, pending, session.as_ref(), now, origin).await;
    }
    let session = match session {
        Some(s) if !needs_login(&pending, &s, now) => s,
        stale => {
            if pending.prompt.none {
                return redirect_error(state, &pending, "login_required", "the user must sign in");
            }
            return to_login(state, client, pending, stale.as_ref(), now, origin).await;
        }
    };
    // A deactivated (or deleted) user gets nothing, whatever their session says.
    let user = match state.deps.directory.get_user(session.user_id).await {
        Ok(user) if user.active => user,
        Ok(_) | Err(usher_core::Error::NotFound { .. }) => {
            return redirect_error(state, &pending, "access_denied", "the account is disabled");
        }
        Err(e) => return internal_error("reading the user failed", &e),
    };
    // The app's assignment, before consent is asked or a code issued. A refusal
    // is a page, never an error redirected to the client: neither the user nor
    // the app can fix it there (docs/oidc.md), and prompt=none gets it too.
    let sign_in = SignIn::Oidc {
        client_id: client.client_id.clone(),
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
    let user_id = session.user_id.to_string();
    if let Some(ticket) = pending.consent_ticket.take() {
        let for_this_user = pending.consent_user.as_deref() == Some(user_id.as_str());
        match state.deps.interactions.take_decision(&ticket).await {
            Ok(Some(ConsentDecision::Approved)) if for_this_user => pending.consented = true,
            Ok(Some(ConsentDecision::Denied)) if for_this_user => {
                return redirect_error(state, &pending, "access_denied", "the user declined");
            }
            // No decision (the page was skipped) or another user's: ask again.
            Ok(_) => {}
            Err(e) => return internal_error("reading a consent decision failed", &e),
        }
    }
    if !pending.consented && !client.first_party {
        let granted = match state
            .deps
            .interactions
            .granted(session.user_id, &client.client_id)
            .await
        {
            Ok(g) => g,
            Err(e) => return internal_error("reading granted scopes failed", &e),
        };
        let covered = pending.scopes.iter().all(|s| granted.contains(s));
        if pending.prompt.consent || !covered {
            if pending.prompt.none {
                return redirect_error(
                    state,
                    &pending,
                    "consent_required",
                    "the user has not consented to these scopes",
                );
            }
            return to_consent(state, client, pending, &session, origin).await;
        }
    }
    issue(state, &pending, &session).await
}

/// Parks the request and sends the browser to the login page.
async fn to_login(
    state: &OidcState,
    client: &Client,
    mut pending: PendingAuthorization,
    session: Option<&SsoSession>,
    now: i64,
    origin: &RequestOrigin,
) -> HttpResponse {
    // Issue 10, defect 4: anyone can make usher park a request and a login
    // ticket for 15 minutes, so the browser pays for them from its address's
    // budget first, with a session too: prompt=login, max_age or a hint naming
    // someone else park the same, and any account holder could loop them. The
    // client and redirect_uri are validated by now, but the refusal is still a
    // page: it is the person's network that must wait, not the app's request
    // that is wrong (docs/oidc.md).
    if let Err(refused) = budget::spend(&state.deps.budget, origin, "sign-ins").await {
        return refused;
    }
    let force_login = session.is_some();
    pending.reauth = Some(Reauth {
        since: now,
        stale_sid: session.map(|s| s.sid.clone()),
    });
    let id = match park(state, &pending).await {
        Ok(id) => id,
        Err(e) => return internal_error("parking an authorization request failed", &e),
    };
    let login = LoginRequest {
        resume_url: format!("{RESUME_PATH}?id={id}"),
        client_name: Some(client.name.clone()),
        force_login,
        login_hint: pending.login_hint.clone(),
        upstream_hint: pending.upstream_hint.clone(),
        allowed_upstreams: client.allowed_upstreams.clone(),
    };
    match state.deps.interactions.start_login(&login).await {
        Ok(t) => see_other(&format!("/login?t={}", params::encode(&t))),
        Err(e) => internal_error("starting a login failed", &e),
    }
}

/// Parks the request and sends the browser to the consent page.
async fn to_consent(
    state: &OidcState,
    client: &Client,
    mut pending: PendingAuthorization,
    session: &SsoSession,
    origin: &RequestOrigin,
) -> HttpResponse {
    // Issue 10, defect 4: the consent ticket and the request are parked for
    // minutes, and prompt=consent asks for them at will; the address pays first.
    if let Err(refused) = budget::spend(&state.deps.budget, origin, "sign-ins").await {
        return refused;
    }
    let id = match random::token() {
        Ok(id) => id,
        Err(e) => return internal_error("the random source failed", &e),
    };
    let consent = ConsentRequest {
        resume_url: format!("{RESUME_PATH}?id={id}"),
        client_id: client.client_id.clone(),
        client_name: client.name.clone(),
        scopes: pending.scopes.clone(),
        user_id: session.user_id,
    };
    let ticket = match state.deps.interactions.start_consent(&consent).await {
        Ok(t) => t,
        Err(e) => return internal_error("starting a consent failed", &e),
    };
    pending.consent_ticket = Some(ticket.clone());
    pending.consent_user = Some(session.user_id.to_string());
    if let Err(e) = stash::put(
        &*state.deps.ephemeral,
        &pending_key(&id),
        &pending,
        INTERACTION_TTL,
    )
    .await
    {
        return internal_error("parking an authorization request failed", &e);
    }
    see_other(&format!("/consent?t={}", params::encode(&ticket)))
}

/// Stores the request under a fresh id (every resume URL is single use).
async fn park(state: &OidcState, pending: &PendingAuthorization) -> usher_core::Result<String> {
    let id = random::token()?;
    stash::put(
        &*state.deps.ephemeral,
        &pending_key(&id),
        pending,
        INTERACTION_TTL,
    )
    .await?;
    Ok(id)
}

/// Issues the code and sends the browser back to the client (RFC 6749 §4.1.2,
/// with `iss` per RFC 9207).
async fn issue(
    state: &OidcState,
    pending: &PendingAuthorization,
    session: &SsoSession,
) -> HttpResponse {
    let participant = Participant::Oidc {
        client_id: pending.client_id.clone(),
    };
    if let Err(e) = state.deps.sessions.join(session, &participant).await {
        return internal_error("recording the session's participant failed", &e);
    }
    let record = AuthorizationCode {
        client_id: pending.client_id.clone(),
        redirect_uri: pending.redirect_uri.clone(),
        user_id: session.user_id,
        sid: session.sid.clone(),
        scopes: pending.scopes.clone(),
        nonce: pending.nonce.clone(),
        code_challenge: pending.code_challenge.clone(),
        auth_time: session.auth_time.unix_timestamp(),
        amr: session.amr.clone(),
        acr: session.acr.clone(),
    };
    let code = match grant::issue_code(state, &record).await {
        Ok(c) => c,
        Err(e) => return internal_error("issuing a code failed", &e),
    };
    let mut pairs = vec![("code", code.as_str())];
    if let Some(s) = &pending.state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", &state.settings.issuer));
    found(&params::append_query(&pending.redirect_uri, &pairs))
}

fn refuse(state: &OidcState, refusal: Refusal) -> HttpResponse {
    match refusal {
        Refusal::Page { detail } => page::bad_request("Invalid sign-in request", &detail),
        Refusal::Redirect(e) => send_error(state, &e),
    }
}

fn redirect_error(
    state: &OidcState,
    pending: &PendingAuthorization,
    error: &'static str,
    description: &str,
) -> HttpResponse {
    send_error(
        state,
        &RedirectError {
            redirect_uri: pending.redirect_uri.clone(),
            state: pending.state.clone(),
            error,
            description: description.to_owned(),
        },
    )
}

/// An error response by redirect (RFC 6749 §4.1.2.1), with `iss` (RFC 9207 §2).
fn send_error(state: &OidcState, e: &RedirectError) -> HttpResponse {
    let mut pairs = vec![
        ("error", e.error),
        ("error_description", e.description.as_str()),
    ];
    if let Some(s) = &e.state {
        pairs.push(("state", s));
    }
    pairs.push(("iss", &state.settings.issuer));
    found(&params::append_query(&e.redirect_uri, &pairs))
}

fn found(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}
