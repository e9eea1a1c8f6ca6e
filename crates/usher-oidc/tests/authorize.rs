//! The authorization endpoint: what it refuses (and how: page or redirect), and
//! the sign-in, consent and code hand-offs.

use usher_core::ports::{Directory, KeyAlgorithm};
use usher_core::{ConsentDecision, UserUpdate};
use usher_oidc::grant::{self, Redemption};

use crate::fixture::*;
use crate::support::*;

// --- The client and its redirect_uri: an error page, never a redirect ---------

/// RFC 9700 §4.1.3: every variant of a registered redirect_uri is a different URI.
async fn assert_redirect_uri_refused(redirect_uri: &str) {
    let op = Op::new().await;
    let (cookie, _) = op.sign_in(&op.user).await;
    let reply = get(
        &op,
        &authorize_uri(TRUSTED, redirect_uri, &[]),
        Some(&cookie),
    )
    .await;
    reply.assert_error_page();
    assert!(
        !reply.body.contains(redirect_uri),
        "the page does not echo the URI"
    );
}

#[actix_web::test]
async fn redirect_uri_with_appended_path_gets_a_page() {
    assert_redirect_uri_refused("https://trusted.example/cb/evil").await;
}

#[actix_web::test]
async fn redirect_uri_on_another_port_gets_a_page() {
    assert_redirect_uri_refused("https://trusted.example:444/cb").await;
}

#[actix_web::test]
async fn redirect_uri_in_another_case_gets_a_page() {
    assert_redirect_uri_refused("https://TRUSTED.example/cb").await;
    assert_redirect_uri_refused("https://trusted.example/CB").await;
}

#[actix_web::test]
async fn redirect_uri_with_extra_query_gets_a_page() {
    assert_redirect_uri_refused("https://trusted.example/cb?next=https://evil.example").await;
}

#[actix_web::test]
async fn redirect_uri_with_path_traversal_gets_a_page() {
    assert_redirect_uri_refused("https://trusted.example/cb/..;/../evil").await;
}

#[actix_web::test]
async fn redirect_uri_with_userinfo_gets_a_page() {
    assert_redirect_uri_refused("https://trusted.example@evil.example/cb").await;
    assert_redirect_uri_refused("https://evil.example@trusted.example/cb").await;
}

#[actix_web::test]
async fn redirect_uri_with_fragment_gets_a_page() {
    assert_redirect_uri_refused("https://trusted.example/cb#frag").await;
}

#[actix_web::test]
async fn redirect_uri_with_trailing_slash_gets_a_page() {
    assert_redirect_uri_refused("https://trusted.example/cb/").await;
}

#[actix_web::test]
async fn unknown_client_gets_a_page() {
    let op = Op::new().await;
    get(&op, &authorize_uri("nobody", TRUSTED_CB, &[]), None)
        .await
        .assert_error_page();
    get(&op, &authorize_uri("", TRUSTED_CB, &[]), None)
        .await
        .assert_error_page();
}

#[actix_web::test]
async fn missing_redirect_uri_gets_a_page_when_several_are_registered() {
    let op = Op::new().await;
    get(&op, &authorize_uri(WEB, "", &[]), None)
        .await
        .assert_error_page();
}

#[actix_web::test]
async fn missing_redirect_uri_gets_a_page_even_when_one_is_registered() {
    // OIDC Core §3.1.2.1: redirect_uri is required in an OpenID request.
    let op = Op::new().await;
    get(&op, &authorize_uri(SPA, "", &[]), None)
        .await
        .assert_error_page();
}

#[actix_web::test]
async fn another_clients_redirect_uri_gets_a_page() {
    let op = Op::new().await;
    get(&op, &authorize_uri(TRUSTED, WEB_CB, &[]), None)
        .await
        .assert_error_page();
}

#[actix_web::test]
async fn duplicated_client_id_or_redirect_uri_gets_a_page() {
    let op = Op::new().await;
    let twice = format!(
        "{}&client_id={WEB}",
        authorize_uri(TRUSTED, TRUSTED_CB, &[])
    );
    get(&op, &twice, None).await.assert_error_page();
    let twice = format!(
        "{}&redirect_uri={}",
        authorize_uri(TRUSTED, TRUSTED_CB, &[]),
        enc(TRUSTED_CB)
    );
    get(&op, &twice, None).await.assert_error_page();
}

