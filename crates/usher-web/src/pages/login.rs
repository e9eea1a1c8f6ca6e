//! `/login`: username or email plus password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::json;
use usher_core::{LoginRequest, User, normalize_email};

use super::{checked_resume, continue_to, csrf_refused, logout, realm};
use crate::client_ip::{bucket, client_ip};
use crate::context::{Ctx, plausible_id};
use crate::render::{PageError, page, see_other};
use crate::throttle::{Lockout, Scope, Throttle};
use crate::{cookies, csrf};

/// The one message for every failure: never say whether the account exists, is
/// deactivated or has no password (account enumeration, OWASP ASVS V2.2).
const WRONG: &str = "Wrong username or password.";

/// Longest login name looked up (an email address is at most 320 characters).
const MAX_LOGIN_LEN: usize = 320;

#[derive(Deserialize)]
pub(crate) struct LoginQuery {
    t: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    csrf: String,
    t: Option<String>,
    username: String,
    password: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    title: &'a str,
    client_name: Option<&'a str>,
    error: Option<&'a str>,
    csrf: &'a str,
    t: Option<&'a str>,
    username: &'a str,
    /// Upstream buttons: (label, start URL).
    upstreams: &'a [(String, String)],
    /// Show the "sign in with your organisation" (home-realm discovery) form.
    discovery: bool,
}

/// The parked request named by `t`, checked.
async fn parked(ctx: &Ctx, t: &str) -> Result<LoginRequest, PageError> {
    if !plausible_id(t) {
        return Err(ctx.expired("sign-in"));
    }
    let request = ctx
        .state
        .deps
        .interactions
        .login(t)
        .await
        .map_err(|e| ctx.core(e))?
        .ok_or_else(|| ctx.expired("sign-in"))?;
    checked_resume(ctx, &request.resume_url)?;
    Ok(request)
}

async fn parked_opt(ctx: &Ctx, t: Option<&str>) -> Result<Option<LoginRequest>, PageError> {
    match t {
        Some(t) => parked(ctx, t).await.map(Some),
        None => Ok(None),
    }
}

fn form(
    ctx: &Ctx,
    req: &HttpRequest,
    request: Option<&LoginRequest>,
    t: Option<&str>,
    username: &str,
    error: Option<&str>,
) -> Result<HttpResponse, PageError> {
    let (token, cookie) = csrf::token(req, &ctx.state.settings).map_err(|e| ctx.core(e))?;
    let offered = realm::offered(ctx, request);
    let buttons: Vec<(String, String)> = offered
        .iter()
        .map(|u| (u.display_name.clone(), u.start_url(t)))
        .collect();
    let mut response = page(
        StatusCode::OK,
        &LoginPage {
            title: "Sign in",
            client_name: request.and_then(|r| r.client_name.as_deref()),
            error,
            csrf: &token,
            t,
            username,
            upstreams: &buttons,
            discovery: offered.iter().any(|u| !u.domains.is_empty()),
        },
    );
    cookies::add(&mut response, cookie);
    Ok(response)
}

