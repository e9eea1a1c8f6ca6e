//! Attribute paths with multibyte characters where the parser looks at a fixed
//! number of bytes (the `urn:` prefix is 4): "é" at offset 3, "名前" and an emoji put
//! byte 4 inside a character. Slicing a `str` there panics, and a panic reachable
//! from `?filter=`, `?attributes=` or a PATCH path drops the connection of
//! whoever sends one. Each must be a clear SCIM answer over real HTTP.

use serde_json::json;

use crate::fixture::{TOKEN_A, env, patch, url_encode, user};
use crate::wire::{send, serve};

/// Attribute names whose byte 4 falls inside a character.
const PATHS: [&str; 4] = ["abcé", "名前", "a😀", "urné:x"];

/// Creates a user over the socket and returns its id.
async fn create_user(addr: std::net::SocketAddr, name: &str) -> String {
    let created = send(addr, "POST", "/scim/v2/Users", TOKEN_A, Some(user(name)))
        .await
        .expect("create");
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["id"].as_str().expect("id").to_owned()
}

#[actix_web::test]
async fn non_ascii_attribute_path_in_filter_is_a_400_not_a_panic() {
    let env = env().await;
    let server = serve(&env);
    for path in PATHS {
        let target = format!(
            "/scim/v2/Users?filter={}",
            url_encode(&format!("{path} pr"))
        );
        let r = send(server.addr, "GET", &target, TOKEN_A, None)
            .await
            .unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert_eq!(r.status, 400, "{path:?}: {}", r.body);
        assert_eq!(r.body["scimType"], "invalidFilter", "{path:?}");
    }
}

#[actix_web::test]
async fn non_ascii_attribute_path_in_attributes_is_ignored_not_a_panic() {
    let env = env().await;
    let server = serve(&env);
    let id = create_user(server.addr, "ana").await;
    for path in PATHS {
        // RFC 7644 §3.9: `attributes` only narrows what is returned; a name that
        // is no attribute selects nothing, as an unknown ASCII name does.
        for target in [
            format!("/scim/v2/Users?attributes={}", url_encode(path)),
            format!("/scim/v2/Users/{id}?attributes={}", url_encode(path)),
            format!(
                "/scim/v2/Users/{id}?excludedAttributes={}",
                url_encode(path)
            ),
        ] {
            let r = send(server.addr, "GET", &target, TOKEN_A, None)
                .await
                .unwrap_or_else(|e| panic!("{target}: {e}"));
            assert_eq!(r.status, 200, "{target}: {}", r.body);
        }
    }
}

#[actix_web::test]
async fn non_ascii_attribute_path_in_patch_is_a_400_not_a_panic() {
    let env = env().await;
    let server = serve(&env);
    let id = create_user(server.addr, "bo").await;
    let target = format!("/scim/v2/Users/{id}");
    for path in PATHS {
        for p in [
            path.to_owned(),
            format!("{path}[value pr]"),
            format!("emails[{path} pr]"),
        ] {
            let body = patch(json!([{"op": "replace", "path": p, "value": "x"}]));
            let r = send(server.addr, "PATCH", &target, TOKEN_A, Some(body))
                .await
                .unwrap_or_else(|e| panic!("{p:?}: {e}"));
            assert_eq!(r.status, 400, "{p:?}: {}", r.body);
            assert_eq!(r.body["scimType"], "invalidPath", "{p:?}");
        }
    }
    let r = send(server.addr, "GET", &target, TOKEN_A, None)
        .await
        .expect("read back");
    assert_eq!(r.body["userName"], "bo", "a refused PATCH changes nothing");
}
