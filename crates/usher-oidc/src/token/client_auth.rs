//! Client authentication at the token, introspection and revocation endpoints
//! (RFC 6749 §2.3, OIDC Core §9): each client authenticates only by the method it
//! registered.

// Parses network input: an index out of range must be an error, never a panic.
#![warn(clippy::indexing_slicing)]

use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use serde_json::Value;

use crate::client::{AuthMethod, Client};
use crate::error::OAuthError;
use crate::form::{self, Form};
use crate::jose;
use crate::state::OidcState;

/// RFC 7523 §2.2.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Longest an assertion may still be valid for (its `exp` at most this far ahead).
const MAX_ASSERTION_LIFETIME: i64 = 300;
/// Tolerated clock skew for `iat` and `nbf`.
const SKEW: i64 = 60;

/// Credentials the request carries, before the client is looked up.
enum Presented {
    Basic { id: String, secret: String },
    Post { id: String, secret: String },
    Assertion { id: Option<String>, jwt: String },
    Public { id: String },
}

fn invalid_client(basic: bool, description: &str) -> OAuthError {
    let e = OAuthError::invalid_client(description.to_owned());
    if basic { e.basic() } else { e }
}

/// RFC 6749 §2.3.1: the id and secret are form-urlencoded, then joined by `:` and
/// base64-encoded.
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || invalid_client(true, "malformed Basic credentials");
    let value = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_request(
            "only HTTP Basic authenticates a client here",
        ));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let id = form::decode(id).ok_or_else(bad)?;
    let secret = form::decode(secret).ok_or_else(bad)?;
    Ok(Some((id, secret)))
}

fn presented(req: &HttpRequest, form: &Form) -> Result<Presented, OAuthError> {
    let basic = basic_credentials(req)?;
    let form_id = form.get("client_id").map(str::to_owned);
    let secret = form.get("client_secret").map(str::to_owned);
    let assertion = form.get("client_assertion").map(str::to_owned);
    let assertion_type = form.get("client_assertion_type");
    // RFC 6749 §2.3: "The client MUST NOT use more than one authentication method
    // in each request."
    let methods = [basic.is_some(), secret.is_some(), assertion.is_some()];
    if methods.iter().filter(|m| **m).count() > 1 {
        return Err(OAuthError::invalid_request(
            "more than one client authentication method was used",
        ));
    }
    if let Some((id, secret)) = basic {
        if form_id.as_ref().is_some_and(|f| *f != id) {
            return Err(OAuthError::invalid_request(
                "client_id differs from the authenticated client",
            ));
        }
        return Ok(Presented::Basic { id, secret });
    }
    if let Some(jwt) = assertion {
        if assertion_type != Some(JWT_BEARER_ASSERTION) {
            return Err(invalid_client(false, "unsupported client_assertion_type"));
        }
        return Ok(Presented::Assertion { id: form_id, jwt });
    }
    let id = form_id.ok_or_else(|| invalid_client(false, "client authentication is required"))?;
    Ok(match secret {
        Some(secret) => Presented::Post { id, secret },
        None => Presented::Public { id },
    })
}

/// Authenticates the client of a request to `endpoint` (the full URL, an accepted
/// assertion audience besides the issuer and the token endpoint).
pub async fn authenticate<'s>(
    state: &'s OidcState,
    req: &HttpRequest,
    form: &Form,
    endpoint: &str,
) -> Result<&'s Client, OAuthError> {
    let presented = presented(req, form)?;
    let (id, method, basic) = match &presented {
        Presented::Basic { id, .. } => (id.clone(), AuthMethod::ClientSecretBasic, true),
        Presented::Post { id, .. } => (id.clone(), AuthMethod::ClientSecretPost, false),
        Presented::Public { id } => (id.clone(), AuthMethod::None, false),
        Presented::Assertion { id, jwt } => {
            let sub = unverified_subject(jwt)
                .ok_or_else(|| invalid_client(false, "the client assertion is malformed"))?;
            if id.as_ref().is_some_and(|i| *i != sub) {
                return Err(invalid_client(
                    false,
                    "client_id differs from the assertion's sub",
                ));
            }
            (sub, AuthMethod::PrivateKeyJwt, false)
        }
    };
    let client = state
        .client(&id)
        .ok_or_else(|| invalid_client(basic, "unknown client or bad credentials"))?;
    // OIDC Core §9 / RFC 7591 token_endpoint_auth_method: only the registered method.
    if client.auth_method != method {
        return Err(invalid_client(
            basic,
            &format!(
                "this client authenticates with {}",
                client.auth_method.as_str()
            ),
        ));
    }
    match &presented {
        Presented::Basic { secret, .. } | Presented::Post { secret, .. } => {
            let ok = client.secret.as_ref().is_some_and(|s| s.verify(secret));
            if !ok {
                return Err(invalid_client(basic, "unknown client or bad credentials"));
            }
        }
        Presented::Assertion { jwt, .. } => check_assertion(state, client, jwt, endpoint).await?,
        Presented::Public { .. } => {}
    }
    Ok(client)
}

/// The `sub` of an assertion, read before verification only to find the client
/// whose keys verify it.
fn unverified_subject(jwt: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

/// RFC 7523 §3 and OIDC Core §9: signed by one of the client's keys; iss = sub =
/// client_id; aud names us; exp in the future (and not far); jti used once.
async fn check_assertion(
    state: &OidcState,
    client: &Client,
    jwt: &str,
    endpoint: &str,
) -> Result<(), OAuthError> {
    let fail = |d: &str| invalid_client(false, d);
    let jwks = client
        .jwks
        .as_ref()
        .ok_or_else(|| fail("the client has no registered keys"))?;
    let verified = jose::verify_with_jwks(jwt, jwks).map_err(|e| fail(&e.to_string()))?;
    let claims = &verified.claims;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(&client.client_id) || text("sub") != Some(&client.client_id) {
        return Err(fail("the assertion's iss and sub must be the client_id"));
    }
    let issuer = &state.settings.issuer;
    let token_endpoint = format!("{issuer}/oidc/token");
    let accepted = |a: &str| a == issuer || a == token_endpoint || a == endpoint;
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => accepted(a),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(accepted),
        _ => false,
    };
    if !aud_ok {
        return Err(fail("the assertion's aud does not name this server"));
    }
    let now = state.deps.clock.now().unix_timestamp();
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(|| fail("the assertion has no exp"))?;
    if exp <= now {
        return Err(fail("the assertion has expired"));
    }
    if exp > now + MAX_ASSERTION_LIFETIME + SKEW {
        return Err(fail("the assertion's exp is too far in the future"));
    }
    if claims
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| nbf > now + SKEW)
    {
        return Err(fail("the assertion is not valid yet"));
    }
    if claims
        .get("iat")
        .and_then(Value::as_i64)
        .is_some_and(|iat| iat > now + SKEW)
    {
        return Err(fail("the assertion was issued in the future"));
    }
    let jti = text("jti").ok_or_else(|| fail("the assertion has no jti"))?;
    // RFC 7523 §3 item 7: a jti is accepted once, for as long as the assertion
    // could be valid.
    let key = format!(
        "assertion-jti:{}:{}",
        usher_core::random::digest(&client.client_id),
        usher_core::random::digest(jti)
    );
    let ttl = Duration::from_secs((exp - now + SKEW) as u64);
    if !state.deps.ephemeral.put_if_absent(&key, b"1", ttl).await? {
        return Err(fail("the assertion was already used"));
    }
    Ok(())
}