/// `GET /login[?t=ID]`: the form, or straight back when already signed in.
pub(crate) async fn show(
    ctx: Ctx,
    req: HttpRequest,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, PageError> {
    let t = query.t.as_deref();
    let request = parked_opt(&ctx, t).await?;
    let force = request.as_ref().is_some_and(|r| r.force_login);
    if !force && ctx.session(&req).await?.is_some() {
        // SSO: a live session answers without asking again.
        if let Some(t) = t {
            ctx.state
                .deps
                .interactions
                .finish_login(t)
                .await
                .map_err(|e| ctx.core(e))?;
        }
        return Ok(see_other(
            request.as_ref().map_or("/", |r| r.resume_url.as_str()),
        ));
    }
    // kc_idp_hint / domain_hint, then home-realm discovery on the login_hint's
    // domain: straight to the upstream, as Keycloak and Entra ID do.
    if let Some(up) = realm::hinted(&ctx, request.as_ref()) {
        return Ok(see_other(&up.start_url(t)));
    }
    let hint = request
        .as_ref()
        .and_then(|r| r.login_hint.as_deref())
        .unwrap_or("");
    form(&ctx, &req, request.as_ref(), t, hint, None)
}

#[derive(Deserialize)]
pub(crate) struct DiscoverForm {
    csrf: String,
    t: Option<String>,
    email: String,
}

/// `POST /login/discover`: home-realm discovery. The email's domain picks the
/// upstream that claims it; other domains get the login page back with the other
/// options and a word on why.
pub(crate) async fn discover(
    ctx: Ctx,
    req: HttpRequest,
    form_data: web::Form<DiscoverForm>,
) -> Result<HttpResponse, PageError> {
    let input = form_data.into_inner();
    if !csrf::verify(&req, &ctx.state.settings, &input.csrf) {
        return Err(csrf_refused(&ctx));
    }
    let t = input.t.as_deref();
    let request = parked_opt(&ctx, t).await?;
    let email = input.email.trim();
    if email.len() <= MAX_LOGIN_LEN
        && let Some(up) = realm::for_email(&ctx, request.as_ref(), email)
    {
        // Through /continue: the upstream is another origin, and browsers check
        // redirects after a form POST against `form-action`.
        return Ok(see_other(&continue_to(&up.start_url(t))));
    }
    let shown = if email.len() <= MAX_LOGIN_LEN {
        email
    } else {
        ""
    };
    let domain = shown.rsplit_once('@').map_or("", |(_, d)| d);
    let message = if domain.is_empty() {
        "Type your work email address (name@company.example) to find your organisation's sign-in."
            .to_owned()
    } else {
        format!(
            "No organisation sign-in is set up for {domain}. Sign in with your username and \
             password, or choose one of the options below."
        )
    };
    form(&ctx, &req, request.as_ref(), t, shown, Some(&message))
}

/// `POST /login`.
pub(crate) async fn submit(
    ctx: Ctx,
    req: HttpRequest,
    form_data: web::Form<LoginForm>,
) -> Result<HttpResponse, PageError> {
    let input = form_data.into_inner();
    if !csrf::verify(&req, &ctx.state.settings, &input.csrf) {
        return Err(csrf_refused(&ctx));
    }
    let t = input.t.as_deref();
    let request = parked_opt(&ctx, t).await?;
    let deps = &ctx.state.deps;
    let ip = client_ip(&req, &ctx.state.settings.trusted_proxies);
    let ip_text = ip.map(|ip| ip.to_string());
    let login = input.username.trim();
    let core = |e| ctx.core(e);

    // The account-wide ceiling counts per account: the username and every email
    // address of one account share it (else each alias adds guesses); unknown
    // names count by name. The per-address limit counts per name typed, so that
    // aliases and unknown names lock alike (throttle.rs: no enumeration oracle).
    let user = find_user(&ctx, login).await?;
    let account = user
        .as_ref()
        .map_or_else(|| login.to_owned(), |u| format!("user-id:{}", u.id));
    // Throttle before any verification: a locked account or address costs the
    // attacker a 429, not an argon2 computation of ours. The 429 does not depend
    // on the password, and unknown names lock alike, so skipping the hash leaks
    // neither the password nor whether the account exists (throttle.rs).
    // The account is throttled per client address first, so that failures from
    // an attacker's address do not lock its owner out (lockout as denial of service).
    let throttle = Throttle::new(
        &*deps.ephemeral,
        ctx.state.settings.throttle,
        deps.clock.now(),
        login,
        &account,
        &bucket(ip),
    );
    let attempt = match throttle.locked().await.map_err(core)? {
        Some(lockout) => Err(lockout),
        None => throttle.reserve().await.map_err(core)?,
    };
    let attempt = match attempt {
        Ok(n) => n,
        Err(lockout) => {
            let details = json!({ "reason": "throttled", "ip": ip_text });
            ctx.audit("anonymous".into(), "login.failure", None, details)
                .await;
            return Err(throttled(&ctx, lockout));
        }
    };

    let hash = match &user {
        Some(u) => deps.credentials.password_hash(u.id).await.map_err(core)?,
        None => None,
    };
    let matches = match &hash {
        Some(phc) => deps
            .hasher
            .verify(phc, &input.password)
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "a stored password hash cannot be used");
                false
            }),
        None => {
            // No account or no password: spend the same time anyway (timing-based
            // account enumeration).
            deps.hasher.verify_dummy(&input.password).await;
            false
        }
    };
    let failure = match (&user, &hash) {
        (None, _) => Some("unknown_user"),
        (Some(u), _) if !u.active => Some("inactive"),
        (Some(_), None) => Some("no_password"),
        (Some(_), Some(_)) if !matches => Some("wrong_password"),
        _ => None,
    };
    // Whoever failed is not known to be the user: the account is the target.
    let target = user.as_ref().map(|u| u.id.to_string());
    let (Some(user), None) = (user, failure) else {
        throttle.failed(attempt).await.map_err(core)?;
        // The name typed is not recorded: people type passwords into it by mistake.
        let details = json!({ "reason": failure, "ip": ip_text });
        ctx.audit("anonymous".into(), "login.failure", target, details)
            .await;
        return form(&ctx, &req, request.as_ref(), t, login, Some(WRONG));
    };
    succeed(&ctx, &req, &throttle, &user, request.as_ref(), t, ip_text).await
}

