//! Validation of an authorization request (OIDC Core §3.1.2.1, RFC 6749 §4.1.1),
//! in the order RFC 6749 §4.1.2.1 demands: the client and its redirect_uri first,
//! and only once both are trusted may an error go back to the client by redirect.

use serde::{Deserialize, Serialize};

use super::params::Params;
use crate::client::{AuthMethod, Client, GrantType};
use crate::state::OidcState;

/// The scopes the OP knows; others are dropped (RFC 6749 §3.3 lets the server
/// grant fewer scopes than asked).
pub(crate) const SUPPORTED_SCOPES: [&str; 5] =
    ["openid", "profile", "email", "groups", "offline_access"];

/// Every parameter the endpoint reads: a duplicate of any of them is refused
/// (RFC 6749 §3.1); duplicates of parameters it ignores do not matter.
const KNOWN_PARAMS: [&str; 21] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "kc_idp_hint",
    "domain_hint",
    "id_token_hint",
    "ui_locales",
    "acr_values",
    "display",
    "claims_locales",
    "request",
    "request_uri",
];

/// Where a refused request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The client or its redirect_uri cannot be trusted: an error page, never a
    /// redirect (RFC 6749 §4.1.2.1, RFC 9700 §4.11.2: no open redirector).
    Page {
        /// What went wrong, in plain words.
        detail: String,
    },
    /// An error for the client, by redirect (RFC 6749 §4.1.2.1).
    Redirect(RedirectError),
}

/// An OAuth error sent back to a trusted redirect_uri.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RedirectError {
    /// The verified redirect_uri.
    pub redirect_uri: String,
    /// The client's `state`, echoed.
    pub state: Option<String>,
    /// RFC 6749 §4.1.2.1 / OIDC Core §3.1.2.6 code.
    pub error: &'static str,
    /// Human-readable detail.
    pub description: String,
}

/// `prompt` (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    pub select_account: bool,
}

/// A forced re-authentication in progress: the session the user comes back with
/// must be newer than `since` and not the one that was judged too old.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Reauth {
    /// Unix seconds when the user was sent to sign in.
    pub since: i64,
    /// The session that was there then (not good enough), if any.
    pub stale_sid: Option<String>,
}

/// A validated authorization request, as parked in the ephemeral store while the
/// user signs in or consents (`authz:{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingAuthorization {
    pub client_id: String,
    pub redirect_uri: String,
    /// Supported scopes asked for, in request order, without duplicates.
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// S256 challenge (RFC 7636 §4.2).
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<u64>,
    pub login_hint: Option<String>,
    /// `kc_idp_hint` (Keycloak) or `domain_hint` (Entra ID): an upstream id or a
    /// home-realm domain to go straight to.
    #[serde(default)]
    pub upstream_hint: Option<String>,
    /// `sub` of a verified `id_token_hint`.
    pub hint_sub: Option<String>,
    pub ui_locales: Option<String>,
    pub acr_values: Option<String>,
    /// Unix seconds when the request arrived.
    pub created_at: i64,
    /// Set once the user was sent to sign in.
    pub reauth: Option<Reauth>,
    /// The consent request started for this authorization, and for whom.
    pub consent_ticket: Option<String>,
    pub consent_user: Option<String>,
    /// The user approved this request's scopes on the consent page.
    pub consented: bool,
}

/// Checks the client and redirect_uri (errors here are never redirected).
pub(crate) fn trusted_client<'a>(
    state: &'a OidcState,
    params: &Params,
) -> Result<(&'a Client, String), Refusal> {
    let page = |detail: &str| Refusal::Page {
        detail: detail.to_owned(),
    };
    if params.is_duplicated("client_id") {
        return Err(page("The request names its application more than once."));
    }
    let Some(client_id) = params.get("client_id") else {
        return Err(page(
            "The request does not say which application it comes from.",
        ));
    };
    let Some(client) = state.client(client_id) else {
        return Err(page(
            "The application that sent you here is not registered.",
        ));
    };
    if params.is_duplicated("redirect_uri") {
        return Err(page("The request names more than one return address."));
    }
    // OIDC Core §3.1.2.1: redirect_uri is REQUIRED, even when the client has
    // registered only one.
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return Err(page("The request does not say where to return to."));
    };
    // RFC 9700 §2.1 and §4.1.3: exact string comparison, nothing normalised.
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err(page(
            "The address the application asked to return to is not registered for it.",
        ));
    }
    Ok((client, redirect_uri.to_owned()))
}

