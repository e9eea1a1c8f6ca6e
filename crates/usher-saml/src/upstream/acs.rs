//! `POST /federation/{id}/saml/acs`: the assertion consumer service (SAML
//! Profiles §4.1.4.5, HTTP-POST binding). Every refusal is a page naming the
//! upstream plus a log line with the detail; never a 500, and nothing is parked.
//! After [`super::verify`] and [`super::checks`]: the InResponseTo must name a
//! pending request of this browser (taken once), or the upstream must allow
//! IdP-initiated sign-in; then the assertion ID goes into the replay cache (a
//! store failure refuses the response: fail closed); then the identity is parked
//! for `/login/federated`, bound to the browser that posted here (its SP cookie;
//! one is set now if an IdP-initiated post arrives without it), so that the
//! hand-off URL opened in any other browser signs nobody in (login CSRF).

use actix_web::cookie::Cookie;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde_json::Value;
use usher_core::{
    BrowserBinding, ExternalIdentity, FederatedLogin, UpstreamKind, UpstreamSession, random,
};

use super::checks::{self, Checked};
use super::error::Rejection;
use super::page::refuse;
use super::pending;
use super::settings::SamlUpstream;
use super::state::{SamlSpData, SamlSpState};
use super::verify::{self, Verified};
use crate::inbound;

/// NameID format whose text is an email address (Core §8.3.2).
const EMAIL_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// `POST /federation/{id}/saml/acs`.
pub async fn acs(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
    data: SamlSpData,
) -> HttpResponse {
    let Some(state) = data.get().cloned() else {
        return super::page::not_ready();
    };
    let id = path.into_inner();
    let Some(upstream) = state.upstream(&id) else {
        return refuse(
            &id,
            None,
            &Rejection::UnknownUpstream,
            "no such SAML upstream",
        );
    };
    match consume(&state, &upstream, &req, body).await {
        Ok((location, cookie)) => {
            let mut response = HttpResponse::SeeOther();
            response
                .insert_header((header::LOCATION, location))
                .insert_header((header::CACHE_CONTROL, "no-store"));
            if let Some(cookie) = cookie {
                response.cookie(cookie);
            }
            response.finish()
        }
        Err((rejection, detail)) => refuse(&id, Some(&upstream), &rejection, &detail),
    }
}

type Refusal = (Rejection, String);

fn plain(r: Rejection) -> Refusal {
    let detail = r.to_string();
    (r, detail)
}

async fn read_body(mut body: web::Payload) -> Result<String, Refusal> {
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            (
                Rejection::Input("the body could not be read".into()),
                e.to_string(),
            )
        })?;
        if bytes.len() + chunk.len() > inbound::MAX_ENCODED {
            return Err(plain(Rejection::Input("the response is too large".into())));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| plain(Rejection::Input("the body is not UTF-8".into())))
}

async fn consume(
    state: &SamlSpState,
    upstream: &SamlUpstream,
    req: &HttpRequest,
    body: web::Payload,
) -> Result<(String, Option<Cookie<'static>>), Refusal> {
    // A disabled upstream accepts nothing, IdP-initiated included.
    if !upstream.enabled {
        return Err(plain(Rejection::Disabled));
    }
    let text = read_body(body).await?;
    let params =
        inbound::parse_params(&text).map_err(|e| plain(Rejection::Input(e.to_string())))?;
    if params.sig_alg.is_some() || params.signature.is_some() {
        return Err(plain(Rejection::Input(
            "SigAlg and Signature belong to the Redirect binding".into(),
        )));
    }
    let Some((value, _)) = &params.saml_response else {
        return Err(plain(Rejection::Input(
            "the SAMLResponse parameter is missing".into(),
        )));
    };
    let xml = inbound::post_message(value).map_err(|e| plain(Rejection::Input(e.to_string())))?;
    let verified = verify::verify_document(upstream, &xml).map_err(plain)?;
    let now = state.deps.clock.now();
    let checked = checks::check(upstream, &verified, now).map_err(plain)?;
    let bound = bind_to_browser(
        state,
        upstream,
        req,
        &checked,
        params.relay_state.as_ref().map(|(v, _)| v.as_str()),
    )
    .await?;
    // Replay: an assertion ID is accepted once, for as long as it could be
    // accepted at all. Fails closed.
    let replay_key = format!(
        "saml-sp-assertion:{}:{}",
        upstream.id,
        random::digest(&format!(
            "{}\n{}",
            upstream.idp_entity_id, verified.assertion.id
        ))
    );
    match state
        .deps
        .ephemeral
        .put_if_absent(&replay_key, b"1", checked.replay_ttl)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return Err((
                Rejection::Replayed,
                format!("assertion {} was already used", verified.assertion.id),
            ));
        }
        Err(e) => return Err((Rejection::Unavailable, format!("replay cache: {e}"))),
    }
    let identity = identity(upstream, &verified);
    tracing::info!(
        upstream = %upstream.id,
        subject = %identity.subject,
        assertion = %verified.assertion.id,
        solicited = checked.in_response_to.is_some(),
        "SAML upstream response accepted"
    );
    let browser = BrowserBinding::new(pending::cookie_name(state), &bound.browser)
        .map_err(|e| (Rejection::Unavailable, e.to_string()))?;
    let parked = FederatedLogin {
        identity,
        login: bound.login,
        browser,
    };
    let t = state
        .deps
        .interactions
        .start_federated(&parked)
        .await
        .map_err(|e| {
            (
                Rejection::Unavailable,
                format!("parking the federated login: {e}"),
            )
        })?;
    Ok((format!("/login/federated?t={t}"), bound.new_cookie))
}

