//! client_credentials per signing algorithm, UserInfo, introspection, revocation,
//! discovery and the JWKS.

// Tests fail loudly on anything unexpected.
#![allow(clippy::unwrap_used)]

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::Value;

use crate::token_env::*;

async fn jwks(env: &Env) -> Value {
    let r = env.send(TestRequest::get().uri("/oidc/jwks")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    r.json
}

async fn client_credentials_verifies(client: &str, alg: &str) {
    let env = Env::new().await;
    let body = form(&[("grant_type", "client_credentials")]);
    let r = env.post("/oidc/token", Some((client, SECRET)), &body).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert!(r.json["id_token"].is_null() && r.json["refresh_token"].is_null());
    let at = r.text("access_token");
    assert_eq!(header(&at)["alg"], alg);
    assert_eq!(header(&at)["typ"], "at+jwt");
    assert_eq!(claims(&at)["sub"], client);
    assert_eq!(claims(&at)["client_id"], client);
    assert!(
        verify_with_jwks(&at, &jwks(&env).await),
        "{alg} signature verifies"
    );
    // Tampered payloads do not.
    let mut parts: Vec<&str> = at.split('.').collect();
    let forged = {
        use base64::Engine;
        let mut c = claims(&at);
        c["sub"] = "admin".into();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(c.to_string())
    };
    parts[1] = &forged;
    assert!(!verify_with_jwks(&parts.join("."), &jwks(&env).await));
    assert!(!env.active(&parts.join(".")).await);
}

#[actix_web::test]
async fn client_credentials_rs256() {
    client_credentials_verifies(BASIC, "RS256").await;
}

#[actix_web::test]
async fn client_credentials_es256() {
    client_credentials_verifies(ES, "ES256").await;
}

#[actix_web::test]
async fn client_credentials_eddsa() {
    client_credentials_verifies(ED, "EdDSA").await;
}

#[actix_web::test]
async fn client_credentials_with_user_scopes_is_invalid_scope() {
    let env = Env::new().await;
    let body = form(&[("grant_type", "client_credentials"), ("scope", "openid")]);
    let r = env.post("/oidc/token", Some((BASIC, SECRET)), &body).await;
    assert_eq!(r.error(), "invalid_scope");
}

// --- UserInfo (OIDC Core §5.3, RFC 6750) ---------------------------------------

#[actix_web::test]
async fn userinfo_with_bearer_header() {
    let env = Env::new().await;
    let at = env.tokens(BASIC).await.text("access_token");
    let req = TestRequest::get()
        .uri("/oidc/userinfo")
        .insert_header(("authorization", format!("Bearer {at}")));
    let r = env.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(r.json["sub"], env.user.id.to_string());
    assert_eq!(r.json["email"], "alice@example.com");
    assert_eq!(r.json["email_verified"], true);
    assert_eq!(r.json["preferred_username"], "alice");
    assert!(r.json["groups"].is_null(), "groups scope not granted");
}

#[actix_web::test]
async fn userinfo_with_form_body() {
    let env = Env::new().await;
    let at = env.tokens(BASIC).await.text("access_token");
    let r = env
        .post("/oidc/userinfo", None, &form(&[("access_token", &at)]))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(r.json["sub"], env.user.id.to_string());
}

/// RFC 6750 §2: one method per request.
#[actix_web::test]
async fn userinfo_with_header_and_body_is_400() {
    let env = Env::new().await;
    let at = env.tokens(BASIC).await.text("access_token");
    let req = TestRequest::post()
        .uri("/oidc/userinfo")
        .insert_header(("authorization", format!("Bearer {at}")))
        .insert_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(form(&[("access_token", &at)]));
    let r = env.send(req).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), "invalid_request");
}