async fn succeed(
    ctx: &Ctx,
    req: &HttpRequest,
    throttle: &Throttle<'_>,
    user: &User,
    request: Option<&LoginRequest>,
    t: Option<&str>,
    ip: Option<String>,
) -> Result<HttpResponse, PageError> {
    let deps = &ctx.state.deps;
    let core = |e| ctx.core(e);
    throttle.succeeded().await.map_err(core)?;
    // A new session id at every sign-in (session fixation, OWASP ASVS V3.2.1): the
    // browser's previous session, whoever it belonged to, ends first.
    if let Some(old) = ctx.session_secret(req) {
        logout::end_session(ctx, &old, "login").await?;
    }
    let (secret, session) = deps
        .sessions
        .create(user.id, vec!["pwd".into()], None)
        .await
        .map_err(core)?;
    let details = json!({ "ip": ip, "sid": session.sid });
    ctx.audit(
        format!("user:{}", user.id),
        "login.success",
        Some(user.id.to_string()),
        details,
    )
    .await;
    if let Some(t) = t {
        deps.interactions.finish_login(t).await.map_err(core)?;
    }
    let location = request.map_or_else(|| "/".to_owned(), |r| continue_to(&r.resume_url));
    let mut response = see_other(&location);
    cookies::add(
        &mut response,
        [cookies::session(secret, ctx.state.settings.secure_cookies)],
    );
    Ok(response)
}

/// The user a login name designates: a username, else an email address.
async fn find_user(ctx: &Ctx, login: &str) -> Result<Option<User>, PageError> {
    if login.is_empty() || login.len() > MAX_LOGIN_LEN {
        return Ok(None);
    }
    let directory = &ctx.state.deps.directory;
    if let Some(user) = directory
        .find_user_by_username(login)
        .await
        .map_err(|e| ctx.core(e))?
    {
        return Ok(Some(user));
    }
    if !login.contains('@') {
        return Ok(None);
    }
    directory
        .find_user_by_email(&normalize_email(login))
        .await
        .map_err(|e| ctx.core(e))
}

fn throttled(ctx: &Ctx, lockout: Lockout) -> PageError {
    let minutes = lockout.minutes();
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    let title = match lockout.scope {
        Scope::NameFromAddress => format!(
            "Too many failed sign-ins for this account from your network; try again in \
             {minutes} {unit}"
        ),
        Scope::Account => {
            format!("Too many failed sign-ins for this account; try again in {minutes} {unit}")
        }
        Scope::Address => {
            format!("Too many failed sign-ins from your network; try again in {minutes} {unit}")
        }
    };
    let mut error = ctx.fail(
        StatusCode::TOO_MANY_REQUESTS,
        &title,
        "To protect accounts from password guessing, usher pauses sign-in after several \
         failed attempts. If you forgot your password, ask your administrator to reset it.",
    );
    error.retry_after = Some(lockout.remaining.as_secs().max(1));
    error
}
