//! The claims of what the OP issues: JWT access tokens (RFC 9068 §2.2), id_tokens
//! (OIDC Core §2, §3.1.3.6) and the user's claims per scope (OIDC Core §5.4).

use openssl::hash::{MessageDigest, hash};
use serde_json::{Map, Value, json};
use usher_core::ports::KeyAlgorithm;
use usher_core::{Result, User};

use crate::jose;
use crate::state::OidcState;

/// Scopes the OP knows (advertised in discovery).
pub const SCOPES: [&str; 5] = ["openid", "profile", "email", "groups", "offline_access"];

/// Claims it can release (advertised in discovery).
pub const CLAIMS: [&str; 22] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "sid",
    "at_hash",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "updated_at",
    "email",
    "email_verified",
    "groups",
    "client_id",
    "scope",
];

/// How and when the user authenticated, carried from the SSO session through the
/// code and refresh tokens into the tokens.
#[derive(Debug, Clone)]
pub struct Authentication {
    /// Unix seconds.
    pub auth_time: i64,
    /// The SSO session's public id.
    pub sid: String,
    /// RFC 8176 methods.
    pub amr: Vec<String>,
    /// Context class.
    pub acr: Option<String>,
}

/// What a JWT access token says, before signing.
#[derive(Debug, Clone)]
pub struct AccessTokenClaims<'a> {
    /// `sub`: the user id, or the client id for client_credentials.
    pub subject: &'a str,
    /// The client it is issued to.
    pub client_id: &'a str,
    /// Granted scopes.
    pub scopes: &'a [String],
    /// The user's authentication (absent for client_credentials).
    pub authentication: Option<&'a Authentication>,
    /// `jti`.
    pub jti: &'a str,
    /// `iat`, unix seconds.
    pub now: i64,
}

fn add_authentication(claims: &mut Map<String, Value>, a: &Authentication) {
    claims.insert("auth_time".into(), json!(a.auth_time));
    claims.insert("sid".into(), json!(a.sid));
    if !a.amr.is_empty() {
        claims.insert("amr".into(), json!(a.amr));
    }
    if let Some(acr) = &a.acr {
        claims.insert("acr".into(), json!(acr));
    }
}

/// RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti, plus scope and the
/// authentication information (§2.2.1).
pub fn access_token(state: &OidcState, c: &AccessTokenClaims<'_>) -> Value {
    let lifetime = state.settings.lifetimes.access_token.as_secs() as i64;
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(state.settings.issuer));
    claims.insert("sub".into(), json!(c.subject));
    // The client is the audience until resource indicators (RFC 8707) arrive.
    claims.insert("aud".into(), json!(c.client_id));
    claims.insert("exp".into(), json!(c.now + lifetime));
    claims.insert("iat".into(), json!(c.now));
    claims.insert("jti".into(), json!(c.jti));
    claims.insert("client_id".into(), json!(c.client_id));
    claims.insert("scope".into(), json!(c.scopes.join(" ")));
    if let Some(a) = c.authentication {
        add_authentication(&mut claims, a);
    }
    Value::Object(claims)
}

/// What an id_token says beyond the user's claims.
#[derive(Debug, Clone)]
pub struct IdTokenClaims<'a> {
    /// The client (`aud`, `azp`).
    pub client_id: &'a str,
    /// The user's authentication.
    pub authentication: &'a Authentication,
    /// `nonce` of the authorization request (OIDC Core §3.1.2.1); never repeated
    /// on refresh (OIDC Core §12.2).
    pub nonce: Option<&'a str>,
    /// The access token issued with it, for `at_hash`.
    pub access_token: &'a str,
    /// The algorithm the id_token is signed with (decides the `at_hash` hash).
    pub algorithm: KeyAlgorithm,
    /// `iat`, unix seconds.
    pub now: i64,
}

/// OIDC Core §3.1.3.6: base64url of the left half of the hash of the token, the
/// hash being the one of the id_token's `alg` (SHA-256 for RS256 and ES256;
/// SHA-512 for EdDSA with Ed25519, as the OpenID errata and `oidc-token-hash`,
/// which openid-client uses, have it).
pub fn at_hash(access_token: &str, algorithm: KeyAlgorithm) -> String {
    let md = match algorithm {
        KeyAlgorithm::RS256 | KeyAlgorithm::ES256 => MessageDigest::sha256(),
        KeyAlgorithm::EdDSA => MessageDigest::sha512(),
    };
    // Hashing in memory cannot fail short of an allocation failure.
    let digest = hash(md, access_token.as_bytes())
        .map(|d| d.to_vec())
        .unwrap_or_default();
    jose_b64(&digest[..digest.len() / 2])
}

fn jose_b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// OIDC Core §2 and §3.1.3.6: the id_token's claims, with the user's claims for
/// the granted scopes.
pub fn id_token(
    state: &OidcState,
    c: &IdTokenClaims<'_>,
    user_claims: Map<String, Value>,
) -> Value {
    let lifetime = state.settings.lifetimes.id_token.as_secs() as i64;
    let mut claims = user_claims;
    claims.insert("iss".into(), json!(state.settings.issuer));
    claims.insert("aud".into(), json!(c.client_id));
    claims.insert("azp".into(), json!(c.client_id));
    claims.insert("exp".into(), json!(c.now + lifetime));
    claims.insert("iat".into(), json!(c.now));
    if let Some(nonce) = c.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    claims.insert(
        "at_hash".into(),
        json!(at_hash(c.access_token, c.algorithm)),
    );
    add_authentication(&mut claims, c.authentication);
    Value::Object(claims)
}

/// OIDC Core §5.4: `sub` plus the claims of each granted scope. `groups` is the
/// list of the user's group names.
pub async fn user_claims(
    state: &OidcState,
    user: &User,
    scopes: &[String],
) -> Result<Map<String, Value>> {
    let has = |s: &str| scopes.iter().any(|g| g == s);
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.id.to_string()));
    if has("profile") {
        let name =
            user.display_name
                .clone()
                .or_else(|| match (&user.given_name, &user.family_name) {
                    (Some(g), Some(f)) => Some(format!("{g} {f}")),
                    _ => None,
                });
        if let Some(name) = name {
            claims.insert("name".into(), json!(name));
        }
        if let Some(g) = &user.given_name {
            claims.insert("given_name".into(), json!(g));
        }
        if let Some(f) = &user.family_name {
            claims.insert("family_name".into(), json!(f));
        }
        claims.insert("preferred_username".into(), json!(user.username));
        claims.insert("updated_at".into(), json!(user.updated_at.unix_timestamp()));
    }
    if has("email")
        && let Some(email) = user.primary_email()
    {
        claims.insert("email".into(), json!(email.address));
        claims.insert("email_verified".into(), json!(email.verified));
    }
    if has("groups") {
        let groups = state.deps.directory.groups_of(user.id).await?;
        let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        claims.insert("groups".into(), json!(names));
    }
    Ok(claims)
}

/// Signs claims with the active key of `algorithm`.
pub async fn sign(
    state: &OidcState,
    algorithm: KeyAlgorithm,
    typ: &str,
    claims: &Value,
) -> Result<String> {
    let key = state.keys.active(state, algorithm).await?;
    jose::sign(&key, typ, claims)
}
