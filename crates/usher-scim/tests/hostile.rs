//! Hostile and malformed input: one test per attack class, each answered with a
//! SCIM error (never a 500) and changing nothing.

use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use serde_json::json;

use crate::fixture::{TOKEN_A, env, patch, req, url_encode, user};
use crate::{app, call};

const USERS: &str = "/scim/v2/Users";

fn filter_uri(filter: &str) -> String {
    let q: String = url_encode(filter);
    format!("{USERS}?filter={q}")
}

#[actix_web::test]
async fn filter_quote_breakout_is_data() {
    let env = env().await;
    let app = app!(env);
    call!(app, req("POST", USERS, TOKEN_A, Some(user("alice"))));
    for f in [
        r#"userName eq "x" or "1" eq "1""#,
        r#"userName eq "alice\" or userName pr or userName eq \"""#,
        r#"userName eq "x') OR 1=1 --""#,
        r#"userName co "%""#,
    ] {
        let r = call!(app, req("GET", &filter_uri(f), TOKEN_A, None));
        assert!(
            r.status == StatusCode::OK && r.body["totalResults"] == 0
                || r.status == StatusCode::BAD_REQUEST,
            "{f}: {} {}",
            r.status,
            r.body
        );
        if r.status == StatusCode::BAD_REQUEST {
            assert_eq!(r.scim_type(), Some("invalidFilter"), "{f}");
        }
    }
}

#[actix_web::test]
async fn filter_unknown_attribute_is_invalid_filter() {
    let env = env().await;
    let app = app!(env);
    let r = call!(
        app,
        req("GET", &filter_uri(r#"shoeSize eq "42""#), TOKEN_A, None)
    );
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.scim_type(), Some("invalidFilter"));
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("shoeSize")
    );
}

#[actix_web::test]
async fn filter_on_password_is_refused() {
    let env = env().await;
    let app = app!(env);
    let r = call!(app, req("GET", &filter_uri("password pr"), TOKEN_A, None));
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.scim_type(), Some("sensitive"));
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "password pr"});
    let r = call!(
        app,
        req("POST", "/scim/v2/Users/.search", TOKEN_A, Some(body))
    );
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.scim_type(), Some("invalidFilter"));
}

#[actix_web::test]
async fn filter_nested_100_deep_is_refused_quickly() {
    let env = env().await;
    let app = app!(env);
    let f = format!("{}userName pr{}", "(".repeat(100), ")".repeat(100));
    let started = Instant::now();
    let r = call!(app, req("GET", &filter_uri(&f), TOKEN_A, None));
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.scim_type(), Some("invalidFilter"));
    assert!(started.elapsed() < Duration::from_secs(1));
    let f = format!("{}userName pr{}", "not (".repeat(100), ")".repeat(100));
    let r = call!(app, req("GET", &filter_uri(&f), TOKEN_A, None));
    assert_eq!(r.scim_type(), Some("invalidFilter"));
}

#[actix_web::test]
async fn filter_with_10000_ors_is_refused_quickly() {
    let env = env().await;
    let app = app!(env);
    let f = vec![r#"userName eq "x""#; 10_000].join(" or ");
    let started = Instant::now();
    let body =
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": f});
    let r = call!(
        app,
        req("POST", "/scim/v2/Users/.search", TOKEN_A, Some(body))
    );
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.scim_type(), Some("invalidFilter"));
    // Short enough for a query string, still too many terms.
    let f = vec![r#"a eq "x""#; 100].join(" or ");
    let r = call!(app, req("GET", &filter_uri(&f), TOKEN_A, None));
    assert_eq!(r.scim_type(), Some("invalidFilter"));
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[actix_web::test]
async fn pagination_abuse_is_capped_or_refused() {
    let env = env().await;
    let app = app!(env);
    call!(app, req("POST", USERS, TOKEN_A, Some(user("alice"))));
    let r = call!(
        app,
        req("GET", &format!("{USERS}?count=1000000000"), TOKEN_A, None)
    );
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["itemsPerPage"].as_u64().unwrap_or(99) <= 50);
    // RFC 7644 §3.4.2.4: negative count is 0, startIndex below 1 is 1.
    let r = call!(
        app,
        req(
            "GET",
            &format!("{USERS}?count=-5&startIndex=-3"),
            TOKEN_A,
            None
        )
    );
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["itemsPerPage"], 0);
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.body["startIndex"], 1);
    for bad in [
        "count=abc",
        "startIndex=1e99",
        "count=99999999999999999999999",
    ] {
        let r = call!(app, req("GET", &format!("{USERS}?{bad}"), TOKEN_A, None));
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(r.scim_type(), Some("invalidValue"), "{bad}");
    }
    let r = call!(
        app,
        req(
            "GET",
            &format!("{USERS}?startIndex=9223372036854775807"),
            TOKEN_A,
            None
        )
    );
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["Resources"], json!([]));
}