/// The browser a response belongs to.
struct Bound {
    /// The parked login request it answers.
    login: Option<String>,
    /// The browser's SP cookie value.
    browser: String,
    /// The SP cookie to set, when an IdP-initiated post came without one.
    new_cookie: Option<Cookie<'static>>,
}

/// The InResponseTo must be a request this browser sent (taken once), and the
/// RelayState the one sent with it; without InResponseTo the upstream must
/// allow IdP-initiated sign-in. Returns the parked login request it answers and
/// the browser (its SP cookie) the hand-off is bound to.
async fn bind_to_browser(
    state: &SamlSpState,
    upstream: &SamlUpstream,
    req: &HttpRequest,
    checked: &Checked,
    relay_state: Option<&str>,
) -> Result<Bound, Refusal> {
    let Some(irt) = &checked.in_response_to else {
        if !upstream.allow_idp_initiated {
            return Err(plain(Rejection::Unsolicited));
        }
        // Anyone can post an unsolicited assertion here (that login CSRF is
        // inherent to IdP-initiated SSO, docs/federation.md); the hand-off URL at
        // least stays with the browser that posted it.
        let (browser, new_cookie) = pending::browser_or_new(state, req)
            .map_err(|e| (Rejection::Unavailable, format!("random: {e}")))?;
        // RelayState of an unsolicited response is ignored: never a redirect target.
        return Ok(Bound {
            login: None,
            browser,
            new_cookie,
        });
    };
    let Some(browser) = pending::browser(state, req) else {
        return Err((
            Rejection::InResponseTo,
            format!("InResponseTo {irt} but no SP cookie"),
        ));
    };
    let found = pending::take(state, upstream.id.as_str(), &browser, irt)
        .await
        .map_err(|e| (Rejection::Unavailable, format!("pending requests: {e}")))?;
    let Some(p) = found else {
        return Err((
            Rejection::InResponseTo,
            format!("InResponseTo {irt} names no pending request of this browser"),
        ));
    };
    if relay_state != Some(p.relay_state.as_str()) {
        return Err(plain(Rejection::RelayState));
    }
    Ok(Bound {
        login: p.login,
        browser,
        new_cookie: None,
    })
}

fn looks_like_email(s: &str) -> bool {
    let mut parts = s.split('@');
    matches!((parts.next(), parts.next(), parts.next()),
        (Some(l), Some(d), None) if !l.is_empty() && d.contains('.') && !d.starts_with('.')
            && !d.ends_with('.') && !s.contains(char::is_whitespace))
}

/// The identity the upstream proved.
fn identity(upstream: &SamlUpstream, v: &Verified) -> ExternalIdentity {
    let a = &v.assertion;
    let from_attributes = upstream.email_attributes.iter().find_map(|name| {
        a.attributes
            .get(name)?
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .map(str::trim)
            .find(|s| looks_like_email(s))
            .map(str::to_owned)
    });
    let email = from_attributes.or_else(|| {
        (a.name_id_format.as_deref() == Some(EMAIL_FORMAT) && looks_like_email(&a.name_id))
            .then(|| a.name_id.clone())
    });
    // Item 4: SAML has no email_verified; only a domain the upstream is marked
    // authoritative for counts as verified.
    let email_verified = email.as_deref().is_some_and(|e| {
        let domain = e
            .rsplit('@')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        upstream.authoritative_email_domains.contains(&domain)
    });
    ExternalIdentity {
        upstream: upstream.id.clone(),
        kind: UpstreamKind::Saml,
        subject: a.name_id.clone(),
        email,
        email_verified,
        attributes: a.attributes.clone(),
        authn_methods: a.authn_context.clone(),
        upstream_session: Some(UpstreamSession::Saml {
            name_id: a.name_id.clone(),
            name_id_format: a.name_id_format.clone(),
            session_index: a.session_index.clone(),
        }),
    }
}
