//! `/logout`: confirmation, sign-out and the signed-out page.
//!
//! # Where the browser goes afterwards, and the CSP
//!
//! `redirect_after` is usually on the app's origin, and browsers apply the form
//! page's `form-action` to the redirects following a submission. So the
//! confirmation page widens its `form-action` by exactly that origin, and the POST
//! answers 303 to it. When the origin cannot be written in a CSP source list (an
//! IPv6 literal), the POST answers the signed-out page with a "Continue to the app"
//! link instead: following a link is not a form submission, so nothing blocks it.
//! A confirmed request (the app proved the session with `id_token_hint`) signs out
//! on the GET itself, where a plain 303 is never subject to `form-action`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::json;
use usher_core::{ChainEnd, LogoutChain, LogoutRequest, Participant, SsoSession};

use super::{continue_to, csrf_refused};
use crate::context::{Ctx, plausible_id};
use crate::redirect::csp_origin;
use crate::render::{PageError, page, page_with, see_other};
use crate::{cookies, csrf};

const DONE: &str = "/logout/done";
/// usher-saml's front-channel logout propagation.
const PROPAGATE: &str = "/saml/slo/propagate";

#[derive(Deserialize)]
pub(crate) struct LogoutQuery {
    t: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct LogoutForm {
    csrf: String,
    t: Option<String>,
}

#[derive(Template)]
#[template(path = "logout.html")]
struct ConfirmPage<'a> {
    title: &'a str,
    client_name: Option<&'a str>,
    note: Option<&'a str>,
    csrf: &'a str,
    t: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOutPage<'a> {
    title: &'a str,
    client_name: Option<&'a str>,
    continue_url: Option<&'a str>,
}

/// Ends the browser's session named by `secret`, then tells every listener (in the
/// background: a slow app must not hold up the user). `reason` goes to the audit
/// log. Returns the session ended, with the apps that took part.
pub(crate) async fn end_session(
    ctx: &Ctx,
    secret: &str,
    reason: &str,
) -> Result<Option<(SsoSession, Vec<Participant>)>, PageError> {
    let deps = &ctx.state.deps;
    let core = |e| ctx.core(e);
    let Some(session) = deps.sessions.get(secret).await.map_err(core)? else {
        return Ok(None);
    };
    // Participants first: ending the session forgets who took part.
    let participants = deps.sessions.participants(&session).await.map_err(core)?;
    let Some(session) = deps.sessions.end(secret).await.map_err(core)? else {
        return Ok(None);
    };
    for listener in &deps.logout_listeners {
        let listener = listener.clone();
        let session = session.clone();
        let participants = participants.clone();
        actix_web::rt::spawn(async move {
            listener.session_ended(&session, &participants).await;
        });
    }
    let details =
        json!({ "sid": session.sid, "reason": reason, "participants": participants.len() });
    ctx.audit(
        format!("user:{}", session.user_id),
        "logout",
        Some(session.user_id.to_string()),
        details,
    )
    .await;
    Ok(Some((session, participants)))
}

