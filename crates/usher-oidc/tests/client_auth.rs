//! private_key_jwt client authentication (RFC 7523 §3, OIDC Core §9) and the JOSE
//! attacks on it: alg=none, HMAC key confusion, replay, audience, expiry.

// Tests fail loudly on anything unexpected.
#![allow(clippy::unwrap_used)]

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::token_env::*;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn assertion_claims(env: &Env, client: &str) -> Value {
    let now = usher_core::ports::Clock::now(&*env.clock).unix_timestamp();
    json!({
        "iss": client, "sub": client, "aud": TOKEN_URL,
        "iat": now, "exp": now + 60,
        "jti": usher_core::random::token().unwrap(),
    })
}

async fn client_credentials(env: &Env, assertion: &str) -> Reply {
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ]);
    env.post("/oidc/token", None, &body).await
}

fn rs256(env: &Env, claims: &Value) -> String {
    sign_jwt(
        &json!({"alg": "RS256", "kid": "rsa-1"}),
        claims,
        JwtKey::Rsa(&env.rsa_key),
    )
}

fn assert_invalid_client(r: &Reply) {
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.json);
    assert_eq!(r.error(), "invalid_client");
}

#[actix_web::test]
async fn private_key_jwt_rs256_ok() {
    let env = Env::new().await;
    let r = client_credentials(&env, &rs256(&env, &assertion_claims(&env, JWT))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(claims(&r.text("access_token"))["sub"], JWT);
}

#[actix_web::test]
async fn private_key_jwt_es256_ok_with_issuer_audience_and_client_id() {
    let env = Env::new().await;
    let mut c = assertion_claims(&env, JWT_EC);
    c["aud"] = json!([ISSUER, "https://elsewhere.example"]);
    let jwt = sign_jwt(
        &json!({"alg": "ES256", "kid": "ec-1"}),
        &c,
        JwtKey::Ec(&env.ec_key),
    );
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", JWT_EC),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", &jwt),
    ]);
    let r = env.post("/oidc/token", None, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
}

/// RFC 7523 §3 item 7: a jti is accepted once.
#[actix_web::test]
async fn private_key_jwt_replayed_assertion_is_refused() {
    let env = Env::new().await;
    let jwt = rs256(&env, &assertion_claims(&env, JWT));
    assert_eq!(client_credentials(&env, &jwt).await.status, StatusCode::OK);
    assert_invalid_client(&client_credentials(&env, &jwt).await);
}

#[actix_web::test]
async fn private_key_jwt_wrong_audience_is_refused() {
    let env = Env::new().await;
    let mut c = assertion_claims(&env, JWT);
    c["aud"] = json!("https://other-op.example/token");
    assert_invalid_client(&client_credentials(&env, &rs256(&env, &c)).await);
    c["aud"] = Value::Null;
    assert_invalid_client(&client_credentials(&env, &rs256(&env, &c)).await);
}

#[actix_web::test]
async fn private_key_jwt_expired_assertion_is_refused() {
    let env = Env::new().await;
    let mut c = assertion_claims(&env, JWT);
    c["exp"] = json!(c["iat"].as_i64().unwrap() - 1);
    assert_invalid_client(&client_credentials(&env, &rs256(&env, &c)).await);
}

#[actix_web::test]
async fn private_key_jwt_exp_far_in_the_future_is_refused() {
    let env = Env::new().await;
    let mut c = assertion_claims(&env, JWT);
    c["exp"] = json!(c["iat"].as_i64().unwrap() + 3600);
    assert_invalid_client(&client_credentials(&env, &rs256(&env, &c)).await);
}

#[actix_web::test]
async fn private_key_jwt_iss_sub_must_be_the_client() {
    let env = Env::new().await;
    let mut c = assertion_claims(&env, JWT);
    c["iss"] = json!("someone-else");
    assert_invalid_client(&client_credentials(&env, &rs256(&env, &c)).await);
}

/// RFC 8725 §3.2: alg=none is never accepted.
#[actix_web::test]
async fn private_key_jwt_alg_none_is_refused() {
    let env = Env::new().await;
    let c = assertion_claims(&env, JWT);
    for alg in ["none", "None", "NONE"] {
        let jwt = sign_jwt(&json!({"alg": alg, "kid": "rsa-1"}), &c, JwtKey::None);
        assert_invalid_client(&client_credentials(&env, &jwt).await);
    }
}

/// RFC 8725 §2.1 key confusion: HS256 "signed" with the client's public key as the
/// HMAC secret (PEM and DER forms, as the classic attack does).
#[actix_web::test]
async fn private_key_jwt_hs256_with_public_key_as_secret_is_refused() {
    let env = Env::new().await;
    let c = assertion_claims(&env, JWT);
    let pem = env.rsa_key.public_key_to_pem().unwrap();
    let der = env.rsa_key.public_key_to_der().unwrap();
    let jwk = rsa_jwk(&env.rsa_key, "rsa-1").to_string();
    for secret in [pem.as_slice(), der.as_slice(), jwk.as_bytes()] {
        for alg in ["HS256", "HS384", "HS512"] {
            let jwt = sign_jwt(
                &json!({"alg": alg, "kid": "rsa-1"}),
                &c,
                JwtKey::Hmac(secret),
            );
            assert_invalid_client(&client_credentials(&env, &jwt).await);
        }
    }
}

/// An ES256 header over an RSA-signed payload: the key's type decides.
#[actix_web::test]
async fn private_key_jwt_alg_not_matching_key_type_is_refused() {
    let env = Env::new().await;
    let c = assertion_claims(&env, JWT);
    let jwt = sign_jwt(
        &json!({"alg": "ES256", "kid": "rsa-1"}),
        &c,
        JwtKey::Rsa(&env.rsa_key),
    );
    assert_invalid_client(&client_credentials(&env, &jwt).await);
    // PS256 is not an algorithm usher accepts.
    let jwt = sign_jwt(
        &json!({"alg": "PS256", "kid": "rsa-1"}),
        &c,
        JwtKey::Rsa(&env.rsa_key),
    );
    assert_invalid_client(&client_credentials(&env, &jwt).await);
}

#[actix_web::test]
async fn private_key_jwt_signed_by_another_key_is_refused() {
    let env = Env::new().await;
    let c = assertion_claims(&env, JWT);
    let other = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let jwt = sign_jwt(
        &json!({"alg": "RS256", "kid": "rsa-1"}),
        &c,
        JwtKey::Rsa(&other),
    );
    assert_invalid_client(&client_credentials(&env, &jwt).await);
}

/// A client registered for private_key_jwt cannot fall back to a secret, and a
/// secret client cannot use an assertion.
#[actix_web::test]
async fn private_key_jwt_method_mismatch_is_invalid_client() {
    let env = Env::new().await;
    let body = form(&[("grant_type", "client_credentials")]);
    assert_invalid_client(&env.post("/oidc/token", Some((JWT, SECRET)), &body).await);
    let mut c = assertion_claims(&env, BASIC);
    c["iss"] = json!(BASIC);
    let jwt = rs256(&env, &c);
    assert_invalid_client(&client_credentials(&env, &jwt).await);
}
