//! The `authorization_code` grant (RFC 6749 §4.1.3, OIDC Core §3.1.3.2, RFC 7636
//! §4.6).

use actix_web::HttpResponse;
use openssl::hash::{MessageDigest, hash};
use usher_core::random;

use crate::claims::Authentication;
use crate::client::{AuthMethod, Client};
use crate::error::OAuthError;
use crate::form::Form;
use crate::grant::{self, Redemption};
use crate::state::OidcState;

use super::issue::{self, Grant, RefreshIssue};
use super::user::active_user;

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Z] [a-z] [0-9] - . _ ~`.
fn verifier_well_formed(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// RFC 7636 §4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge.
fn s256(verifier: &str) -> String {
    use base64::Engine;
    let digest = hash(MessageDigest::sha256(), verifier.as_bytes())
        .map(|d| d.to_vec())
        .unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

fn check_pkce(
    client: &Client,
    challenge: Option<&str>,
    verifier: Option<&str>,
) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (Some(challenge), Some(verifier)) => {
            if !verifier_well_formed(verifier) {
                return Err(OAuthError::invalid_grant("code_verifier is malformed"));
            }
            let computed = s256(verifier);
            if !random::constant_time_eq(computed.as_bytes(), challenge.as_bytes()) {
                return Err(OAuthError::invalid_grant("code_verifier does not match"));
            }
            Ok(())
        }
        (Some(_), None) => Err(OAuthError::invalid_grant("code_verifier is required")),
        // RFC 9700 §2.1.1 / §4.8.2: a verifier without a stored challenge is a
        // PKCE downgrade attempt.
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier sent but the authorization request had no code_challenge",
        )),
        // Public clients always use PKCE (RFC 9700 §2.1.1); authorize enforces it,
        // this keeps the token endpoint safe on its own.
        (None, None) if client.auth_method == AuthMethod::None => {
            Err(OAuthError::invalid_grant("public clients must use PKCE"))
        }
        (None, None) => Ok(()),
    }
}

/// Exchanges a code.
pub async fn exchange(
    state: &OidcState,
    client: &Client,
    form: &Form,
) -> Result<HttpResponse, OAuthError> {
    let code = form
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let redeemed = match grant::redeem_code(state, code).await? {
        Redemption::Valid(r) => r,
        // RFC 6749 §4.1.2: the tokens of the first redemption are revoked by now.
        Redemption::Reused => {
            return Err(OAuthError::invalid_grant("the code was already used"));
        }
        Redemption::Invalid => {
            return Err(OAuthError::invalid_grant("the code is invalid or expired"));
        }
    };
    let record = &redeemed.record;
    // RFC 6749 §4.1.3: issued to the authenticated client.
    if record.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "the code was issued to another client",
        ));
    }
    // RFC 6749 §4.1.3: redirect_uri identical to the authorization request's
    // (always sent there, since the request always names one).
    if form.get("redirect_uri") != Some(record.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant("redirect_uri does not match"));
    }
    check_pkce(
        client,
        record.code_challenge.as_deref(),
        form.get("code_verifier"),
    )?;
    let user = active_user(state, record.user_id).await?;
    let grant = Grant {
        client,
        user: Some(&user),
        authentication: Some(Authentication {
            auth_time: record.auth_time,
            sid: record.sid.clone(),
            amr: record.amr.clone(),
            acr: record.acr.clone(),
        }),
        scopes: record.scopes.clone(),
        refresh_scopes: record.scopes.clone(),
        nonce: record.nonce.clone(),
        jti: Some(redeemed.issue.access_jti.clone()),
        refresh: Some(RefreshIssue::Start {
            family: redeemed.issue.family.clone(),
        }),
    };
    Ok(issue::respond(state, grant).await?)
}