#[actix_web::test]
async fn oversized_query_gets_a_page() {
    let op = Op::new().await;
    let huge = "x".repeat(9000);
    let reply = get(
        &op,
        &authorize_uri(TRUSTED, TRUSTED_CB, &[("login_hint", &huge)]),
        None,
    )
    .await;
    reply.assert_error_page();
    assert_eq!(reply.status, 414);
}

#[actix_web::test]
async fn oversized_or_non_form_post_gets_a_page() {
    let op = Op::new().await;
    let huge = format!("login_hint={}", "x".repeat(9000));
    let reply = post_form(&op, "/oidc/authorize", &huge, None).await;
    reply.assert_error_page();
    assert_eq!(reply.status, 413);
    let req = actix_web::test::TestRequest::post()
        .uri("/oidc/authorize")
        .insert_header(("content-type", "application/json"))
        .set_payload(r#"{"client_id":"trusted"}"#);
    send(&op, req).await.assert_error_page();
}

// --- Errors for a trusted client: by redirect, with state and iss --------------

#[actix_web::test]
async fn response_type_token_is_unsupported_by_redirect() {
    let op = Op::new().await;
    for rt in ["token", "id_token", "code id_token", "code token"] {
        let reply = get(
            &op,
            &authorize_uri(TRUSTED, TRUSTED_CB, &[("response_type", rt)]),
            None,
        )
        .await;
        reply.assert_redirect_error(TRUSTED_CB, "unsupported_response_type");
        assert_eq!(reply.param("state").as_deref(), Some("st-123"));
    }
}

#[actix_web::test]
async fn missing_response_type_is_invalid_request() {
    let op = Op::new().await;
    get(
        &op,
        &authorize_uri(TRUSTED, TRUSTED_CB, &[("response_type", "")]),
        None,
    )
    .await
    .assert_redirect_error(TRUSTED_CB, "invalid_request");
}

#[actix_web::test]
async fn missing_openid_scope_is_invalid_scope() {
    let op = Op::new().await;
    get(
        &op,
        &authorize_uri(TRUSTED, TRUSTED_CB, &[("scope", "profile email")]),
        None,
    )
    .await
    .assert_redirect_error(TRUSTED_CB, "invalid_scope");
}

#[actix_web::test]
async fn pkce_plain_is_refused() {
    let op = Op::new().await;
    get(
        &op,
        &authorize_uri(TRUSTED, TRUSTED_CB, &[("code_challenge_method", "plain")]),
        None,
    )
    .await
    .assert_redirect_error(TRUSTED_CB, "invalid_request");
    // A challenge without a method means plain (RFC 7636 §4.3): refused too.
    get(
        &op,
        &authorize_uri(TRUSTED, TRUSTED_CB, &[("code_challenge_method", "")]),
        None,
    )
    .await
    .assert_redirect_error(TRUSTED_CB, "invalid_request");
}

#[actix_web::test]
async fn public_client_without_pkce_is_refused() {
    let op = Op::new().await;
    let uri = authorize_uri(
        SPA,
        SPA_CB,
        &[("code_challenge", ""), ("code_challenge_method", "")],
    );
    get(&op, &uri, None)
        .await
        .assert_redirect_error(SPA_CB, "invalid_request");
}

#[actix_web::test]
async fn malformed_code_challenge_is_refused() {
    let op = Op::new().await;
    for bad in [
        "short",
        &"a".repeat(129),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM/",
    ] {
        get(
            &op,
            &authorize_uri(TRUSTED, TRUSTED_CB, &[("code_challenge", bad)]),
            None,
        )
        .await
        .assert_redirect_error(TRUSTED_CB, "invalid_request");
    }
}

#[actix_web::test]
async fn duplicated_parameters_are_invalid_request() {
    let op = Op::new().await;
    let (cookie, _) = op.sign_in(&op.user).await;
    for dup in [
        "scope=openid",
        "response_type=code",
        "nonce=x",
        "code_challenge_method=S256",
        "prompt=none",
    ] {
        let uri = format!(
            "{}&{dup}&prompt=login",
            authorize_uri(TRUSTED, TRUSTED_CB, &[])
        );
        let uri = if dup == "prompt=none" {
            uri
        } else {
            uri.replace("&prompt=login", "")
        };
        get(&op, &uri, Some(&cookie))
            .await
            .assert_redirect_error(TRUSTED_CB, "invalid_request");
    }
}

#[actix_web::test]
async fn request_object_is_request_not_supported() {
    let op = Op::new().await;
    get(
        &op,
        &authorize_uri(
            TRUSTED,
            TRUSTED_CB,
            &[("request", "eyJhbGciOiJub25lIn0.e30.")],
        ),
        None,
    )
    .await
    .assert_redirect_error(TRUSTED_CB, "request_not_supported");
    get(
        &op,
        &authorize_uri(
            TRUSTED,
            TRUSTED_CB,
            &[("request_uri", "https://evil.example/r")],
        ),
        None,
    )
    .await
    .assert_redirect_error(TRUSTED_CB, "request_uri_not_supported");
}

#[actix_web::test]
async fn bad_prompt_and_max_age_are_invalid_request() {
    let op = Op::new().await;
    for extra in [
        ("prompt", "none login"),
        ("prompt", "bogus"),
        ("max_age", "-1"),
        ("max_age", "ten"),
        ("max_age", "+5"),
        ("response_mode", "fragment"),
        ("response_mode", "form_post"),
    ] {
        get(&op, &authorize_uri(TRUSTED, TRUSTED_CB, &[extra]), None)
            .await
            .assert_redirect_error(TRUSTED_CB, "invalid_request");
    }
}

#[actix_web::test]
async fn state_and_iss_are_echoed() {
    let op = Op::new().await;
    let odd_state = "a b&c=d/é";
    let reply = get(
        &op,
        &authorize_uri(
            TRUSTED,
            TRUSTED_CB,
            &[("state", odd_state), ("scope", "email")],
        ),
        None,
    )
    .await;
    reply.assert_redirect_error(TRUSTED_CB, "invalid_scope");
    assert_eq!(reply.param("state").as_deref(), Some(odd_state));
    // And on success.
    let (cookie, _) = op.sign_in(&op.user).await;
    let reply = get(
        &op,
        &authorize_uri(TRUSTED, TRUSTED_CB, &[("state", odd_state)]),
        Some(&cookie),
    )
    .await;
    assert_eq!(reply.status, 302, "{reply:?}");
    assert_eq!(reply.param("state").as_deref(), Some(odd_state));
    assert_eq!(reply.param("iss").as_deref(), Some(ISSUER));
    assert!(reply.param("code").is_some());
}

#[actix_web::test]
async fn registered_query_of_redirect_uri_is_kept() {
    let op = Op::new().await;
    let reply = get(&op, &authorize_uri(WEB, WEB_CB2, &[("scope", "")]), None).await;
    reply.assert_redirect_error("https://rp.example:8443/callback?x=1&", "invalid_scope");
    assert_eq!(reply.param("x").as_deref(), Some("1"));
}

// --- Sessions, prompt and max_age ----------------------------------------------

#[actix_web::test]
async fn prompt_none_without_session_is_login_required() {
    let op = Op::new().await;
    get(
        &op,
        &authorize_uri(TRUSTED, TRUSTED_CB, &[("prompt", "none")]),
        None,
    )
    .await
    .assert_redirect_error(TRUSTED_CB, "login_required");
    // A cookie naming no live session is no session.
    get(
        &op,
        &authorize_uri(TRUSTED, TRUSTED_CB, &[("prompt", "none")]),
        Some("forged"),
    )
    .await
    .assert_redirect_error(TRUSTED_CB, "login_required");
}

#[actix_web::test]
async fn prompt_none_with_session_but_no_consent_is_consent_required() {
    let op = Op::new().await;
    let (cookie, _) = op.sign_in(&op.user).await;
    get(
        &op,
        &authorize_uri(WEB, WEB_CB, &[("prompt", "none")]),
        Some(&cookie),
    )
    .await
    .assert_redirect_error(WEB_CB, "consent_required");
}

#[actix_web::test]
async fn no_session_goes_to_login_and_resumes_to_a_code() {
    let op = Op::new().await;
    let reply = get(
        &op,
        &authorize_uri(TRUSTED, TRUSTED_CB, &[("login_hint", "alice")]),
        None,
    )
    .await;
    let ticket = reply.assert_login();
    let login = op
        .interactions
        .login(&ticket)
        .await
        .expect("store")
        .expect("parked");
    assert!(!login.force_login);
    assert_eq!(login.login_hint.as_deref(), Some("alice"));
    assert_eq!(login.client_name.as_deref(), Some("The trusted app"));
    assert!(login.resume_url.starts_with("/oidc/authorize/resume?id="));
    // The user signs in; the page sends the browser back.
    let (cookie, session) = op.sign_in(&op.user).await;
    let reply = get(&op, &login.resume_url, Some(&cookie)).await;
    assert_eq!(reply.status, 302, "{reply:?}");
    assert!(
        reply
            .location
            .as_deref()
            .unwrap_or("")
            .starts_with(TRUSTED_CB)
    );
    assert_eq!(reply.param("state").as_deref(), Some("st-123"));
    let code = reply.param("code").expect("a code");
    let Redemption::Valid(redeemed) = grant::redeem_code(&op.state, &code).await.expect("store")
    else {
        panic!("the code is valid");
    };
    let record = redeemed.record;
    assert_eq!(record.client_id, TRUSTED);
    assert_eq!(record.redirect_uri, TRUSTED_CB);
    assert_eq!(record.user_id, op.user.id);
    assert_eq!(record.sid, session.sid);
    assert_eq!(record.nonce.as_deref(), Some("n-456"));
    assert_eq!(record.code_challenge.as_deref(), Some(CHALLENGE));
    assert_eq!(record.scopes, vec!["openid".to_string()]);
    assert_eq!(record.amr, vec!["pwd".to_string()]);
    // The client joined the session (for back-channel logout).
    let participants = op.sessions.participants(&session).await.expect("store");
    assert_eq!(
        participants,
        vec![usher_core::Participant::Oidc {
            client_id: TRUSTED.into()
        }]
    );
    // The resume URL was single use.
    get(&op, &login.resume_url, Some(&cookie))
        .await
        .assert_error_page();
}

#[actix_web::test]
async fn unknown_scopes_are_dropped() {
    let op = Op::new().await;
    let (cookie, _) = op.sign_in(&op.user).await;
    let reply = get(
        &op,
        &authorize_uri(
            TRUSTED,
            TRUSTED_CB,
            &[("scope", "openid admin email email phone:write")],
        ),
        Some(&cookie),
    )
    .await;
    let code = reply.param("code").expect("a code");
    let Redemption::Valid(r) = grant::redeem_code(&op.state, &code).await.expect("store") else {
        panic!("valid");
    };
    assert_eq!(
        r.record.scopes,
        vec!["openid".to_string(), "email".to_string()]
    );
}

#[actix_web::test]
async fn post_authorization_request_works() {
    let op = Op::new().await;
    let (cookie, _) = op.sign_in(&op.user).await;
    let uri = authorize_uri(TRUSTED, TRUSTED_CB, &[]);
    let body = uri.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let reply = post_form(&op, "/oidc/authorize", body, Some(&cookie)).await;
    assert_eq!(reply.status, 302, "{reply:?}");
    assert!(reply.param("code").is_some());
}

#[actix_web::test]
async fn prompt_login_forces_the_login_page_even_with_a_session() {
    let op = Op::new().await;
    let (cookie, _) = op.sign_in(&op.user).await;
    let reply = get(
        &op,
        &authorize_uri(TRUSTED, TRUSTED_CB, &[("prompt", "login")]),
        Some(&cookie),
    )
    .await;
    let ticket = reply.assert_login();
    let login = op
        .interactions
        .login(&ticket)
        .await
        .expect("store")
        .expect("parked");
    assert!(login.force_login, "the page must ask for the password");
    // Coming back with the same old session is not a re-authentication.
    let reply = get(&op, &login.resume_url, Some(&cookie)).await;
    let ticket = reply.assert_login();
    let login = op
        .interactions
        .login(&ticket)
        .await
        .expect("store")
        .expect("parked");
    // A fresh sign-in is.
    let (fresh, _) = op.sign_in(&op.user).await;
    let reply = get(&op, &login.resume_url, Some(&fresh)).await;
    assert_eq!(reply.status, 302, "{reply:?}");
    assert!(reply.param("code").is_some());
}

#[actix_web::test]
async fn max_age_zero_forces_login() {
    let op = Op::new().await;
    let (cookie, _) = op.sign_in(&op.user).await;
    let reply = get(
        &op,
        &authorize_uri(TRUSTED, TRUSTED_CB, &[("max_age", "0")]),
        Some(&cookie),
    )
    .await;
    let ticket = reply.assert_login();
    let login = op
        .interactions
        .login(&ticket)
        .await
        .expect("store")
        .expect("parked");
    assert!(login.force_login);
    // With prompt=none it is login_required instead.
    get(
        &op,
        &authorize_uri(TRUSTED, TRUSTED_CB, &[("max_age", "0"), ("prompt", "none")]),
        Some(&cookie),
    )
    .await
    .assert_redirect_error(TRUSTED_CB, "login_required");
    // A fresh sign-in satisfies it (no loop back to the login page).
    let (fresh, _) = op.sign_in(&op.user).await;
    let reply = get(&op, &login.resume_url, Some(&fresh)).await;
    assert!(reply.param("code").is_some(), "{reply:?}");
}

#[actix_web::test]
async fn max_age_within_the_session_age_needs_no_login() {
    let op = Op::new().await;
    let (cookie, _) = op.sign_in(&op.user).await;
    let reply = get(
        &op,
        &authorize_uri(TRUSTED, TRUSTED_CB, &[("max_age", "3600")]),
        Some(&cookie),
    )
    .await;
    assert!(reply.param("code").is_some(), "{reply:?}");
}

#[actix_web::test]
async fn inactive_user_is_access_denied() {
    let op = Op::new().await;
    let (cookie, _) = op.sign_in(&op.user).await;
    op.store
        .update_user(
            op.user.id,
            UserUpdate {
                active: Some(false),
                ..UserUpdate::default()
            },
        )
        .await
        .expect("deactivated");
    get(&op, &authorize_uri(TRUSTED, TRUSTED_CB, &[]), Some(&cookie))
        .await
        .assert_redirect_error(TRUSTED_CB, "access_denied");
}

// --- Consent ----------------------------------------------------------------------

pub(crate) async fn to_consent(
    op: &Op,
    cookie: &str,
    extra: &[(&str, &str)],
) -> (String, usher_core::ConsentRequest) {
    let reply = get(op, &authorize_uri(WEB, WEB_CB, extra), Some(cookie)).await;
    assert_eq!(reply.status, 303, "{reply:?}");
    let location = reply.location.clone().unwrap_or_default();
    assert!(location.starts_with("/consent?t="), "{location}");
    let ticket = reply.param("t").expect("ticket");
    let request = op
        .interactions
        .consent(&ticket)
        .await
        .expect("store")
        .expect("parked");
    (ticket, request)
}

#[actix_web::test]
async fn consent_approved_yields_a_code_and_is_remembered() {
    let op = Op::new().await;
    let (cookie, _) = op.sign_in(&op.user).await;
    let (ticket, request) =
        to_consent(&op, &cookie, &[("scope", "openid email offline_access")]).await;
    assert_eq!(request.client_id, WEB);
    assert_eq!(request.user_id, op.user.id);
    assert_eq!(request.scopes, vec!["openid", "email", "offline_access"]);
    op.interactions
        .decide(&ticket, &request, ConsentDecision::Approved)
        .await
        .expect("decided");
    let reply = get(&op, &request.resume_url, Some(&cookie)).await;
    assert!(reply.param("code").is_some(), "{reply:?}");
    // Asked again: no consent page, even with prompt=none.
    let reply = get(
        &op,
        &authorize_uri(
            WEB,
            WEB_CB,
            &[("scope", "openid email"), ("prompt", "none")],
        ),
        Some(&cookie),
    )
    .await;
    assert!(reply.param("code").is_some(), "{reply:?}");
    // prompt=consent asks anyway.
    to_consent(
        &op,
        &cookie,
        &[("scope", "openid email"), ("prompt", "consent")],
    )
    .await;
}

#[actix_web::test]
async fn consent_denied_is_access_denied() {
    let op = Op::new().await;
    let (cookie, _) = op.sign_in(&op.user).await;
    let (ticket, request) = to_consent(&op, &cookie, &[]).await;
    op.interactions
        .decide(&ticket, &request, ConsentDecision::Denied)
        .await
        .expect("decided");
    let reply = get(&op, &request.resume_url, Some(&cookie)).await;
    reply.assert_redirect_error(WEB_CB, "access_denied");
    assert_eq!(reply.param("state").as_deref(), Some("st-123"));
}

#[actix_web::test]
async fn skipping_the_consent_page_asks_again() {
    let op = Op::new().await;
    let (cookie, _) = op.sign_in(&op.user).await;
    let (_, request) = to_consent(&op, &cookie, &[]).await;
    // Straight to the resume URL without deciding: back to the consent page.
    let reply = get(&op, &request.resume_url, Some(&cookie)).await;
    assert_eq!(reply.status, 303, "{reply:?}");
    assert!(
        reply
            .location
            .unwrap_or_default()
            .starts_with("/consent?t=")
    );
}

#[actix_web::test]
async fn another_users_consent_does_not_count() {
    let op = Op::new().await;
    let (cookie, _) = op.sign_in(&op.user).await;
    let (ticket, request) = to_consent(&op, &cookie, &[]).await;
    op.interactions
        .decide(&ticket, &request, ConsentDecision::Approved)
        .await
        .expect("decided");
    // Mallory's session comes back with Alice's approved request.
    let mallory = op.other_user("mallory").await;
    let (theirs, _) = op.sign_in(&mallory).await;
    let reply = get(&op, &request.resume_url, Some(&theirs)).await;
    assert_eq!(reply.status, 303, "{reply:?}");
    assert!(
        reply
            .location
            .unwrap_or_default()
            .starts_with("/consent?t=")
    );
}

// --- id_token_hint -----------------------------------------------------------------

#[actix_web::test]
async fn id_token_hint_for_another_user_with_prompt_none_is_login_required() {
    let op = Op::new().await;
    let bob = op.other_user("bob").await;
    let (cookie, session) = op.sign_in(&op.user).await;
    let hint = mint_id_token(
        &op,
        &bob.id.to_string(),
        TRUSTED,
        &session.sid,
        600,
        KeyAlgorithm::RS256,
    )
    .await;
    get(
        &op,
        &authorize_uri(
            TRUSTED,
            TRUSTED_CB,
            &[("prompt", "none"), ("id_token_hint", &hint)],
        ),
        Some(&cookie),
    )
    .await
    .assert_redirect_error(TRUSTED_CB, "login_required");
    // Without prompt=none the user is asked to sign in (as whom the app meant).
    let reply = get(
        &op,
        &authorize_uri(TRUSTED, TRUSTED_CB, &[("id_token_hint", &hint)]),
        Some(&cookie),
    )
    .await;
    let ticket = reply.assert_login();
    let login = op
        .interactions
        .login(&ticket)
        .await
        .expect("store")
        .expect("parked");
    assert!(login.force_login);
}

#[actix_web::test]
async fn id_token_hint_from_the_token_endpoint_for_the_session_user_passes() {
    let op = Op::new().await;
    let (cookie, _) = op.sign_in(&op.user).await;
    let hint = id_token_from_token_endpoint(&op, &cookie).await;
    let reply = get(
        &op,
        &authorize_uri(
            TRUSTED,
            TRUSTED_CB,
            &[("prompt", "none"), ("id_token_hint", &hint)],
        ),
        Some(&cookie),
    )
    .await;
    assert!(reply.param("code").is_some(), "{reply:?}");
}

#[actix_web::test]
async fn expired_id_token_hint_is_still_a_hint() {
    let op = Op::new().await;
    let (cookie, session) = op.sign_in(&op.user).await;
    let hint = mint_id_token(
        &op,
        &op.user.id.to_string(),
        TRUSTED,
        &session.sid,
        -600,
        KeyAlgorithm::EdDSA,
    )
    .await;
    let reply = get(
        &op,
        &authorize_uri(
            TRUSTED,
            TRUSTED_CB,
            &[("prompt", "none"), ("id_token_hint", &hint)],
        ),
        Some(&cookie),
    )
    .await;
    assert!(reply.param("code").is_some(), "{reply:?}");
}

#[actix_web::test]
async fn id_token_hint_not_issued_here_is_invalid_request() {
    let op = Op::new().await;
    let (cookie, session) = op.sign_in(&op.user).await;
    let sub = op.user.id.to_string();
    // Signed by another OP (its own keys).
    let elsewhere = Op::new().await;
    let foreign = mint_id_token(
        &elsewhere,
        &sub,
        TRUSTED,
        &session.sid,
        600,
        KeyAlgorithm::RS256,
    )
    .await;
    // Ours, but tampered with.
    let ours = mint_id_token(&op, &sub, TRUSTED, &session.sid, 600, KeyAlgorithm::ES256).await;
    let mut parts: Vec<String> = ours.split('.').map(str::to_owned).collect();
    parts[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        serde_json::json!({"iss": ISSUER, "sub": "someone-else", "aud": TRUSTED}).to_string(),
    );
    let tampered = parts.join(".");
    // alg=none.
    let none = format!(
        "{}.{}.",
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            r#"{"alg":"none"}"#
        ),
        parts[1]
    );
    for hint in [
        foreign.as_str(),
        tampered.as_str(),
        none.as_str(),
        "not-a-jwt",
    ] {
        get(
            &op,
            &authorize_uri(
                TRUSTED,
                TRUSTED_CB,
                &[("prompt", "none"), ("id_token_hint", hint)],
            ),
            Some(&cookie),
        )
        .await
        .assert_redirect_error(TRUSTED_CB, "invalid_request");
    }
}

