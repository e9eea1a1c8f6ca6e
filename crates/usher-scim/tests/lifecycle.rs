//! Lifecycle: deactivation ends sessions, clients are scoped to what they
//! provisioned, concurrent member adds are all kept, deleting a group removes its
//! memberships.

use actix_web::http::StatusCode;
use serde_json::json;
use usher_core::UserId;
use usher_core::ports::Directory;

use crate::fixture::{TOKEN_A, TOKEN_B, env, patch, req, user};
use crate::{app, call};

#[actix_web::test]
async fn deactivation_and_delete_end_sso_sessions() {
    let env = env().await;
    let app = app!(env);
    for how in ["patch", "put", "delete"] {
        let u = call!(
            app,
            req(
                "POST",
                "/scim/v2/Users",
                TOKEN_A,
                Some(user(&format!("s-{how}")))
            )
        );
        let id = u.body["id"].as_str().expect("id").to_owned();
        let uid = UserId(id.parse().expect("uuid"));
        let (secret, _) = env
            .sessions
            .create(uid, vec!["pwd".into()], None)
            .await
            .expect("session");
        assert!(env.sessions.get(&secret).await.expect("get").is_some());
        let uri = format!("/scim/v2/Users/{id}");
        let r = match how {
            "patch" => call!(
                app,
                req(
                    "PATCH",
                    &uri,
                    TOKEN_A,
                    Some(patch(
                        json!([{"op": "replace", "path": "active", "value": false}])
                    ))
                )
            ),
            "put" => {
                let mut body = user(&format!("s-{how}"));
                body["active"] = json!(false);
                call!(app, req("PUT", &uri, TOKEN_A, Some(body)))
            }
            _ => call!(app, req("DELETE", &uri, TOKEN_A, None)),
        };
        assert!(r.status.is_success(), "{how}: {} {}", r.status, r.body);
        assert!(
            env.sessions.get(&secret).await.expect("get").is_none(),
            "{how} ends the session"
        );
    }
}

#[actix_web::test]
async fn clients_see_and_change_only_their_own() {
    let env = env().await;
    let app = app!(env);
    let u = call!(
        app,
        req("POST", "/scim/v2/Users", TOKEN_A, Some(user("mine")))
    );
    let id = u.body["id"].as_str().expect("id").to_owned();
    let uri = format!("/scim/v2/Users/{id}");
    assert_eq!(
        call!(app, req("GET", &uri, TOKEN_B, None)).status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call!(app, req("DELETE", &uri, TOKEN_B, None)).status,
        StatusCode::NOT_FOUND
    );
    let r = call!(
        app,
        req(
            "PATCH",
            &uri,
            TOKEN_B,
            Some(patch(
                json!([{"op": "replace", "path": "active", "value": false}])
            ))
        )
    );
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        call!(app, req("GET", "/scim/v2/Users", TOKEN_B, None)).body["totalResults"],
        0
    );
    // B cannot take A's user into its group, nor reuse the userName.
    let g = call!(
        app,
        req(
            "POST",
            "/scim/v2/Groups",
            TOKEN_B,
            Some(json!({
        "schemas": [usher_scim::GROUP], "displayName": "b-group", "members": [{"value": id}]}))
        )
    );
    assert_eq!(g.status, StatusCode::BAD_REQUEST);
    let dup = call!(
        app,
        req("POST", "/scim/v2/Users", TOKEN_B, Some(user("MINE")))
    );
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.scim_type(), Some("uniqueness"));
    assert_eq!(
        call!(app, req("GET", &uri, TOKEN_A, None)).body["active"],
        true
    );
}

#[actix_web::test]
async fn concurrent_member_adds_are_both_kept() {
    let env = env().await;
    let app = app!(env);
    let mut ids = Vec::new();
    for i in 0..6 {
        let u = call!(
            app,
            req(
                "POST",
                "/scim/v2/Users",
                TOKEN_A,
                Some(user(&format!("m{i}")))
            )
        );
        ids.push(u.body["id"].as_str().expect("id").to_owned());
    }
    let g = call!(
        app,
        req(
            "POST",
            "/scim/v2/Groups",
            TOKEN_A,
            Some(json!({"schemas": [usher_scim::GROUP], "displayName": "g"}))
        )
    );
    let gid = g.body["id"].as_str().expect("id").to_owned();
    let uri = format!("/scim/v2/Groups/{gid}");
    let futures = ids.iter().map(|id| {
        let r = req(
            "PATCH",
            &uri,
            TOKEN_A,
            Some(patch(
                json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
            )),
        );
        let app = &app;
        async move { call!(app, r) }
    });
    for r in futures_util::future::join_all(futures).await {
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let r = call!(app, req("GET", &uri, TOKEN_A, None));
    assert_eq!(
        r.body["members"].as_array().map(Vec::len),
        Some(ids.len()),
        "{}",
        r.body
    );
}

#[actix_web::test]
async fn deleting_a_group_removes_its_memberships() {
    let env = env().await;
    let app = app!(env);
    let u = call!(
        app,
        req("POST", "/scim/v2/Users", TOKEN_A, Some(user("member")))
    );
    let id = u.body["id"].as_str().expect("id").to_owned();
    let g = call!(
        app,
        req(
            "POST",
            "/scim/v2/Groups",
            TOKEN_A,
            Some(json!({
        "schemas": [usher_scim::GROUP], "displayName": "doomed", "members": [{"value": id}]}))
        )
    );
    let gid = g.body["id"].as_str().expect("id").to_owned();
    let r = call!(
        app,
        req("GET", &format!("/scim/v2/Users/{id}"), TOKEN_A, None)
    );
    assert_eq!(r.body["groups"][0]["value"], json!(gid));
    assert_eq!(
        call!(
            app,
            req("DELETE", &format!("/scim/v2/Groups/{gid}"), TOKEN_A, None)
        )
        .status,
        StatusCode::NO_CONTENT
    );
    let uid = UserId(id.parse().expect("uuid"));
    assert!(env.store.groups_of(uid).await.expect("groups").is_empty());
    let r = call!(
        app,
        req("GET", &format!("/scim/v2/Users/{id}"), TOKEN_A, None)
    );
    assert!(r.body.get("groups").is_none());
}
