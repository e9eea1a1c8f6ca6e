//! The token endpoint's authorization_code grant, client_secret authentication and
//! request hygiene.

// Tests fail loudly on anything unexpected.
#![allow(clippy::unwrap_used)]

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use time::Duration;
use usher_core::UserUpdate;
use usher_core::ports::Directory;

use crate::token_env::*;

// --- The code: single use, its client, its redirect_uri, its lifetime ---------

/// RFC 6749 §4.1.2: a second redemption fails and revokes what the first issued.
#[actix_web::test]
async fn code_reuse_is_refused_and_revokes_the_first_tokens() {
    let env = Env::new().await;
    let code = env.code(&env.record(BASIC)).await;
    let first = env.redeem(BASIC, &code, &[]).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.json);
    let (at, rt) = (first.text("access_token"), first.text("refresh_token"));
    assert!(env.active(&at).await && env.active(&rt).await);

    let second = env.redeem(BASIC, &code, &[]).await;
    assert_eq!(second.status, StatusCode::BAD_REQUEST);
    assert_eq!(second.error(), "invalid_grant");
    assert!(!env.active(&at).await, "the first access token is revoked");
    assert!(!env.active(&rt).await, "the first refresh token is revoked");
    let refreshed = env.refresh(BASIC, &rt, &[]).await;
    assert_eq!(refreshed.error(), "invalid_grant");
}

/// RFC 6749 §4.1.3: a code is bound to the client it was issued to.
#[actix_web::test]
async fn code_redeemed_by_another_client_is_invalid_grant() {
    let env = Env::new().await;
    let code = env.code(&env.record(BASIC)).await;
    let r = env.redeem(ES, &code, &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "invalid_grant");
}

/// RFC 6749 §4.1.3: redirect_uri identical to the authorization request's.
#[actix_web::test]
async fn wrong_redirect_uri_is_invalid_grant() {
    let env = Env::new().await;
    for uri in [
        "https://rp.example/cb/",
        "https://rp.example/CB",
        "https://rp.example/cb?x=1",
    ] {
        let code = env.code(&env.record(BASIC)).await;
        let body = form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", uri),
        ]);
        let r = env.post("/oidc/token", Some((BASIC, SECRET)), &body).await;
        assert_eq!(r.error(), "invalid_grant", "{uri}");
    }
    let code = env.code(&env.record(BASIC)).await;
    let body = form(&[("grant_type", "authorization_code"), ("code", &code)]);
    let r = env.post("/oidc/token", Some((BASIC, SECRET)), &body).await;
    assert_eq!(r.error(), "invalid_grant", "a missing redirect_uri");
}

#[actix_web::test]
async fn expired_code_is_invalid_grant() {
    let env = Env::new().await;
    let code = env.code(&env.record(BASIC)).await;
    env.clock.advance(Duration::seconds(61));
    let r = env.redeem(BASIC, &code, &[]).await;
    assert_eq!(r.error(), "invalid_grant");
}

#[actix_web::test]
async fn unknown_code_is_invalid_grant() {
    let env = Env::new().await;
    let r = env.redeem(BASIC, "not-a-code", &[]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "invalid_grant");
}

#[actix_web::test]
async fn deactivated_user_gets_no_tokens() {
    let env = Env::new().await;
    let code = env.code(&env.record(BASIC)).await;
    let update = UserUpdate {
        active: Some(false),
        ..Default::default()
    };
    env.store.update_user(env.user.id, update).await.unwrap();
    let r = env.redeem(BASIC, &code, &[]).await;
    assert_eq!(r.error(), "invalid_grant");
}

// --- PKCE (RFC 7636 §4.6, RFC 9700 §2.1.1) ------------------------------------

async fn pkce(verifier: Option<&str>, challenge: Option<&str>) -> Reply {
    let env = Env::new().await;
    let mut record = env.record(PUBLIC);
    record.code_challenge = challenge.map(str::to_owned);
    let code = env.code(&record).await;
    let mut pairs = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("client_id", PUBLIC),
    ];
    if let Some(v) = verifier {
        pairs.push(("code_verifier", v));
    }
    env.post("/oidc/token", None, &form(&pairs)).await
}