#[actix_web::test]
async fn oversized_body_is_413() {
    let env = env().await;
    let app = app!(env);
    let mut u = user("big");
    u["displayName"] = json!("x".repeat(300 * 1024));
    let r = call!(app, req("POST", USERS, TOKEN_A, Some(u)));
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    let r = call!(
        app,
        req("GET", &filter_uri(r#"userName eq "big""#), TOKEN_A, None)
    );
    assert_eq!(r.body["totalResults"], 0);
}

#[actix_web::test]
async fn oversized_bulk_is_413() {
    let env = env().await;
    let app = app!(env);
    let ops: Vec<_> = (0..11)
        .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("b{i}"), "data": user(&format!("u{i}"))}))
        .collect();
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops});
    let r = call!(app, req("POST", "/scim/v2/Bulk", TOKEN_A, Some(body)));
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.scim_type(), Some("tooMany"));
    let r = call!(app, req("GET", USERS, TOKEN_A, None));
    assert_eq!(
        r.body["totalResults"], 0,
        "nothing of a refused bulk is written"
    );
}

#[actix_web::test]
async fn bulk_resolves_bulk_ids() {
    let env = env().await;
    let app = app!(env);
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user("bulky")},
        {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": {
            "schemas": [usher_scim::GROUP], "displayName": "bulk-group",
            "members": [{"value": "bulkId:u1"}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "g2", "data": {
            "schemas": [usher_scim::GROUP], "displayName": "bad", "members": [{"value": "bulkId:nope"}]}},
    ]});
    let r = call!(app, req("POST", "/scim/v2/Bulk", TOKEN_A, Some(body)));
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let ops = r.body["Operations"].as_array().expect("ops").clone();
    assert_eq!(ops[0]["status"], "201");
    assert_eq!(ops[1]["status"], "201");
    assert_eq!(ops[2]["status"], "400");
    let location = ops[1]["location"].as_str().expect("location");
    let id = location.rsplit('/').next().expect("id");
    let g = call!(
        app,
        req("GET", &format!("/scim/v2/Groups/{id}"), TOKEN_A, None)
    );
    assert_eq!(g.body["members"].as_array().map(Vec::len), Some(1));
}

#[actix_web::test]
async fn malformed_bodies_name_the_attribute() {
    let env = env().await;
    let app = app!(env);
    let cases = [
        (
            json!({"schemas": [usher_scim::USER], "userName": "a", "shoeSize": 42}),
            "invalidSyntax",
            "shoeSize",
        ),
        (
            json!({"schemas": ["urn:nope"], "userName": "a"}),
            "invalidSyntax",
            "schemas must list",
        ),
        (json!({"userName": "a"}), "invalidSyntax", "schemas"),
        (
            json!({"schemas": [usher_scim::USER], "userName": 7}),
            "invalidValue",
            "userName",
        ),
        (
            json!({"schemas": [usher_scim::USER], "userName": "a", "active": "maybe"}),
            "invalidValue",
            "active",
        ),
        (
            json!({"schemas": [usher_scim::USER], "userName": "a", "emails": [{"value": "a@x.test", "kind": "x"}]}),
            "invalidSyntax",
            "emails[0].kind",
        ),
        (
            json!({"schemas": [usher_scim::USER]}),
            "invalidValue",
            "userName",
        ),
    ];
    for (body, scim_type, names) in cases {
        let r = call!(app, req("POST", USERS, TOKEN_A, Some(body.clone())));
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.body);
        assert_eq!(r.scim_type(), Some(scim_type), "{body}");
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains(names),
            "{body}: {}",
            r.body
        );
    }
    let r = call!(
        app,
        req("POST", USERS, TOKEN_A, None).set_payload("{not json")
    );
    assert_eq!(r.scim_type(), Some("invalidSyntax"));
    let r = call!(app, req("GET", USERS, TOKEN_A, None));
    assert_eq!(r.body["totalResults"], 0, "no partial writes");
}