/// Validates an authorization request from its parameters.
pub(crate) fn validate(
    state: &OidcState,
    params: &Params,
    now: i64,
) -> Result<PendingAuthorization, Refusal> {
    let (client, redirect_uri) = trusted_client(state, params)?;
    let client_state = if params.is_duplicated("state") {
        None
    } else {
        params.get("state").map(str::to_owned)
    };
    let fail = |error: &'static str, description: &str| {
        Refusal::Redirect(RedirectError {
            redirect_uri: redirect_uri.clone(),
            state: client_state.clone(),
            error,
            description: description.to_owned(),
        })
    };
    if let Some(name) = params.first_duplicated(&KNOWN_PARAMS) {
        return Err(fail(
            "invalid_request",
            &format!("parameter {name} was sent more than once"),
        ));
    }
    // OIDC Core §6: request objects are optional; say so with the proper codes.
    if params.get("request").is_some() {
        return Err(fail(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if params.get("request_uri").is_some() {
        return Err(fail(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    match params.get("response_type") {
        None => return Err(fail("invalid_request", "response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err(fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            ));
        }
    }
    if !client.grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(fail(
            "unauthorized_client",
            "this client may not use the authorization code flow",
        ));
    }
    if let Some(mode) = params.get("response_mode")
        && mode != "query"
    {
        return Err(fail(
            "invalid_request",
            "only response_mode=query is supported",
        ));
    }
    let scopes = scopes(params.get("scope").unwrap_or_default(), client);
    if !scopes.iter().any(|s| s == "openid") {
        return Err(fail("invalid_scope", "the openid scope is required"));
    }
    let code_challenge = pkce(params, client).map_err(|d| fail("invalid_request", d))?;
    let prompt = prompt(params.get("prompt")).map_err(|d| fail("invalid_request", d))?;
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .ok()
                .filter(|_| v.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| fail("invalid_request", "max_age must be a non-negative integer"))?,
        ),
    };
    Ok(PendingAuthorization {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.clone(),
        scopes,
        state: client_state.clone(),
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge,
        prompt,
        max_age,
        login_hint: params.get("login_hint").map(str::to_owned),
        upstream_hint: params
            .get("kc_idp_hint")
            .or_else(|| params.get("domain_hint"))
            .map(str::to_owned),
        hint_sub: None,
        ui_locales: params.get("ui_locales").map(str::to_owned),
        acr_values: params.get("acr_values").map(str::to_owned),
        created_at: now,
        reauth: None,
        consent_ticket: None,
        consent_user: None,
        consented: false,
    })
}

/// The supported scopes in `requested`, each once. `offline_access` only for a
/// client allowed refresh tokens.
fn scopes(requested: &str, client: &Client) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for scope in requested.split(' ').filter(|s| !s.is_empty()) {
        if !SUPPORTED_SCOPES.contains(&scope) || out.iter().any(|s| s == scope) {
            continue;
        }
        if scope == "offline_access" && !client.grant_types.contains(&GrantType::RefreshToken) {
            continue;
        }
        out.push(scope.to_owned());
    }
    out
}

/// PKCE (RFC 7636; RFC 9700 §2.1.1): S256 only, required for public clients,
/// enforced for any client that sends a challenge.
fn pkce(params: &Params, client: &Client) -> Result<Option<String>, &'static str> {
    let challenge = params.get("code_challenge");
    let method = params.get("code_challenge_method");
    match (challenge, method) {
        (None, None) if client.auth_method == AuthMethod::None => {
            Err("PKCE (code_challenge with S256) is required for public clients")
        }
        (None, None) => Ok(None),
        (None, Some(_)) => Err("code_challenge_method without code_challenge"),
        // RFC 7636 §4.3: a missing method means `plain`, which is refused.
        (Some(_), None) => Err("code_challenge_method=S256 is required"),
        (Some(_), Some(m)) if m != "S256" => Err("only code_challenge_method=S256 is supported"),
        (Some(c), Some(_)) => {
            // RFC 7636 §4.2: 43 to 128 unreserved characters.
            let ok = (43..=128).contains(&c.len())
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
            if ok {
                Ok(Some(c.to_owned()))
            } else {
                Err("code_challenge is malformed")
            }
        }
    }
}

fn prompt(value: Option<&str>) -> Result<Prompt, &'static str> {
    let mut prompt = Prompt::default();
    let Some(value) = value else {
        return Ok(prompt);
    };
    for v in value.split(' ').filter(|v| !v.is_empty()) {
        match v {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => prompt.select_account = true,
            _ => return Err("unknown prompt value"),
        }
    }
    // OIDC Core §3.1.2.1: none with any other value is an error.
    if prompt.none && (prompt.login || prompt.consent || prompt.select_account) {
        return Err("prompt=none cannot be combined with other values");
    }
    Ok(prompt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_values() {
        assert!(prompt(Some("none")).expect("ok").none);
        let p = prompt(Some("login consent")).expect("ok");
        assert!(p.login && p.consent && !p.none);
        assert!(prompt(Some("none login")).is_err());
        assert!(prompt(Some("bogus")).is_err());
    }
}