/// `GET /logout[?t=ID]`: the confirmation, or the sign-out itself when the app
/// proved the session (OIDC RP-Initiated Logout 1.0 §2).
pub(crate) async fn show(
    ctx: Ctx,
    req: HttpRequest,
    query: web::Query<LogoutQuery>,
) -> Result<HttpResponse, PageError> {
    let interactions = &ctx.state.deps.interactions;
    let t = query.t.as_deref().filter(|t| plausible_id(t));
    let request = match t {
        Some(t) => interactions.logout(t).await.map_err(|e| ctx.core(e))?,
        None => None,
    };
    // The confirmation is skipped only in the browser whose session the app proved
    // (or one with no session, where there is nothing to end): a confirmed ticket
    // passed to someone else must not sign them out (logout CSRF).
    let current_sid = ctx.session(&req).await?.map(|(_, s)| s.sid);
    if let (Some(t), Some(request)) = (t, &request)
        && request.confirmed
        && current_sid.is_none_or(|sid| request.sid.as_deref() == Some(sid.as_str()))
    {
        let request = interactions.take_logout(t).await.map_err(|e| ctx.core(e))?;
        return sign_out(&ctx, &req, request.as_ref(), false).await;
    }
    let note = (query.t.is_some() && request.is_none())
        .then_some("The app's sign-out request has expired; you can still sign out of usher here.");
    let (token, cookie) = csrf::token(&req, &ctx.state.settings).map_err(|e| ctx.core(e))?;
    let origin = request
        .as_ref()
        .and_then(|r| r.redirect_after.as_deref())
        .and_then(csp_origin);
    let mut response = page_with(
        StatusCode::OK,
        &ConfirmPage {
            title: "Sign out",
            client_name: request.as_ref().and_then(|r| r.client_name.as_deref()),
            note,
            csrf: &token,
            t: request.as_ref().and(t),
        },
        origin.as_deref(),
    );
    cookies::add(&mut response, cookie);
    Ok(response)
}

/// `POST /logout`.
pub(crate) async fn submit(
    ctx: Ctx,
    req: HttpRequest,
    form: web::Form<LogoutForm>,
) -> Result<HttpResponse, PageError> {
    if !csrf::verify(&req, &ctx.state.settings, &form.csrf) {
        return Err(csrf_refused(&ctx));
    }
    // An expired request still signs the user out (they asked to), just without
    // the trip back to the app.
    let request = match form.t.as_deref().filter(|t| plausible_id(t)) {
        Some(t) => ctx
            .state
            .deps
            .interactions
            .take_logout(t)
            .await
            .map_err(|e| ctx.core(e))?,
        None => None,
    };
    sign_out(&ctx, &req, request.as_ref(), true).await
}

