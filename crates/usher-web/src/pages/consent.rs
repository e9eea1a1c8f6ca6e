//! `/consent`: may this app have these scopes?

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::json;
use usher_core::{ConsentDecision, ConsentRequest, SsoSession};

use super::{checked_resume, continue_to, csrf_refused};
use crate::context::{Ctx, plausible_id};
use crate::csrf;
use crate::render::{PageError, page, see_other};

#[derive(Deserialize)]
pub(crate) struct ConsentQuery {
    t: String,
}

#[derive(Deserialize)]
pub(crate) struct ConsentForm {
    csrf: String,
    t: String,
    decision: String,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    title: &'a str,
    client_name: &'a str,
    scopes: Vec<String>,
    user_name: &'a str,
    csrf: &'a str,
    t: &'a str,
}

/// What a scope lets the app do, in words a person understands.
pub(crate) fn describe(scope: &str) -> String {
    match scope {
        "openid" => "Sign you in".to_owned(),
        "profile" => "Your name and username".to_owned(),
        "email" => "Your email address".to_owned(),
        "groups" => "The groups you belong to".to_owned(),
        "offline_access" => "Stay signed in to the app when you are away".to_owned(),
        other => format!("The “{other}” permission"),
    }
}

/// The parked request named by `t`, for the browser's signed-in user only: a
/// consent is the user's own decision, never another session's (a link passed to
/// someone else must not grant anything in their name, nor show them the request).
async fn parked_for_session(
    ctx: &Ctx,
    req: &HttpRequest,
    t: &str,
) -> Result<(ConsentRequest, SsoSession), PageError> {
    if !plausible_id(t) {
        return Err(ctx.expired("consent"));
    }
    let request = ctx
        .state
        .deps
        .interactions
        .consent(t)
        .await
        .map_err(|e| ctx.core(e))?
        .ok_or_else(|| ctx.expired("consent"))?;
    checked_resume(ctx, &request.resume_url)?;
    let session = ctx.session(req).await?.map(|(_, s)| s);
    match session {
        Some(session) if session.user_id == request.user_id => Ok((request, session)),
        _ => Err(ctx.fail(
            StatusCode::FORBIDDEN,
            "This request is for another account",
            "The app asked for the consent of a different user than the one signed in \
             here. Go back to the app and start again.",
        )),
    }
}

/// `GET /consent?t=ID`.
pub(crate) async fn show(
    ctx: Ctx,
    req: HttpRequest,
    query: web::Query<ConsentQuery>,
) -> Result<HttpResponse, PageError> {
    let (request, session) = parked_for_session(&ctx, &req, &query.t).await?;
    let user = ctx
        .state
        .deps
        .directory
        .get_user(session.user_id)
        .await
        .map_err(|e| ctx.core(e))?;
    let (token, cookie) = csrf::token(&req, &ctx.state.settings).map_err(|e| ctx.core(e))?;
    let mut response = page(
        StatusCode::OK,
        &ConsentPage {
            title: "Allow access",
            client_name: &request.client_name,
            scopes: request.scopes.iter().map(|s| describe(s)).collect(),
            user_name: user.display_name.as_deref().unwrap_or(&user.username),
            csrf: &token,
            t: &query.t,
        },
    );
    crate::cookies::add(&mut response, cookie);
    Ok(response)
}

/// `POST /consent`.
pub(crate) async fn submit(
    ctx: Ctx,
    req: HttpRequest,
    form: web::Form<ConsentForm>,
) -> Result<HttpResponse, PageError> {
    if !csrf::verify(&req, &ctx.state.settings, &form.csrf) {
        return Err(csrf_refused(&ctx));
    }
    let decision = match form.decision.as_str() {
        "allow" => ConsentDecision::Approved,
        "deny" => ConsentDecision::Denied,
        _ => {
            return Err(ctx.fail(
                StatusCode::BAD_REQUEST,
                "This form was not filled in correctly",
                "Go back, reload the page and choose Allow or Deny.",
            ));
        }
    };
    let (request, session) = parked_for_session(&ctx, &req, &form.t).await?;
    ctx.state
        .deps
        .interactions
        .decide(&form.t, &request, decision)
        .await
        .map_err(|e| ctx.core(e))?;
    let action = match decision {
        ConsentDecision::Approved => "consent.approve",
        ConsentDecision::Denied => "consent.deny",
    };
    let details = json!({ "client_id": request.client_id, "scopes": request.scopes });
    ctx.audit(
        format!("user:{}", session.user_id),
        action,
        Some(request.client_id.clone()),
        details,
    )
    .await;
    Ok(see_other(&continue_to(&request.resume_url)))
}
