//! The request shapes Entra ID and Okta send, literally (from their provisioning
//! documentation and captured traffic), each accepted. Listed in docs/scim.md.

use actix_web::http::StatusCode;
use serde_json::{Value, json};

use crate::fixture::{TOKEN_A, env, req};
use crate::{app, call};

const ENTRA_USER: &str = r#"{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
              "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
  "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
  "active": true,
  "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b@testuser.com"}],
  "meta": {"resourceType": "User"},
  "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
  "roles": []
}"#;

fn body(s: &str) -> Value {
    serde_json::from_str(s).expect("fixture is JSON")
}

fn q(s: &str) -> String {
    s.replace(' ', "%20").replace('"', "%22")
}

#[actix_web::test]
async fn entra_lookup_create_and_update_user() {
    let env = env().await;
    let app = app!(env);
    // Entra looks the user up by userName, then externalId, before creating.
    let r = call!(
        app,
        req(
            "GET",
            &q(
                r#"/scim/v2/Users?filter=userName eq "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1""#
            ),
            TOKEN_A,
            None
        )
    );
    assert_eq!(r.body["totalResults"], 0);
    let created = call!(
        app,
        req("POST", "/scim/v2/Users", TOKEN_A, Some(body(ENTRA_USER)))
    );
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().expect("id").to_owned();
    let r = call!(
        app,
        req(
            "GET",
            &q(r#"/scim/v2/Users?filter=externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#),
            TOKEN_A,
            None
        )
    );
    assert_eq!(r.body["totalResults"], 1);
    let r = call!(
        app,
        req(
            "GET",
            &q(
                r#"/scim/v2/Users?filter=userName eq "test_user_AB6490ee-1e48-479e-a20b-2d77186b5dd1""#
            ),
            TOKEN_A,
            None
        )
    );
    assert_eq!(
        r.body["totalResults"], 1,
        "userName compares case-insensitively"
    );

    // Capitalized ops, value-path paths (creating the work address when there is
    // none), the manager as a bare id, and pathless replace with dotted and URN keys.
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "2819c223-7f76-453a-919d-413861904646"},
        {"op": "Replace", "value": {
            "displayName": "Updated Name",
            "name.givenName": "Updated",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales"}}
    ]});
    let r = call!(
        app,
        req(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            TOKEN_A,
            Some(patch)
        )
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["emails"],
        json!([{"value": "updatedEmail@microsoft.com", "type": "work", "primary": true}])
    );
    assert_eq!(r.body["name"]["familyName"], "updatedFamilyName");
    assert_eq!(r.body["name"]["givenName"], "Updated");
    assert_eq!(
        r.body["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 555 0100"}])
    );
    let ent = &r.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
    assert_eq!(
        ent["manager"]["value"],
        "2819c223-7f76-453a-919d-413861904646"
    );
    assert_eq!(ent["department"], "Sales");

    // Disable with a string boolean: a deactivation, not a delete.
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Replace", "path": "active", "value": "False"}]});
    let r = call!(
        app,
        req(
            "PATCH",
            &format!("/scim/v2/Users/{id}"),
            TOKEN_A,
            Some(patch)
        )
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], false);
    let r = call!(
        app,
        req("GET", &format!("/scim/v2/Users/{id}"), TOKEN_A, None)
    );
    assert_eq!(r.status, StatusCode::OK, "the user still exists");
}

#[actix_web::test]
async fn entra_group_create_members_and_removal_with_value_array() {
    let env = env().await;
    let app = app!(env);
    let u = call!(
        app,
        req("POST", "/scim/v2/Users", TOKEN_A, Some(body(ENTRA_USER)))
    );
    let uid = u.body["id"].as_str().expect("id").to_owned();
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
        "meta": {"resourceType": "Group"}
    });
    let g = call!(app, req("POST", "/scim/v2/Groups", TOKEN_A, Some(group)));
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.body);
    let gid = g.body["id"].as_str().expect("id").to_owned();
    let r = call!(
        app,
        req(
            "GET",
            &q(r#"/scim/v2/Groups?excludedAttributes=members&filter=displayName eq "displayName""#),
            TOKEN_A,
            None
        )
    );
    assert_eq!(r.body["totalResults"], 1);
    assert!(r.body["Resources"][0].get("members").is_none());
    let add = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Add", "path": "members", "value": [{"$ref": null, "value": uid}]}]});
    let r = call!(
        app,
        req(
            "PATCH",
            &format!("/scim/v2/Groups/{gid}"),
            TOKEN_A,
            Some(add)
        )
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["members"][0]["value"], json!(uid));
    let remove = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Remove", "path": "members", "value": [{"$ref": null, "value": uid}]}]});
    let r = call!(
        app,
        req(
            "PATCH",
            &format!("/scim/v2/Groups/{gid}"),
            TOKEN_A,
            Some(remove)
        )
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.get("members").is_none(), "{}", r.body);
}

#[actix_web::test]
async fn okta_create_deactivate_and_group_shapes() {
    let env = env().await;
    let app = app!(env);
    let r = call!(
        app,
        req(
            "GET",
            &q(
                r#"/scim/v2/Users?filter=userName eq "isaac.brock@example.com"&startIndex=1&count=100"#
            ),
            TOKEN_A,
            None
        )
    );
    assert_eq!(r.body["totalResults"], 0);
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "isaac.brock@example.com",
        "name": {"givenName": "Isaac", "familyName": "Brock"},
        "emails": [{"primary": true, "value": "isaac.brock@example.com", "type": "work"}],
        "displayName": "Isaac Brock",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    });
    let u = call!(app, req("POST", "/scim/v2/Users", TOKEN_A, Some(user)));
    assert_eq!(u.status, StatusCode::CREATED, "{}", u.body);
    assert!(u.body.get("password").is_none());
    let uid = u.body["id"].as_str().expect("id").to_owned();
    // Okta deactivates with a pathless replace.
    let deactivate = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "replace", "value": {"active": false}}]});
    let r = call!(
        app,
        req(
            "PATCH",
            &format!("/scim/v2/Users/{uid}"),
            TOKEN_A,
            Some(deactivate)
        )
    );
    assert_eq!(r.body["active"], false, "{}", r.body);
    // Okta's PUT sends the whole user back, id, meta and groups included.
    let mut put = r.body.clone();
    put["active"] = json!(true);
    put["displayName"] = json!("Isaac B.");
    let r = call!(
        app,
        req("PUT", &format!("/scim/v2/Users/{uid}"), TOKEN_A, Some(put))
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["active"], true);

    let g = call!(
        app,
        req(
            "POST",
            "/scim/v2/Groups",
            TOKEN_A,
            Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Test SCIMv2", "members": []}))
        )
    );
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.body);
    let gid = g.body["id"].as_str().expect("id").to_owned();
    let ops = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "replace", "value": {"id": gid, "displayName": "Test SCIMv2 renamed"}},
        {"op": "add", "path": "members", "value": [{"value": uid, "display": "isaac.brock@example.com"}]}]});
    let r = call!(
        app,
        req(
            "PATCH",
            &format!("/scim/v2/Groups/{gid}"),
            TOKEN_A,
            Some(ops)
        )
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["displayName"], "Test SCIMv2 renamed");
    let ops = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]});
    let r = call!(
        app,
        req(
            "PATCH",
            &format!("/scim/v2/Groups/{gid}"),
            TOKEN_A,
            Some(ops)
        )
    );
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.get("members").is_none());
}