async fn sign_out(
    ctx: &Ctx,
    req: &HttpRequest,
    request: Option<&LogoutRequest>,
    after_form: bool,
) -> Result<HttpResponse, PageError> {
    let ended = match ctx.session_secret(req) {
        Some(secret) => end_session(ctx, &secret, "logout").await?,
        None => None,
    };
    let app_target = request.and_then(|r| r.redirect_after.as_deref());
    // Signed in through an upstream OP: its session ends too (RP-Initiated Logout),
    // after the SAML SPs, and it sends the browser back to `/logout/done`, which
    // goes on to the app.
    let upstream_hop = match &ended {
        Some((session, _)) => upstream_logout(ctx, session, request).await?,
        None => None,
    };
    let target = upstream_hop.as_deref().or(app_target);
    // SAML SPs are told through the browser (front-channel, SAML Profiles
    // §4.4.3.3): a chain of LogoutRequests run by usher-saml, which ends where the
    // browser would have gone.
    let saml: Vec<Participant> = ended
        .as_ref()
        .map(|(_, ps)| {
            ps.iter()
                .filter(|p| matches!(p, Participant::Saml { .. }))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let chain = match &ended {
        Some((session, _)) if !saml.is_empty() => {
            let chain = LogoutChain {
                remaining: saml,
                sid: session.sid.clone(),
                pending: None,
                then: ChainEnd::Redirect(target.unwrap_or(DONE).to_owned()),
            };
            let id = ctx
                .state
                .deps
                .interactions
                .start_logout_chain(&chain)
                .await
                .map_err(|e| ctx.core(e))?;
            Some(format!("{PROPAGATE}?t={id}"))
        }
        _ => None,
    };
    let mut response = match (chain, target) {
        // A path on usher (`/logout/upstream`) that redirects to the upstream.
        (None, Some(hop)) if upstream_hop.is_some() && after_form => see_other(&continue_to(hop)),
        (None, Some(hop)) if upstream_hop.is_some() => see_other(hop),
        // After a form, through `/continue`: the redirects to the SPs must not
        // follow the form submission, whose `form-action` would block them.
        (Some(chain), _) if after_form => see_other(&continue_to(&chain)),
        (Some(chain), _) => see_other(&chain),
        (None, target) => match target {
            // Already validated by the OP against the app's registration.
            Some(url) if !after_form || csp_origin(url).is_some() => see_other(url),
            Some(url) => page(
                StatusCode::OK,
                &SignedOutPage {
                    title: "Signed out",
                    client_name: request.and_then(|r| r.client_name.as_deref()),
                    continue_url: Some(url),
                },
            ),
            None => see_other(DONE),
        },
    };
    cookies::add(
        &mut response,
        [cookies::clear_session(ctx.state.settings.secure_cookies)],
    );
    Ok(response)
}

/// The `/logout/upstream?t=ID` hop that sends the browser to the upstream OP's
/// logout, when the ended session came through one that has an end_session
/// endpoint. The app's own destination is parked too, as the `state` the upstream
/// returns to `/logout/done`.
async fn upstream_logout(
    ctx: &Ctx,
    session: &usher_core::SsoSession,
    request: Option<&LogoutRequest>,
) -> Result<Option<String>, PageError> {
    let (Some((upstream, upstream_session)), Some(federation)) =
        (&session.upstream, &ctx.state.federation)
    else {
        return Ok(None);
    };
    let Some(logout) = &federation.upstream_logout else {
        return Ok(None);
    };
    let interactions = &ctx.state.deps.interactions;
    let back = match request.and_then(|r| r.redirect_after.clone()) {
        Some(url) => {
            let parked = LogoutRequest {
                client_name: request.and_then(|r| r.client_name.clone()),
                redirect_after: Some(url),
                confirmed: false,
                sid: None,
            };
            Some(
                interactions
                    .start_logout(&parked)
                    .await
                    .map_err(|e| ctx.core(e))?,
            )
        }
        None => None,
    };
    let then = format!(
        "{}{DONE}",
        ctx.state.settings.public_url.trim_end_matches('/')
    );
    let Some(url) = logout
        .logout_url(upstream, upstream_session, &then, back.as_deref())
        .await
    else {
        return Ok(None);
    };
    let hop = LogoutRequest {
        client_name: None,
        redirect_after: Some(url),
        confirmed: false,
        sid: None,
    };
    let id = interactions
        .start_logout(&hop)
        .await
        .map_err(|e| ctx.core(e))?;
    Ok(Some(format!("/logout/upstream?t={id}")))
}

/// `GET /logout/upstream?t=ID`: on to the upstream's logout (a navigation, not a
/// form submission, so no `form-action` applies).
pub(crate) async fn to_upstream(
    ctx: Ctx,
    query: web::Query<LogoutQuery>,
) -> Result<HttpResponse, PageError> {
    let hop = match query.t.as_deref().filter(|t| plausible_id(t)) {
        Some(t) => ctx
            .state
            .deps
            .interactions
            .take_logout(t)
            .await
            .map_err(|e| ctx.core(e))?,
        None => None,
    };
    match hop.and_then(|h| h.redirect_after) {
        Some(url) => Ok(see_other(&url)),
        None => Ok(see_other(DONE)),
    }
}

#[derive(Deserialize)]
pub(crate) struct DoneQuery {
    state: Option<String>,
}

/// `GET /logout/done[?state=ID]`: the signed-out page, or (back from an upstream's
/// logout) on to the app's post-logout URL parked under `state`.
pub(crate) async fn done(
    ctx: Ctx,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, PageError> {
    if let Some(state) = query.state.as_deref().filter(|t| plausible_id(t))
        && let Some(parked) = ctx
            .state
            .deps
            .interactions
            .take_logout(state)
            .await
            .map_err(|e| ctx.core(e))?
        && let Some(url) = parked.redirect_after
    {
        return Ok(see_other(&url));
    }
    Ok(page(
        StatusCode::OK,
        &SignedOutPage {
            title: "Signed out",
            client_name: None,
            continue_url: None,
        },
    ))
}