#[actix_web::test]
async fn pkce_public_client_with_right_verifier_gets_tokens() {
    let r = pkce(Some(VERIFIER), Some(CHALLENGE)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert!(r.json["id_token"].is_string());
}

#[actix_web::test]
async fn pkce_missing_verifier_is_invalid_grant() {
    let r = pkce(None, Some(CHALLENGE)).await;
    assert_eq!(r.error(), "invalid_grant");
}

#[actix_web::test]
async fn pkce_wrong_verifier_is_invalid_grant() {
    let wrong = "dBjftJeZ4CVP-mJ0kpRwpmSQpymdM3cE9GkJvbpWuvX";
    let r = pkce(Some(wrong), Some(CHALLENGE)).await;
    assert_eq!(r.error(), "invalid_grant");
    let short = pkce(Some("short"), Some(CHALLENGE)).await;
    assert_eq!(short.error(), "invalid_grant");
}

/// RFC 9700 §2.1.1: a verifier for a code issued without a challenge is a
/// downgrade attempt.
#[actix_web::test]
async fn pkce_downgrade_verifier_without_challenge_is_invalid_grant() {
    let env = Env::new().await;
    let code = env.code(&env.record(BASIC)).await;
    let r = env
        .redeem(BASIC, &code, &[("code_verifier", VERIFIER)])
        .await;
    assert_eq!(r.error(), "invalid_grant");
}

#[actix_web::test]
async fn public_client_without_pkce_is_invalid_grant() {
    let r = pkce(None, None).await;
    assert_eq!(r.error(), "invalid_grant");
}

// --- client_secret_basic and client_secret_post (RFC 6749 §2.3.1) ---------------

#[actix_web::test]
async fn client_secret_basic_ok() {
    let env = Env::new().await;
    let r = env.tokens(BASIC).await;
    assert_eq!(r.json["token_type"], "Bearer");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("pragma"), Some("no-cache"));
    assert!(r.json["expires_in"].as_u64().unwrap() > 0);
    assert_eq!(r.json["scope"], "openid offline_access profile email");
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded inside Basic.
#[actix_web::test]
async fn client_secret_basic_form_encoded_credentials_are_decoded() {
    let env = Env::new().await;
    let code = env.code(&env.record(BASIC)).await;
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", CB),
    ]);
    // "-" and "." are unreserved; encode them anyway, as a client may.
    let encoded = SECRET.replace('-', "%2D");
    let r = env
        .post("/oidc/token", Some((BASIC, &encoded)), &body)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
}

#[actix_web::test]
async fn client_secret_basic_wrong_secret_is_invalid_client_401() {
    let env = Env::new().await;
    let code = env.code(&env.record(BASIC)).await;
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", CB),
    ]);
    let r = env
        .post("/oidc/token", Some((BASIC, "wrong-secret")), &body)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error(), "invalid_client");
    assert_eq!(r.header("www-authenticate"), Some(r#"Basic realm="usher""#));
    // The code was not consumed by a failed client authentication.
    let ok = env.redeem(BASIC, &code, &[]).await;
    assert_eq!(ok.status, StatusCode::OK);
}

#[actix_web::test]
async fn client_secret_post_ok() {
    let env = Env::new().await;
    let code = env.code(&env.record(POST)).await;
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", CB),
        ("client_id", POST),
        ("client_secret", SECRET),
    ]);
    let r = env.post("/oidc/token", None, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
}

/// OIDC Core §9: a client authenticates only with its registered method.
#[actix_web::test]
async fn auth_method_mismatch_is_invalid_client() {
    let env = Env::new().await;
    // The Basic client posting its secret in the body.
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", BASIC),
        ("client_secret", SECRET),
    ]);
    let r = env.post("/oidc/token", None, &body).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error(), "invalid_client");
    // The post client using Basic.
    let body = form(&[("grant_type", "client_credentials")]);
    let r = env.post("/oidc/token", Some((POST, SECRET)), &body).await;
    assert_eq!(r.error(), "invalid_client");
    // A confidential client pretending to be public.
    let body = form(&[("grant_type", "client_credentials"), ("client_id", BASIC)]);
    let r = env.post("/oidc/token", None, &body).await;
    assert_eq!(r.error(), "invalid_client");
}

#[actix_web::test]
async fn unknown_client_is_invalid_client_401() {
    let env = Env::new().await;
    let body = form(&[("grant_type", "client_credentials")]);
    let r = env
        .post("/oidc/token", Some(("nobody", SECRET)), &body)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error(), "invalid_client");
    assert!(r.header("www-authenticate").is_some());
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", "nobody"),
    ]);
    let r = env.post("/oidc/token", None, &body).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error(), "invalid_client");
}

/// RFC 6749 §2.3: one authentication method per request.
#[actix_web::test]
async fn two_authentication_methods_at_once_are_invalid_request() {
    let env = Env::new().await;
    let body = form(&[
        ("grant_type", "client_credentials"),
        ("client_secret", SECRET),
    ]);
    let r = env.post("/oidc/token", Some((BASIC, SECRET)), &body).await;
    assert_eq!(r.error(), "invalid_request");
}

// --- Request hygiene -------------------------------------------------------------

/// RFC 6749 §3.2: parameters must not be repeated.
#[actix_web::test]
async fn duplicated_form_parameters_are_invalid_request() {
    let env = Env::new().await;
    let code = env.code(&env.record(BASIC)).await;
    let body = format!(
        "{}&code=other",
        form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
        ])
    );
    let r = env.post("/oidc/token", Some((BASIC, SECRET)), &body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "invalid_request");
    // Nothing was consumed.
    assert_eq!(env.redeem(BASIC, &code, &[]).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn oversized_body_is_refused_with_413() {
    let env = Env::new().await;
    let body = format!("grant_type=client_credentials&pad={}", "a".repeat(20_000));
    let r = env.post("/oidc/token", Some((BASIC, SECRET)), &body).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.error(), "invalid_request");
}