#[actix_web::test]
async fn logout_token_is_not_an_id_token_hint() {
    let op = Op::new().await;
    let (cookie, session) = op.sign_in(&op.user).await;
    let listener = usher_oidc::BackchannelLogout::new(op.state.clone());
    let client = op.state.client(TRUSTED).expect("registered").clone();
    let token = listener
        .logout_token(&client, &session)
        .await
        .expect("signed");
    get(
        &op,
        &authorize_uri(
            TRUSTED,
            TRUSTED_CB,
            &[("prompt", "none"), ("id_token_hint", &token)],
        ),
        Some(&cookie),
    )
    .await
    .assert_redirect_error(TRUSTED_CB, "invalid_request");
}

// --- Odds and ends -------------------------------------------------------------------

#[actix_web::test]
async fn client_without_the_code_grant_is_unauthorized_client() {
    let mut machine = client(
        "machine",
        &["https://machine.example/cb"],
        usher_oidc::AuthMethod::ClientSecretBasic,
        true,
    );
    machine.grant_types = vec![usher_oidc::GrantType::ClientCredentials];
    let op = Op::with(ISSUER, vec![machine]).await;
    get(
        &op,
        &authorize_uri("machine", "https://machine.example/cb", &[]),
        None,
    )
    .await
    .assert_redirect_error("https://machine.example/cb", "unauthorized_client");
}