#[actix_web::test]
async fn patch_edge_cases() {
    let env = env().await;
    let app = app!(env);
    let created = call!(app, req("POST", USERS, TOKEN_A, Some(user("pat"))));
    let id = created.body["id"].as_str().expect("id").to_owned();
    let uri = format!("{USERS}/{id}");
    // remove without path: noTarget (RFC 7644 §3.5.2.2).
    let r = call!(
        app,
        req(
            "PATCH",
            &uri,
            TOKEN_A,
            Some(patch(json!([{"op": "remove"}])))
        )
    );
    assert_eq!(r.scim_type(), Some("noTarget"));
    // replace through a filter that matches nothing: noTarget.
    let r = call!(
        app,
        req(
            "PATCH",
            &uri,
            TOKEN_A,
            Some(patch(json!([
        {"op": "replace", "path": "emails[value eq \"nobody@x.test\"].primary", "value": true}])))
        )
    );
    assert_eq!(r.scim_type(), Some("noTarget"));
    // remove through a filter that matches nothing: nothing to do, 200.
    let r = call!(
        app,
        req(
            "PATCH",
            &uri,
            TOKEN_A,
            Some(patch(json!([
        {"op": "remove", "path": "emails[value eq \"nobody@x.test\"]"}])))
        )
    );
    assert_eq!(r.status, StatusCode::OK);
    // id, meta, groups: mutability.
    for path in ["id", "meta.created", "groups"] {
        let r = call!(
            app,
            req(
                "PATCH",
                &uri,
                TOKEN_A,
                Some(patch(
                    json!([{"op": "replace", "path": path, "value": "x"}])
                ))
            )
        );
        assert_eq!(r.scim_type(), Some("mutability"), "{path}");
    }
    // Bad paths.
    for path in ["emails[type eq", "nosuch", "name.nosuch", "emails.value"] {
        let r = call!(
            app,
            req(
                "PATCH",
                &uri,
                TOKEN_A,
                Some(patch(
                    json!([{"op": "replace", "path": path, "value": "x"}])
                ))
            )
        );
        assert_eq!(r.scim_type(), Some("invalidPath"), "{path}: {}", r.body);
    }
    // A failing operation undoes the ones before it.
    let r = call!(
        app,
        req(
            "PATCH",
            &uri,
            TOKEN_A,
            Some(patch(json!([
        {"op": "replace", "path": "displayName", "value": "Changed"},
        {"op": "replace", "path": "id", "value": "x"}])))
        )
    );
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let after = call!(app, req("GET", &uri, TOKEN_A, None));
    assert_eq!(after.body["displayName"], json!(null));
    assert_eq!(after.etag, created.etag, "nothing was written");
}

#[actix_web::test]
async fn stale_if_match_is_412() {
    let env = env().await;
    let app = app!(env);
    let created = call!(app, req("POST", USERS, TOKEN_A, Some(user("etag"))));
    let id = created.body["id"].as_str().expect("id").to_owned();
    let uri = format!("{USERS}/{id}");
    let etag = created.etag.clone().expect("etag");
    assert_eq!(created.body["meta"]["version"], json!(etag));
    let ok = call!(
        app,
        req(
            "PATCH",
            &uri,
            TOKEN_A,
            Some(patch(
                json!([{"op": "replace", "path": "title", "value": "CTO"}])
            ))
        )
        .insert_header(("If-Match", etag.as_str()))
    );
    assert_eq!(ok.status, StatusCode::OK);
    assert_ne!(ok.etag, created.etag);
    let stale = call!(
        app,
        req(
            "PATCH",
            &uri,
            TOKEN_A,
            Some(patch(
                json!([{"op": "replace", "path": "title", "value": "CEO"}])
            ))
        )
        .insert_header(("If-Match", etag.as_str()))
    );
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let stale = call!(
        app,
        req("DELETE", &uri, TOKEN_A, None).insert_header(("If-Match", etag.as_str()))
    );
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let now = call!(app, req("GET", &uri, TOKEN_A, None));
    assert_eq!(now.body["title"], "CTO");
    let current = now.etag.clone().expect("etag");
    let not_modified = call!(
        app,
        req("GET", &uri, TOKEN_A, None).insert_header(("If-None-Match", current.as_str()))
    );
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
}

#[actix_web::test]
async fn unknown_ids_and_paths_are_404() {
    let env = env().await;
    let app = app!(env);
    for uri in [
        "/scim/v2/Users/not-a-uuid",
        "/scim/v2/Users/0190f2a4-0000-7000-8000-000000000000",
        "/scim/v2/Groups/x",
        "/scim/v2/Nope",
    ] {
        let r = call!(app, req("GET", uri, TOKEN_A, None));
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(
            r.body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
    }
}

#[actix_web::test]
async fn missing_or_wrong_tokens_are_401() {
    let env = env().await;
    let app = app!(env);
    let r = call!(app, req("GET", USERS, "wrong-token", None));
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = call!(app, actix_web::test::TestRequest::get().uri(USERS));
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = call!(
        app,
        actix_web::test::TestRequest::get()
            .uri(USERS)
            .insert_header(("Authorization", "Basic YTpi"))
    );
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}