#[actix_web::test]
async fn json_body_is_invalid_request() {
    let env = Env::new().await;
    let req = TestRequest::post()
        .uri("/oidc/token")
        .insert_header(("content-type", "application/json"))
        .insert_header(("authorization", basic(BASIC, SECRET)))
        .set_payload(r#"{"grant_type":"client_credentials"}"#);
    let r = env.send(req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "invalid_request");
}

#[actix_web::test]
async fn bad_percent_encoding_is_invalid_request() {
    let env = Env::new().await;
    let r = env
        .post("/oidc/token", Some((BASIC, SECRET)), "grant_type=%zz")
        .await;
    assert_eq!(r.error(), "invalid_request");
}

#[actix_web::test]
async fn unknown_grant_type_is_unsupported_grant_type() {
    let env = Env::new().await;
    let body = form(&[("grant_type", "password")]);
    let r = env.post("/oidc/token", Some((BASIC, SECRET)), &body).await;
    assert_eq!(r.error(), "unsupported_grant_type");
    let r = env.post("/oidc/token", Some((BASIC, SECRET)), "").await;
    assert_eq!(r.error(), "invalid_request");
}

#[actix_web::test]
async fn grant_not_registered_is_unauthorized_client() {
    let env = Env::new().await;
    let body = form(&[("grant_type", "client_credentials")]);
    let r = env
        .post("/oidc/token", Some((NO_REFRESH, SECRET)), &body)
        .await;
    assert_eq!(r.error(), "unauthorized_client");
}

#[actix_web::test]
async fn state_not_ready_is_503_temporarily_unavailable() {
    let env = Env::new().await;
    let empty: usher_oidc::StateData = actix_web::web::Data::new(std::sync::OnceLock::new());
    let app = actix_web::test::init_service(
        actix_web::App::new()
            .app_data(empty)
            .configure(usher_oidc::configure),
    )
    .await;
    let req = TestRequest::get()
        .uri("/.well-known/openid-configuration")
        .to_request();
    let res = actix_web::test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = actix_web::test::read_body_json(res).await;
    assert_eq!(body["error"], "temporarily_unavailable");
    drop(env);
}

// --- The id_token ------------------------------------------------------------------

/// OIDC Core §3.1.3.6 and §2: at_hash, nonce, auth_time, sid, amr, azp.
#[actix_web::test]
async fn id_token_carries_at_hash_nonce_auth_time_sid_amr() {
    use base64::Engine;
    let env = Env::new().await;
    let record = env.record(BASIC);
    let code = env.code(&record).await;
    let r = env.redeem(BASIC, &code, &[]).await;
    let (at, id) = (r.text("access_token"), r.text("id_token"));
    let c = claims(&id);
    assert_eq!(header(&id)["typ"], "JWT");
    assert_eq!(c["iss"], ISSUER);
    assert_eq!(c["aud"], BASIC);
    assert_eq!(c["azp"], BASIC);
    assert_eq!(c["sub"], env.user.id.to_string());
    assert_eq!(c["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(c["auth_time"], record.auth_time);
    assert_eq!(c["sid"], "sid-1");
    assert_eq!(c["amr"], serde_json::json!(["pwd"]));
    assert_eq!(c["email"], "alice@example.com");
    assert_eq!(c["preferred_username"], "alice");
    let digest =
        openssl::hash::hash(openssl::hash::MessageDigest::sha256(), at.as_bytes()).unwrap();
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]);
    assert_eq!(c["at_hash"], expected);
    // The access token (RFC 9068 §2.2).
    let a = claims(&at);
    assert_eq!(header(&at)["typ"], "at+jwt");
    for name in [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "jti",
        "client_id",
        "scope",
        "auth_time",
        "sid",
    ] {
        assert!(!a[name].is_null(), "access token claim {name}");
    }
}

/// EdDSA id_tokens hash with SHA-512 (what oidc-token-hash/openid-client expect).
#[actix_web::test]
async fn eddsa_id_token_at_hash_uses_sha512() {
    use base64::Engine;
    let env = Env::new().await;
    let r = env.tokens(ED).await;
    let (at, id) = (r.text("access_token"), r.text("id_token"));
    assert_eq!(header(&id)["alg"], "EdDSA");
    let digest =
        openssl::hash::hash(openssl::hash::MessageDigest::sha512(), at.as_bytes()).unwrap();
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..32]);
    assert_eq!(claims(&id)["at_hash"], expected);
}

/// OIDC Core §11: no offline_access, no refresh token; no refresh grant, none either.
#[actix_web::test]
async fn refresh_token_only_with_offline_access_and_the_grant() {
    let env = Env::new().await;
    let mut record = env.record(BASIC);
    record.scopes.retain(|s| s != "offline_access");
    let code = env.code(&record).await;
    let r = env.redeem(BASIC, &code, &[]).await;
    assert!(r.json["refresh_token"].is_null());
    let r = env.tokens(NO_REFRESH).await;
    assert!(r.json["refresh_token"].is_null());
    let r = env.tokens(BASIC).await;
    assert!(r.json["refresh_token"].is_string());
}

#[actix_web::test]
async fn get_on_the_token_endpoint_is_405() {
    let env = Env::new().await;
    let r = env.send(TestRequest::get().uri("/oidc/token")).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}