#[actix_web::test]
async fn prompt_select_account_shows_the_sign_in_form() {
    let op = Op::new().await;
    let (cookie, _) = op.sign_in(&op.user).await;
    let reply = get(
        &op,
        &authorize_uri(TRUSTED, TRUSTED_CB, &[("prompt", "select_account")]),
        Some(&cookie),
    )
    .await;
    let ticket = reply.assert_login();
    let login = op
        .interactions
        .login(&ticket)
        .await
        .expect("store")
        .expect("parked");
    assert!(login.force_login);
}

#[actix_web::test]
async fn authorize_answers_503_until_the_state_is_set() {
    let data: actix_web::web::Data<std::sync::OnceLock<std::sync::Arc<usher_oidc::OidcState>>> =
        actix_web::web::Data::new(std::sync::OnceLock::new());
    let app = actix_web::test::init_service(
        actix_web::App::new()
            .app_data(data)
            .configure(usher_oidc::configure),
    )
    .await;
    let req = actix_web::test::TestRequest::get()
        .uri(&authorize_uri(TRUSTED, TRUSTED_CB, &[]))
        .to_request();
    let resp = actix_web::test::call_service(&app, req).await;
    assert_eq!(resp.status(), 503);
    let req = actix_web::test::TestRequest::get()
        .uri("/oidc/logout")
        .to_request();
    assert_eq!(actix_web::test::call_service(&app, req).await.status(), 503);
}
