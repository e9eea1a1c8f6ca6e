//! Minting the tokens of a successful grant and the token response (RFC 6749
//! §5.1, OIDC Core §3.1.3.3).

use actix_web::HttpResponse;
use actix_web::http::header;
use serde_json::{Map, Value, json};
use usher_core::{Result, User, random};

use crate::claims::{self, AccessTokenClaims, Authentication, IdTokenClaims};
use crate::client::{Client, GrantType};
use crate::grant::{self, RefreshToken};
use crate::jose::{TYP_ACCESS_TOKEN, TYP_ID_TOKEN};
use crate::state::OidcState;

/// What a grant decided to issue.
#[derive(Debug)]
pub struct Grant<'a> {
    /// The client.
    pub client: &'a Client,
    /// The user, or `None` for client_credentials.
    pub user: Option<&'a User>,
    /// The user's authentication.
    pub authentication: Option<Authentication>,
    /// Scopes of the access token.
    pub scopes: Vec<String>,
    /// Scopes the refresh token keeps (RFC 6749 §6: identical to the one
    /// presented); usually `scopes`.
    pub refresh_scopes: Vec<String>,
    /// `nonce` for the id_token.
    pub nonce: Option<String>,
    /// The access token's `jti` (chosen at code redemption, so a reuse can revoke it).
    pub jti: Option<String>,
    /// The refresh token to hand out, when one may be issued.
    pub refresh: Option<RefreshIssue>,
}

/// Which refresh token a grant hands out.
#[derive(Debug)]
pub enum RefreshIssue {
    /// A code redemption: start this family (if the client gets refresh tokens).
    Start {
        /// The family id chosen at redemption.
        family: String,
    },
    /// A refresh: the presented token's successor, already current in its family.
    Rotated {
        /// The family.
        family: String,
        /// The successor token.
        token: String,
    },
}

/// True when the client gets a refresh token: it has the grant and
/// `offline_access` was granted (OIDC Core §11).
pub fn wants_refresh(client: &Client, scopes: &[String]) -> bool {
    client.grant_types.contains(&GrantType::RefreshToken)
        && scopes.iter().any(|s| s == "offline_access")
}

/// Mints the tokens and answers with them.
pub async fn respond(state: &OidcState, g: Grant<'_>) -> Result<HttpResponse> {
    let now = state.deps.clock.now().unix_timestamp();
    let jti = match g.jti {
        Some(jti) => jti,
        None => random::token()?,
    };
    let subject = match g.user {
        Some(u) => u.id.to_string(),
        None => g.client.client_id.clone(),
    };
    let at_claims = claims::access_token(
        state,
        &AccessTokenClaims {
            subject: &subject,
            client_id: &g.client.client_id,
            scopes: &g.scopes,
            authentication: g.authentication.as_ref(),
            jti: &jti,
            now,
        },
    );
    let alg = g.client.signing_alg;
    let access_token = claims::sign(state, alg, TYP_ACCESS_TOKEN, &at_claims).await?;
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access_token));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert(
        "expires_in".into(),
        json!(state.settings.lifetimes.access_token.as_secs()),
    );
    if !g.scopes.is_empty() {
        body.insert("scope".into(), json!(g.scopes.join(" ")));
    }
    if let (Some(user), Some(auth)) = (g.user, g.authentication.as_ref()) {
        if g.scopes.iter().any(|s| s == "openid") {
            let user_claims = claims::user_claims(state, user, &g.scopes).await?;
            let id_claims = claims::id_token(
                state,
                &IdTokenClaims {
                    client_id: &g.client.client_id,
                    authentication: auth,
                    nonce: g.nonce.as_deref(),
                    access_token: &access_token,
                    algorithm: alg,
                    now,
                },
                user_claims,
            );
            let id_token = claims::sign(state, alg, TYP_ID_TOKEN, &id_claims).await?;
            body.insert("id_token".into(), json!(id_token));
        }
        if let Some(refresh) = g.refresh
            && wants_refresh(g.client, &g.refresh_scopes)
        {
            let token = match refresh {
                RefreshIssue::Start { family } => {
                    let record = RefreshToken {
                        family: family.clone(),
                        client_id: g.client.client_id.clone(),
                        user_id: user.id,
                        sid: auth.sid.clone(),
                        scopes: g.refresh_scopes.clone(),
                        auth_time: auth.auth_time,
                        amr: auth.amr.clone(),
                        acr: auth.acr.clone(),
                    };
                    grant::track_access_token(state, &family, &jti).await;
                    grant::start_family(state, &record).await?
                }
                RefreshIssue::Rotated { family, token } => {
                    grant::track_access_token(state, &family, &jti).await;
                    token
                }
            };
            body.insert("refresh_token".into(), json!(token));
        }
    }
    Ok(no_store(Value::Object(body)))
}

/// A JSON response that no cache keeps (RFC 6749 §5.1).
pub fn no_store(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}
