//! `/login/federated?t=ID`: an upstream IdP has verified who the browser is (the
//! protocol crates parked a `FederatedLogin`); this page alone decides who that is
//! in usher. It applies the upstream's JIT policy (create, link, sync, or deny
//! with the reason in plain words), then signs the user in exactly as the password
//! form does: the browser's previous session ends first (session fixation), a new
//! session starts, the sign-in is audited, and the parked login request resumes.
//!
//! Only the browser that completed the upstream flow may redeem the hand-off
//! (`FederatedLogin::browser`, checked before anything is consumed): otherwise an
//! attacker could complete their own upstream sign-in, stop before this redirect,
//! and have a victim open the URL, signing the victim in as the attacker (login
//! CSRF; RFC 6749 §10.12). The binding names its cookie, so this page knows no
//! protocol's cookie names.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use usher_core::jit::Provisioned;
use usher_core::{FederatedLogin, LoginRequest, Redemption};

use super::{checked_resume, logout};
use crate::client_ip::client_ip;
use crate::context::{Ctx, plausible_id};
use crate::cookies;
use crate::render::{PageError, see_other};

#[derive(Deserialize)]
pub(crate) struct FederatedQuery {
    t: String,
}

/// `GET /login/federated?t=ID`.
pub(crate) async fn show(
    ctx: Ctx,
    req: HttpRequest,
    query: web::Query<FederatedQuery>,
) -> Result<HttpResponse, PageError> {
    let deps = &ctx.state.deps;
    let core = |e| ctx.core(e);
    if !plausible_id(&query.t) {
        return Err(ctx.expired("sign-in"));
    }
    let ip = client_ip(&req, &ctx.state.settings.trusted_proxies);
    let ip_text = ip.map(|ip| ip.to_string());
    // Taken once, and only by its own browser: reloading or replaying this URL
    // finds nothing; another browser finds it untouched.
    let redeemed = deps
        .interactions
        .redeem_federated(&query.t, |name| {
            req.cookie(name).map(|c| c.value().to_owned())
        })
        .await
        .map_err(core)?;
    let handoff: FederatedLogin = match redeemed {
        Redemption::Redeemed(handoff) => *handoff,
        Redemption::Missing => return Err(ctx.expired("sign-in")),
        Redemption::OtherBrowser { upstream } => {
            tracing::warn!(
                upstream = upstream.as_str(),
                ip = ip_text.as_deref(),
                "a federated sign-in link was opened in another browser than the one that \
                 signed in at the upstream (login CSRF?); refused"
            );
            let details = json!({
                "reason": "handoff_other_browser",
                "upstream": upstream.as_str(),
                "ip": ip_text,
            });
            ctx.audit("anonymous".into(), "login.failure", None, details)
                .await;
            return Err(ctx.fail(
                StatusCode::FORBIDDEN,
                "This sign-in link belongs to another browser",
                "It finishes a sign-in that was started in a different browser, so nobody has \
                 been signed in. If you were signing in, go back to the app and start again in \
                 this browser. If someone sent you this link, do not use it: it would have \
                 signed you in as them.",
            ));
        }
    };
    let identity = &handoff.identity;
    let Some(federation) = &ctx.state.federation else {
        return Err(unknown_upstream(&ctx));
    };
    let Some(profile) = federation.upstream(identity.upstream.as_str()) else {
        return Err(unknown_upstream(&ctx));
    };
    let name = profile.display_name.as_str();
    let request: Option<LoginRequest> = match &handoff.login {
        Some(t) => {
            let request = deps
                .interactions
                .login(t)
                .await
                .map_err(core)?
                .ok_or_else(|| ctx.expired("sign-in"))?;
            checked_resume(&ctx, &request.resume_url)?;
            Some(request)
        }
        None => None,
    };
    if let Some(allowed) = request.as_ref().and_then(|r| r.allowed_upstreams.as_ref())
        && !allowed.iter().any(|a| a == profile.id.as_str())
    {
        return Err(ctx.fail(
            StatusCode::FORBIDDEN,
            &format!("This app does not accept sign-ins through {name}"),
            "Go back to the app and choose another way to sign in.",
        ));
    }
    let outcome = federation
        .provisioner
        .run(&profile.jit, profile.enabled, identity, ip)
        .await
        .map_err(core)?;
    let (user, outcome) = match outcome {
        Provisioned::SignIn { user, outcome } => (user, outcome),
        Provisioned::Denied(denial) => {
            let details = json!({
                "reason": denial.code,
                "upstream": profile.id.as_str(),
                "ip": ip_text,
            });
            ctx.audit("anonymous".into(), "login.failure", None, details)
                .await;
            return Err(ctx.fail(
                StatusCode::FORBIDDEN,
                &format!("You cannot sign in through {name}"),
                &denial.message,
            ));
        }
    };

    // As the password form does: a new session at every sign-in (session
    // fixation, OWASP ASVS V3.2.1), the browser's previous one ended first.
    if let Some(old) = ctx.session_secret(&req) {
        logout::end_session(&ctx, &old, "login").await?;
    }
    // RFC 8176: `fed` (federated), plus what the upstream said it did.
    let mut amr = vec!["fed".to_owned()];
    for m in identity.authn_methods.iter().take(8) {
        if m.len() <= 32 && !amr.contains(m) {
            amr.push(m.clone());
        }
    }
    let upstream_session = identity
        .upstream_session
        .clone()
        .map(|s| (identity.upstream.clone(), s));
    let (secret, session) = deps
        .sessions
        .create_federated(user.id, amr, None, upstream_session)
        .await
        .map_err(core)?;
    let details = json!({
        "ip": ip_text,
        "sid": session.sid,
        "upstream": profile.id.as_str(),
        "jit": outcome.as_str(),
    });
    ctx.audit(
        format!("user:{}", user.id),
        "login.success",
        Some(user.id.to_string()),
        details,
    )
    .await;
    if let Some(t) = &handoff.login {
        deps.interactions.finish_login(t).await.map_err(core)?;
    }
    // A GET, not a form POST: the app's redirect may follow directly.
    let location = request.map_or_else(|| "/".to_owned(), |r| r.resume_url);
    let mut response = see_other(&location);
    cookies::add(
        &mut response,
        [cookies::session(secret, ctx.state.settings.secure_cookies)],
    );
    Ok(response)
}

fn unknown_upstream(ctx: &Ctx) -> PageError {
    ctx.fail(
        StatusCode::BAD_REQUEST,
        "This sign-in option is no longer available",
        "The identity provider you signed in with is not configured in usher any more. Go \
         back to the app and choose another way to sign in.",
    )
}