#[actix_web::test]
async fn userinfo_query_string_token_is_not_accepted() {
    let env = Env::new().await;
    let at = env.tokens(BASIC).await.text("access_token");
    let req = TestRequest::get().uri(&format!("/oidc/userinfo?access_token={at}"));
    let r = env.send(req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
}

#[actix_web::test]
async fn userinfo_with_revoked_token_is_401_invalid_token() {
    let env = Env::new().await;
    let at = env.tokens(BASIC).await.text("access_token");
    let r = env
        .post(
            "/oidc/revoke",
            Some((BASIC, SECRET)),
            &form(&[("token", &at)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let req = TestRequest::get()
        .uri("/oidc/userinfo")
        .insert_header(("authorization", format!("Bearer {at}")));
    let r = env.send(req).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error(), "invalid_token");
    assert!(
        r.header("www-authenticate")
            .unwrap()
            .contains(r#"error="invalid_token""#)
    );
}

/// RFC 9068 §4: an id_token is not an access token.
#[actix_web::test]
async fn userinfo_with_id_token_is_401() {
    let env = Env::new().await;
    let id = env.tokens(BASIC).await.text("id_token");
    let req = TestRequest::get()
        .uri("/oidc/userinfo")
        .insert_header(("authorization", format!("Bearer {id}")));
    assert_eq!(env.send(req).await.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn userinfo_with_expired_token_is_401() {
    let env = Env::new().await;
    let at = env.tokens(BASIC).await.text("access_token");
    env.clock.advance(time::Duration::seconds(601));
    let req = TestRequest::get()
        .uri("/oidc/userinfo")
        .insert_header(("authorization", format!("Bearer {at}")));
    assert_eq!(env.send(req).await.error(), "invalid_token");
}

// --- Introspection (RFC 7662) and revocation (RFC 7009) -------------------------

#[actix_web::test]
async fn introspection_describes_access_and_refresh_tokens() {
    let env = Env::new().await;
    let t = env.tokens(BASIC).await;
    let r = env
        .post(
            "/oidc/introspect",
            Some((BASIC, SECRET)),
            &form(&[("token", &t.text("access_token"))]),
        )
        .await;
    assert_eq!(r.json["active"], true);
    assert_eq!(r.json["client_id"], BASIC);
    assert_eq!(r.json["sub"], env.user.id.to_string());
    assert_eq!(r.json["iss"], ISSUER);
    assert_eq!(r.json["token_type"], "Bearer");
    assert_eq!(r.json["scope"], "openid offline_access profile email");
    assert!(r.json["exp"].is_i64() && r.json["iat"].is_i64());
    assert_eq!(r.header("cache-control"), Some("no-store"));

    let rt = t.text("refresh_token");
    let r = env
        .post(
            "/oidc/introspect",
            Some((BASIC, SECRET)),
            &form(&[("token", &rt), ("token_type_hint", "refresh_token")]),
        )
        .await;
    assert_eq!(r.json["active"], true);
    assert_eq!(r.json["client_id"], BASIC);
    // Another client does not learn about it.
    assert!(!env.active_for(ES, &rt).await);
}

#[actix_web::test]
async fn introspection_of_garbage_is_inactive_and_needs_client_auth() {
    let env = Env::new().await;
    for token in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
        let r = env
            .post(
                "/oidc/introspect",
                Some((BASIC, SECRET)),
                &form(&[("token", token)]),
            )
            .await;
        assert_eq!(r.json, serde_json::json!({"active": false}));
    }
    let r = env
        .post("/oidc/introspect", None, &form(&[("token", "garbage")]))
        .await;
    assert_eq!(r.error(), "invalid_client");
    let r = env
        .post("/oidc/introspect", Some((BASIC, SECRET)), "")
        .await;
    assert_eq!(r.error(), "invalid_request");
}

#[actix_web::test]
async fn revoking_a_refresh_token_revokes_its_family() {
    let env = Env::new().await;
    let t = env.tokens(BASIC).await;
    let rt1 = t.text("refresh_token");
    let t2 = env.refresh(BASIC, &rt1, &[]).await;
    let (rt2, at2) = (t2.text("refresh_token"), t2.text("access_token"));
    let r = env
        .post(
            "/oidc/revoke",
            Some((BASIC, SECRET)),
            &form(&[("token", &rt2)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!env.active(&rt2).await);
    assert!(!env.active(&at2).await);
    assert_eq!(env.refresh(BASIC, &rt2, &[]).await.error(), "invalid_grant");
}

/// RFC 7009 §2.1-2.2: unknown tokens get 200; other clients' tokens get 200 and
/// stay valid.
#[actix_web::test]
async fn revoking_unknown_or_foreign_tokens_answers_200_and_changes_nothing() {
    let env = Env::new().await;
    let t = env.tokens(BASIC).await;
    let r = env
        .post(
            "/oidc/revoke",
            Some((ES, SECRET)),
            &form(&[("token", "unknown")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for token in [t.text("access_token"), t.text("refresh_token")] {
        let r = env
            .post(
                "/oidc/revoke",
                Some((ES, SECRET)),
                &form(&[("token", &token)]),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(env.active(&token).await, "another client cannot revoke it");
    }
}

#[actix_web::test]
async fn public_client_revokes_its_own_tokens() {
    let env = Env::new().await;
    let mut record = env.record(PUBLIC);
    record.code_challenge = Some(CHALLENGE.into());
    let code = env.code(&record).await;
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", CB),
        ("client_id", PUBLIC),
        ("code_verifier", VERIFIER),
    ]);
    let t = env.post("/oidc/token", None, &body).await;
    let rt = t.text("refresh_token");
    let r = env
        .post(
            "/oidc/revoke",
            None,
            &form(&[("token", &rt), ("client_id", PUBLIC)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!env.active(&rt).await);
}

// --- Discovery and keys ------------------------------------------------------------

#[actix_web::test]
async fn discovery_advertises_what_is_supported_and_never_none() {
    let env = Env::new().await;
    let r = env
        .send(TestRequest::get().uri("/.well-known/openid-configuration"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    let d = &r.json;
    assert_eq!(d["issuer"], ISSUER);
    assert_eq!(d["token_endpoint"], TOKEN_URL);
    assert_eq!(
        d["authorization_endpoint"],
        format!("{ISSUER}/oidc/authorize")
    );
    assert_eq!(d["jwks_uri"], format!("{ISSUER}/oidc/jwks"));
    assert_eq!(d["end_session_endpoint"], format!("{ISSUER}/oidc/logout"));
    assert_eq!(d["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        d["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "ES256", "EdDSA"])
    );
    // "none" appears only as the public-client authentication method.
    for (name, value) in d.as_object().unwrap() {
        if name.ends_with("alg_values_supported") {
            let text = value.to_string().to_ascii_lowercase();
            assert!(
                !text.contains("none") && !text.contains("hs"),
                "{name}: {text}"
            );
        }
    }
}

#[actix_web::test]
async fn jwks_publishes_every_algorithm_without_private_parts() {
    let env = Env::new().await;
    let set = jwks(&env).await;
    let keys = set["keys"].as_array().unwrap();
    let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert!(algs.contains(&alg), "{alg} published");
    }
    for k in keys {
        assert_eq!(k["use"], "sig");
        assert!(k["kid"].is_string());
        assert!(k["d"].is_null() && k["p"].is_null(), "no private members");
        if k["kty"] == "RSA" {
            assert!(k["x5c"][0].is_string(), "RSA keys carry their certificate");
        }
    }
}

/// A key rotated in the store reaches the cache within a minute.
#[actix_web::test]
async fn rotated_key_is_published_within_a_minute() {
    use std::sync::Arc;
    use usher_core::ports::Clock;
    let env = Env::new().await;
    let before = jwks(&env).await["keys"].as_array().unwrap().len();
    let clock: Arc<dyn Clock> = env.clock.clone();
    usher_store::KeyRing::new(env.state.deps.keys.clone(), clock, Default::default())
        .rotate(&[usher_core::ports::KeyAlgorithm::ES256])
        .await
        .unwrap();
    assert_eq!(
        jwks(&env).await["keys"].as_array().unwrap().len(),
        before,
        "cached"
    );
    env.clock.advance(time::Duration::seconds(61));
    assert_eq!(
        jwks(&env).await["keys"].as_array().unwrap().len(),
        before + 1
    );
    // New tokens are signed by the new ES256 key and still verify.
    let body = form(&[("grant_type", "client_credentials")]);
    let at = env
        .post("/oidc/token", Some((ES, SECRET)), &body)
        .await
        .text("access_token");
    assert!(verify_with_jwks(&at, &jwks(&env).await));
    assert!(env.active(&at).await);
}
